package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shortReport runs a real, tiny comparison: kete's server and the hub, one round each.
func shortReport(t *testing.T) *report {
	t.Helper()
	_, hubURL := startHub(t)
	srvURL, secret := startServer(t)
	tok, err := mintToken(secret, "bench", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep := newReport("test", "go test")
	targets := []target{
		{Name: "server", Kind: kindServer, URL: srvURL, App: "bench", Token: tok},
		{Name: "hub", Kind: kindHub, URL: hubURL},
	}
	err = compareFanout(ctx, rep, targets, fanoutOptions{Subscribers: 10, Rate: 4000, Duration: 300 * time.Millisecond}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fanout) != 2 || rep.Fanout[0].Target.Kind != kindServer || rep.Fanout[1].Target.Kind != kindHub {
		t.Fatalf("runs %+v", rep.Fanout)
	}
	for _, r := range rep.Fanout {
		checkClean(t, r, 10, 120)
	}
	return rep
}

func TestReportWriters(t *testing.T) {
	rep := shortReport(t)
	if len(rep.Ratios) == 0 {
		t.Fatal("no ratios between server and hub")
	}

	var js bytes.Buffer
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("report JSON does not decode: %v", err)
	}
	if len(back.Fanout) != 2 || back.Fanout[0].Received != rep.Fanout[0].Received || len(back.Fanout[0].Buckets) == 0 {
		t.Fatalf("JSON round trip lost runs: %+v", back.Fanout)
	}
	if strings.Contains(js.String(), rep.Fanout[0].Target.Token) {
		t.Fatal("the JSON report holds the token")
	}

	var svg bytes.Buffer
	if err := rep.writeSVG(&svg); err != nil {
		t.Fatal(err)
	}
	checkXML(t, svg.Bytes())
	if !strings.HasPrefix(svg.String(), "<svg") || strings.Count(svg.String(), "<polyline") < 4 {
		t.Fatalf("SVG lacks the charts' lines:\n%.400s", svg.String())
	}

	var page bytes.Buffer
	if err := rep.writeHTML(&page); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	for _, want := range []string{"<svg", "<polyline", "kete ÷ bare gws", "fan-out p99 latency"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://cdn", "https://"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML contains %q; it must stand alone", bad)
		}
	}

	var table bytes.Buffer
	if err := rep.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "server") || !strings.Contains(table.String(), "ratio") {
		t.Fatalf("table:\n%s", table.String())
	}
}

// checkXML fails unless b is well-formed XML.
func checkXML(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}

func TestCompareRatios(t *testing.T) {
	rep := newReport("t", "t")
	mk := func(kind targetKind, perCPU float64, p99 time.Duration) *result {
		return &result{Target: target{Kind: kind, Name: string(kind)}, Mode: modeRate, serverCPU: serverCPU{DeliveriesPerCPU: perCPU, ServerCPU: time.Second},
			DeliveriesPerSec: 50000, Latency: latency{Count: 1, P50: p99 / 2, P99: p99, P999: p99, Max: p99}}
	}
	rep.Fanout = []*result{
		mk(kindServer, 140000, 2*time.Millisecond), mk(kindHub, 100000, 4*time.Millisecond),
		mk(kindServer, 160000, 2*time.Millisecond), mk(kindHub, 100000, 4*time.Millisecond),
	}
	rep.compare()
	got := map[string]float64{}
	for _, r := range rep.Ratios {
		got[r.Figure] = r.Ratio
	}
	tests := []struct {
		figure string
		want   float64
	}{
		{"fan-out deliveries per server CPU-second", 1.5},
		{"fan-out p99 latency", 0.5},
		{"fan-out deliveries/s", 1},
	}
	for _, tt := range tests {
		if g, ok := got[tt.figure]; !ok || g < tt.want-1e-9 || g > tt.want+1e-9 {
			t.Errorf("%s: ratio %v (present %v), want %v", tt.figure, g, ok, tt.want)
		}
	}
	if _, ok := got["fan-out RSS per connection"]; ok {
		t.Error("RSS ratio without any RSS figure")
	}
}

func TestRunE2EUsesHook(t *testing.T) {
	_, url := startHub(t)
	calls := 0
	client := &http.Client{Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := runE2E(ctx, e2eOptions{
		Target: target{Name: "hub", Kind: kindHub, URL: url},
		Fanout: fanoutOptions{Subscribers: 5, Rate: 500, Duration: 200 * time.Millisecond, Publishers: 1},
		// The hook stands for the daemon's webhook: here it posts to the hub directly.
		Send: func(ctx context.Context, payload []byte) error {
			calls++
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http"+strings.TrimPrefix(url, "ws")+"/publish", bytes.NewReader(payload))
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 20 {
		t.Errorf("hook called %d times, want 20", calls)
	}
	checkClean(t, res, 5, 20)
}
