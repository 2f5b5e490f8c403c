package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW      = 760
	chartH      = 300
	chartLeft   = 70
	chartRight  = 30
	chartTop    = 36
	chartBottom = 46
)

var palette = []string{"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"}

// series is one line of a chart.
type series struct {
	name   string
	color  string
	xs, ys []float64
	dashed bool
}

// latencySeries merges the histograms of runs with the same name into log-spaced bins:
// x is the bin's latency in ms (geometric centre), y the share of deliveries in %.
func latencySeries(r *report) []series {
	type acc struct {
		name    string
		buckets []bucket
	}
	var order []string
	byName := map[string]*acc{}
	add := func(name string, bs []bucket) {
		a := byName[name]
		if a == nil {
			a = &acc{name: name}
			byName[name] = a
			order = append(order, name)
		}
		a.buckets = append(a.buckets, bs...)
	}
	for _, x := range r.Fanout {
		if x.Mode != modeIdle {
			add(x.Target.Name+" ("+string(x.Mode)+")", x.Buckets)
		}
	}
	for _, x := range r.Destination {
		add(x.Name, x.Buckets)
	}
	const binsPerDecade = 10
	var out []series
	for i, name := range order {
		a := byName[name]
		bins := map[int]uint64{}
		var total uint64
		lo, hi := math.MaxInt, math.MinInt
		for _, b := range a.buckets {
			mid := float64(b.LowNs+b.HighNs) / 2
			if mid < 1 {
				mid = 1
			}
			k := int(math.Floor(math.Log10(mid) * binsPerDecade))
			bins[k] += b.Count
			total += b.Count
			lo, hi = min(lo, k), max(hi, k)
		}
		if total == 0 {
			continue
		}
		s := series{name: name, color: palette[i%len(palette)]}
		for k := lo - 1; k <= hi+1; k++ {
			x := math.Pow(10, (float64(k)+0.5)/binsPerDecade) / 1e6
			s.xs = append(s.xs, x)
			s.ys = append(s.ys, float64(bins[k])*100/float64(total))
		}
		out = append(out, s)
	}
	return out
}

// rateSeries is each run's deliveries per second over time.
func rateSeries(r *report) []series {
	var out []series
	colors := map[string]string{}
	for _, x := range r.Fanout {
		if len(x.Timeline) == 0 || x.Interval <= 0 {
			continue
		}
		c, ok := colors[x.Target.Name]
		if !ok {
			c = palette[len(colors)%len(palette)]
			colors[x.Target.Name] = c
		}
		s := series{name: fmt.Sprintf("%s round %d", x.Target.Name, x.Round), color: c, dashed: x.Round%2 == 0}
		per := x.Interval.Seconds()
		for i, n := range x.Timeline {
			s.xs = append(s.xs, float64(i+1)*per)
			s.ys = append(s.ys, float64(n)/per)
		}
		out = append(out, s)
	}
	return out
}

