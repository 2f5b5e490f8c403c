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

// Report is everything one `kete bench` invocation measured, in the shape --json writes.
type Report struct {
	Title   string    `json:"title"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Host    HostInfo  `json:"host"`
	// Fanout and Destination hold every run in the order they ran.
	Fanout      []*Result     `json:"fanout,omitempty"`
	Destination []*DestResult `json:"destination,omitempty"`
	// Ratios compare the subject (kete) with the baseline (bare gws) per figure, over
	// the mean of their rounds.
	Ratios []Ratio `json:"ratios,omitempty"`
}

// HostInfo says where a report was measured.
type HostInfo struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUModel  string `json:"cpuModel,omitempty"`
}

// NewReport starts a report for command.
func NewReport(title, command string) *Report {
	return &Report{Title: title, Command: command, Started: time.Now().UTC(), Host: hostInfo()}
}

func hostInfo() HostInfo {
	h := HostInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
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

// Ratio is one figure of the subject divided by the same figure of the baseline.
type Ratio struct {
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
	get                func(*Result) (float64, bool)
}

var fanoutFigures = []figure{
	{"deliveries/s", "1/s", "higher", func(r *Result) (float64, bool) { return r.DeliveriesPerSec, r.Mode != ModeIdle }},
	{"deliveries per server CPU-second", "1/CPU-s", "higher", func(r *Result) (float64, bool) { return r.DeliveriesPerCPU, r.DeliveriesPerCPU > 0 }},
	{"server CPU seconds", "s", "lower", func(r *Result) (float64, bool) { return r.ServerCPU.Seconds(), r.ServerCPU > 0 }},
	{"server user CPU seconds", "s", "lower", func(r *Result) (float64, bool) {
		return (r.ServerCPU - r.ServerSystemCPU).Seconds(), r.ServerCPU > 0
	}},
	{"p50 latency", "ms", "lower", func(r *Result) (float64, bool) { return ms(r.Latency.P50), r.Latency.Count > 0 }},
	{"p99 latency", "ms", "lower", func(r *Result) (float64, bool) { return ms(r.Latency.P99), r.Latency.Count > 0 }},
	{"p99.9 latency", "ms", "lower", func(r *Result) (float64, bool) { return ms(r.Latency.P999), r.Latency.Count > 0 }},
	{"max latency", "ms", "lower", func(r *Result) (float64, bool) { return ms(r.Latency.Max), r.Latency.Count > 0 }},
	{"loss", "deliveries", "lower", func(r *Result) (float64, bool) { return float64(r.Loss), r.Mode != ModeIdle }},
	{"RSS per connection", "KiB", "lower", func(r *Result) (float64, bool) { return r.RSSPerConn / 1024, r.RSSPerConn != 0 }},
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Compare fills r.Ratios from the fan-out runs (server over hub) and the destination runs
// (kete over bare).
func (r *Report) Compare() {
	r.Ratios = nil
	for _, f := range fanoutFigures {
		s, sok := meanOf(r.Fanout, KindServer, f.get)
		b, bok := meanOf(r.Fanout, KindHub, f.get)
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

func newRatio(name, unit, better string, s, b float64) Ratio {
	x := Ratio{Figure: name, Unit: unit, Better: better, Subject: s, Baseline: b}
	if b != 0 {
		x.Ratio = s / b
	}
	return x
}

func meanOf(rs []*Result, kind TargetKind, get func(*Result) (float64, bool)) (float64, bool) {
	sum, n := 0.0, 0
	for _, r := range rs {
		if r.Target.Kind != kind {
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

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the runs and ratios as aligned text for a terminal.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(r.Fanout) > 0 {
		fmt.Fprintln(tw, "target\tround\tmode\tsubs\tsent\tdelivered\tloss\tdeliv/s\tp50\tp99\tp99.9\tmax\tsrv CPU s\tdeliv/CPU-s\tRSS/conn\thost busy\tload CPU s\t")
		for _, x := range r.Fanout {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%.2f\t\n",
				x.Target.Name, x.Round, x.Mode, x.Connected, x.Sent, x.Received, x.Loss,
				si(x.DeliveriesPerSec), dur(x.Latency.P50), dur(x.Latency.P99), dur(x.Latency.P999), dur(x.Latency.Max),
				cpuText(x.ServerCPU, x.ServerSystemCPU), si(x.DeliveriesPerCPU), kib(x.RSSPerConn),
				x.HostBusy*100, x.LoadCPU.Seconds())
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
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "figure (kete ÷ bare gws)\tkete\tbaseline\tratio\tbetter\t")
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
