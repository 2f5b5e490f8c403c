package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one `kete bench` invocation measured, in the shape --json writes.
type report struct {
	Title   string    `json:"title"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Host    hostInfo  `json:"host"`
	// Fanout and Destination hold every run in the order they ran.
	Fanout      []*result     `json:"fanout,omitempty"`
	Destination []*destResult `json:"destination,omitempty"`
	// Ratios compare the subject (kete) with the baseline (bare gws) per figure, over
	// the mean of their rounds.
	Ratios []ratio `json:"ratios,omitempty"`
	// Pair, when set, names the two fan-out targets Ratios compare (a cluster and one
	// node, say) instead of the server and the hub.
	Pair *pair `json:"pair,omitempty"`
	// Notes say how the figures were taken (which broker each side used, which
	// processes the CPU seconds cover); the table prints them first.
	Notes []string `json:"notes,omitempty"`
}

// pair names the subject and the baseline target of a fan-out comparison.
type pair struct {
	Subject  string `json:"subject"`
	Baseline string `json:"baseline"`
}

// ratioHeader is what the ratio table divides: "kete ÷ bare gws", or the Pair's names.
func (r *report) ratioHeader() string {
	if r.Pair != nil {
		return r.Pair.Subject + " ÷ " + r.Pair.Baseline
	}
	return "kete ÷ bare gws"
}

// hostInfo says where a report was measured.
type hostInfo struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUModel  string `json:"cpuModel,omitempty"`
}

// newReport starts a report for command.
func newReport(title, command string) *report {
	return &report{Title: title, Command: command, Started: time.Now().UTC(), Host: readHostInfo()}
}

func readHostInfo() hostInfo {
	h := hostInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				h.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return h
}

// ratio is one figure of the subject divided by the same figure of the baseline.
type ratio struct {
	Figure   string  `json:"figure"`
	Unit     string  `json:"unit"`
	Subject  float64 `json:"subject"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	// Better is "higher" or "lower": which way the ratio should go.
	Better string `json:"better"`
}

// figure is one column of the comparison.
type figure struct {
	name, unit, better string
	get                func(*result) (float64, bool)
}