// writeSVG writes the latency distribution and the delivery rate over time as one
// standalone SVG (no scripts, no external references), for docs to embed.
func (r *report) writeSVG(w io.Writer) error {
	lat, rate := latencySeries(r), rateSeries(r)
	n := 0
	if len(lat) > 0 {
		n++
	}
	if len(rate) > 0 {
		n++
	}
	n = max(n, 1)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH*n, chartW, chartH*n)
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")
	y := 0
	if len(lat) > 0 {
		drawChart(&b, y, "Latency, publish → receive (share of deliveries per bin)", "latency (ms, log scale)", "% of deliveries", lat, true)
		y += chartH
	}
	if len(rate) > 0 {
		drawChart(&b, y, "Deliveries per second over time", "seconds since the first publish", "deliveries/s", rate, false)
	}
	if len(lat) == 0 && len(rate) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no latency or rate data in this report</text>`+"\n", chartLeft, chartH/2)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawChart draws one line chart at vertical offset y0.
func drawChart(b *strings.Builder, y0 int, title, xLabel, yLabel string, ss []series, logX bool) {
	x0, x1 := math.Inf(1), math.Inf(-1)
	ymax := 0.0
	for _, s := range ss {
		for i := range s.xs {
			x0, x1 = math.Min(x0, s.xs[i]), math.Max(x1, s.xs[i])
			ymax = math.Max(ymax, s.ys[i])
		}
	}
	if logX {
		x0 = math.Pow(10, math.Floor(math.Log10(x0)))
		x1 = math.Pow(10, math.Ceil(math.Log10(x1)))
	} else {
		x0 = 0
	}
	if x1 <= x0 {
		x1 = x0 + 1
	}
	ymax = niceCeil(ymax)
	pw := float64(chartW - chartLeft - chartRight)
	ph := float64(chartH - chartTop - chartBottom)
	px := func(x float64) float64 {
		if logX {
			return chartLeft + (math.Log10(x)-math.Log10(x0))/(math.Log10(x1)-math.Log10(x0))*pw
		}
		return chartLeft + (x-x0)/(x1-x0)*pw
	}
	py := func(v float64) float64 { return float64(y0+chartTop) + ph - v/ymax*ph }
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", chartLeft, y0+20, html.EscapeString(title))
	// Axes and grid.
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", chartLeft, y0+chartTop, pw, ph)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		yy := py(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n", chartLeft, yy, chartLeft+pw, yy)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", chartLeft-6, yy+4, html.EscapeString(num(v)))
	}
	if logX {
		for d := math.Log10(x0); d <= math.Log10(x1)+1e-9; d++ {
			xx := px(math.Pow(10, d))
			fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" stroke="#eee"/>`+"\n", xx, y0+chartTop, xx, float64(y0+chartTop)+ph)
			fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", xx, float64(y0+chartTop)+ph+16, decadeLabel(math.Pow(10, d)))
		}
	} else {
		step := niceCeil(x1 / 8)
		for v := 0.0; v <= x1+1e-9; v += step {
			xx := px(v)
			fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", xx, float64(y0+chartTop)+ph+16, num(v))
		}
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`+"\n", chartLeft+pw/2, y0+chartH-8, html.EscapeString(xLabel))
	fmt.Fprintf(b, `<text x="14" y="%.0f" text-anchor="middle" transform="rotate(-90 14 %.0f)">%s</text>`+"\n", float64(y0+chartTop)+ph/2, float64(y0+chartTop)+ph/2, html.EscapeString(yLabel))
	// Lines.
	for _, s := range ss {
		var pts strings.Builder
		for i := range s.xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.xs[i]), py(s.ys[i]))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>`+"\n", s.color, dash, strings.TrimSpace(pts.String()))
	}
	// Legend.
	for i, s := range ss {
		lx, ly := chartLeft+int(pw)-190, y0+chartTop+14+i*16
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"%s/>`+"\n", lx, ly-4, lx+18, ly-4, s.color, dash)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", lx+24, ly, html.EscapeString(s.name))
	}
}

// decadeLabel names a power of ten of milliseconds: 10µs, 1ms, 10s.
func decadeLabel(msv float64) string {
	switch {
	case msv < 0.001:
		return fmt.Sprintf("%.0fns", msv*1e6)
	case msv < 1:
		return fmt.Sprintf("%.0fµs", msv*1e3)
	case msv < 1000:
		return fmt.Sprintf("%.0fms", msv)
	}
	return fmt.Sprintf("%.0fs", msv/1000)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// writeHTML writes a standalone page: the figures as tables and the charts as inline SVG.
func (r *report) writeHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(r.Title))
	b.WriteString(`<style>body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}pre{background:#f7f7f7;padding:.6em}</style>` + "\n")
	b.WriteString("</head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", html.EscapeString(r.Title))
	fmt.Fprintf(&b, "<p>%s · %d CPUs · %s · %s/%s · %s</p>\n<pre>%s</pre>\n",
		html.EscapeString(r.Started.Format(time.RFC3339)), r.Host.CPUs, html.EscapeString(r.Host.CPUModel),
		r.Host.OS, r.Host.Arch, html.EscapeString(r.Host.GoVersion), html.EscapeString(r.Command))
	if len(r.Ratios) > 0 {
		subj, base := "kete", "baseline"
		if r.Pair != nil {
			subj, base = r.Pair.Subject, r.Pair.Baseline
		}
		fmt.Fprintf(&b, "<h2>%s</h2>\n<table><tr><th>figure</th><th>%s</th><th>%s</th><th>ratio</th><th>better</th></tr>\n",
			html.EscapeString(r.ratioHeader()), html.EscapeString(subj), html.EscapeString(base))

		for _, x := range r.Ratios {
			fmt.Fprintf(&b, "<tr><td>%s (%s)</td><td>%s</td><td>%s</td><td>%.2f×</td><td>%s</td></tr>\n",
				html.EscapeString(x.Figure), html.EscapeString(x.Unit), num(x.Subject), num(x.Baseline), x.Ratio, x.Better)
		}
		b.WriteString("</table>\n")
	}
	var t strings.Builder
	if err := r.writeTable(&t); err != nil {
		return err
	}
	b.WriteString("<h2>Runs</h2>\n<pre>" + html.EscapeString(t.String()) + "</pre>\n<h2>Charts</h2>\n")
	if err := r.writeSVG(&b); err != nil {
		return err
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
