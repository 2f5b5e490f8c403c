package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/spool"
)

// TestFailingRouteLogsOneOutage: 50 events to a destination that refuses them, each
// retried, make one warning for the route (not one per event and attempt), and one info
// line when the destination takes them again.
func TestFailingRouteLogsOneOutage(t *testing.T) {
	dead := newSink()
	dead.setFail(errors.New("connection refused"))
	logs := &syncbuf.Buffer{}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Routes: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	m := NewMetrics()
	p, err := New(Options{Spool: sp, Metrics: m, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Routes: []Route{{Route: route("r", dead, ""), WaitDuration: time.Millisecond, MaxWait: 5 * time.Millisecond, InFlight: 8}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := p.Ingest(ctx, "test", events(50, "LOGIN")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutilCounter(m, "r") < 200 { // every event has failed several times
		if time.Now().After(deadline) {
			t.Fatal("not enough retries within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), `"level":"WARN"`); n != 1 || !strings.Contains(logs.String(), `"msg":"route cannot deliver; retrying","route":"r"`) {
		t.Fatalf("%d warnings after 200 failed attempts, want the one 'route cannot deliver':\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), `"err":"route r:`) {
		t.Errorf("the line names the route twice:\n%s", logs.String())
	}
	dead.setFail(nil)
	receive(t, dead, 50)
	if !strings.Contains(logs.String(), `"msg":"route delivers again","route":"r"`) {
		t.Fatalf("no line when the route recovered:\n%s", logs.String())
	}
}

// testutilCounter reads kete_delivery_retries_total{route}.
func testutilCounter(m *Metrics, route string) float64 {
	mfs, _ := m.Registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "kete_delivery_retries_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return mt.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