var fanoutFigures = []figure{
	{"deliveries/s", "1/s", "higher", func(r *result) (float64, bool) { return r.DeliveriesPerSec, r.Mode != modeIdle }},
	{"deliveries per server CPU-second", "1/CPU-s", "higher", func(r *result) (float64, bool) { return r.DeliveriesPerCPU, r.DeliveriesPerCPU > 0 }},
	{"server CPU seconds", "s", "lower", func(r *result) (float64, bool) { return r.ServerCPU.Seconds(), r.ServerCPU > 0 }},
	{"server user CPU seconds", "s", "lower", func(r *result) (float64, bool) {
		return (r.ServerCPU - r.ServerSystemCPU).Seconds(), r.ServerCPU > 0
	}},
	{"broker CPU seconds", "s", "lower", func(r *result) (float64, bool) { return r.BrokerCPU.Seconds(), r.BrokerCPU > 0 }},
	{"p50 latency", "ms", "lower", func(r *result) (float64, bool) { return ms(r.Latency.P50), r.Latency.Count > 0 }},
	{"p99 latency", "ms", "lower", func(r *result) (float64, bool) { return ms(r.Latency.P99), r.Latency.Count > 0 }},
	{"p99.9 latency", "ms", "lower", func(r *result) (float64, bool) { return ms(r.Latency.P999), r.Latency.Count > 0 }},
	{"max latency", "ms", "lower", func(r *result) (float64, bool) { return ms(r.Latency.Max), r.Latency.Count > 0 }},
	{"loss", "deliveries", "lower", func(r *result) (float64, bool) { return float64(r.Loss), r.Mode != modeIdle }},
	{"RSS per connection", "KiB", "lower", func(r *result) (float64, bool) { return r.RSSPerConn / 1024, r.RSSPerConn != 0 }},
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// compare fills r.Ratios from the fan-out runs (server over hub, or r.Pair's subject over
// its baseline) and the destination runs (kete over bare).
func (r *report) compare() {
	r.Ratios = nil
	subject := func(x *result) bool { return x.Target.Kind == kindServer }
	baseline := func(x *result) bool { return x.Target.Kind == kindHub }
	if p := r.Pair; p != nil {
		subject = func(x *result) bool { return x.Target.Name == p.Subject }
		baseline = func(x *result) bool { return x.Target.Name == p.Baseline }
	}
	for _, f := range fanoutFigures {
		s, sok := meanOf(r.Fanout, subject, f.get)
		b, bok := meanOf(r.Fanout, baseline, f.get)
		if sok && bok {
			r.Ratios = append(r.Ratios, newRatio("fan-out "+f.name, f.unit, f.better, s, b))
		}
	}
	for _, f := range destFigures {
		s, sok := meanDest(r.Destination, false, f.get)
		b, bok := meanDest(r.Destination, true, f.get)
		if sok && bok {
			r.Ratios = append(r.Ratios, newRatio("destination "+f.name, f.unit, f.better, s, b))
		}
	}
}

func newRatio(name, unit, better string, s, b float64) ratio {
	x := ratio{Figure: name, Unit: unit, Better: better, Subject: s, Baseline: b}
	if b != 0 {
		x.Ratio = s / b
	}
	return x
}

func meanOf(rs []*result, side func(*result) bool, get func(*result) (float64, bool)) (float64, bool) {
	sum, n := 0.0, 0
	for _, r := range rs {
		if !side(r) {
			continue
		}
		if v, ok := get(r); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// writeJSON writes the report as indented JSON.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable writes the runs and ratios as aligned text for a terminal.
func (r *report) writeTable(w io.Writer) error {
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(r.Fanout) > 0 {
		broker := false
		for _, x := range r.Fanout {
			broker = broker || x.BrokerCPU > 0
		}
		head := "target\tround\tmode\tsubs\tsent\tdelivered\tloss\tdeliv/s\tp50\tp99\tp99.9\tmax\tsrv CPU s\tdeliv/CPU-s\tRSS/conn\thost busy\tload CPU s\t"
		if broker {
			head += "broker CPU s\t"
		}
		fmt.Fprintln(tw, head)
		for _, x := range r.Fanout {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%.2f\t",
				x.Target.Name, x.Round, x.Mode, x.Connected, x.Sent, x.Received, x.Loss,
				si(x.DeliveriesPerSec), dur(x.Latency.P50), dur(x.Latency.P99), dur(x.Latency.P999), dur(x.Latency.Max),
				cpuText(x.ServerCPU, x.ServerSystemCPU), si(x.DeliveriesPerCPU), kib(x.RSSPerConn),
				x.HostBusy*100, x.LoadCPU.Seconds())
			if broker {
				fmt.Fprintf(tw, "%s\t", orDash(x.BrokerCPU.Seconds(), "%.2f"))
			}
			fmt.Fprintln(tw)
		}
	}
	if len(r.Destination) > 0 {
		if len(r.Fanout) > 0 {
			fmt.Fprintln(tw, "\t")
		}
		fmt.Fprintln(tw, "sender\tround\tevents\tfailed\tevents/s\tp50\tp99\tp99.9\tmax\tdelivered\thost busy\t")
		for _, x := range r.Destination {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t\n",
				x.Name, x.Round, x.Events, x.Failed, si(x.EventsPerSec),
				dur(x.Latency.P50), dur(x.Latency.P99), dur(x.Latency.P999), dur(x.Latency.Max),
				deliveredText(x.Delivered), x.HostBusy*100)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range r.Fanout {
		for _, e := range x.Errors {
			fmt.Fprintf(w, "note: %s round %d: %s\n", x.Target.Name, x.Round, e)
		}
		if x.Sent > 0 && x.Connected > 0 && (x.SubscriberMin != x.Sent || x.SubscriberMax != x.Sent) {
			fmt.Fprintf(w, "note: %s round %d: a subscriber got between %d and %d of the %d messages\n", x.Target.Name, x.Round, x.SubscriberMin, x.SubscriberMax, x.Sent)
		}
		if len(x.PerNode) > 1 {
			parts := make([]string, len(x.PerNode))
			for i, n := range x.PerNode {
				parts[i] = fmt.Sprintf("%s %d subscribers %d delivered", n.URL, n.Subscribers, n.Received)
			}
			fmt.Fprintf(w, "note: %s round %d: per node: %s\n", x.Target.Name, x.Round, strings.Join(parts, "; "))
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		subj, base := "kete", "baseline"
		if r.Pair != nil {
			subj, base = r.Pair.Subject, r.Pair.Baseline
		}
		fmt.Fprintf(tw, "figure (%s)\t%s\t%s\tratio\tbetter\t\n", r.ratioHeader(), subj, base)
		for _, x := range r.Ratios {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f×\t%s\t\n", x.Figure, num(x.Subject), num(x.Baseline), x.Ratio, x.Better)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func cpuText(all, sys time.Duration) string {
	if all == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%.2f)", all.Seconds(), sys.Seconds())
}

func deliveredText(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// si formats a rate with k/M suffixes.
func si(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func num(v float64) string {
	if v >= 1000 || v <= -1000 {
		return si(v)
	}
	return fmt.Sprintf("%.3g", v)
}

func orDash(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func kib(b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fKiB", b/1024)
}

// dur prints a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
