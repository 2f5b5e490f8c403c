package destination

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/syncbuf"
)

// logSink collects JSON log lines for a test; the destination's goroutines write to it.
type logSink struct{ syncbuf.Buffer }

// lines returns the lines at level warn or above, or whose msg starts with "destination".
func (s *logSink) lines(t *testing.T) []map[string]any {
	t.Helper()
	text := s.String()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["level"] == "WARN" || m["level"] == "ERROR" || strings.HasPrefix(m["msg"].(string), "destination") {
			out = append(out, m)
		}
	}
	return out
}

// testClock is a clock a test moves by hand.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestDownDestinationLogsAnOutageNotEveryFailure: a gws server that goes away is logged
// once when the destination cannot reach it, then at 1, 3 and 7 minutes (the gaps doubling)
// with the failures since the last line and how long it has been down, and once when it is
// back; 49 failed connects over 8 minutes make 4 warnings, not 49.
func TestDownDestinationLogsAnOutageNotEveryFailure(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	addr := strings.TrimPrefix(srv.url, "ws://")
	logs := &logSink{}
	clock := &testClock{}
	clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
		Pool:   PoolOptions{MaxIdle: 1, MaxTotal: 1},
	})
	ctx := testContext(t)
	send := func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return d.Send(ctx, login("acme"), []byte(`{"id":"1"}`))
	}
	if err := send(); err != nil {
		t.Fatalf("send while up: %v", err)
	}
	srv.close()
	waitFor(t, "the pooled connection sees the server go", func() bool { return d.openConns() == 0 })

	const step = 10 * time.Second
	for k := range 48 { // k*10s: 0 … 7m50s
		if err := send(); err == nil {
			t.Fatalf("send %d succeeded with the server down", k)
		}
		clock.Advance(step)
	}
	type want struct {
		msg      string
		failures float64 // failures_since_last_line
		downFor  time.Duration
	}
	wants := []want{
		{"destination down", 0, 0},
		{"destination still down", 6, time.Minute},
		{"destination still down", 12, 3 * time.Minute},
		{"destination still down", 24, 7 * time.Minute},
	}
	lines := logs.lines(t)
	if len(lines) != len(wants) {
		t.Fatalf("%d lines while down, want %d:\n%v", len(lines), len(wants), lines)
	}
	for i, w := range wants {
		l := lines[i]
		if l["msg"] != w.msg || l["level"] != "WARN" || l["url"] != srv.url+"/events" || l["err"] == nil {
			t.Errorf("line %d = %v, want WARN %q naming the url and the error", i, l, w.msg)
		}
		if strings.Contains(l["err"].(string), srv.url) {
			t.Errorf("line %d: the error repeats the url the line already names: %v", i, l["err"])
		}
		if i > 0 && (l["failures_since_last_line"] != w.failures || time.Duration(l["down_for"].(float64)) != w.downFor) {
			t.Errorf("line %d = %v, want %v failures since the last line, down for %v", i, l, w.failures, w.downFor)
		}
	}

	newTestServer(t, serverOptions{addr: addr}) // back where it was
	if err := send(); err != nil {
		t.Fatalf("send after the server is back: %v", err)
	}
	lines = logs.lines(t)
	last := lines[len(lines)-1]
	if len(lines) != len(wants)+1 || last["msg"] != "destination up again" || last["level"] != "INFO" ||
		last["failures"] != float64(48) || time.Duration(last["down_for"].(float64)) != 48*step {
		t.Fatalf("after the server is back: %v; want one INFO line: up again after 48 failures, down for %v", lines[len(wants):], 48*step)
	}
}

// TestIdleDestinationDownIsQuiet: a URL without variables keeps MinIdle connections open
// in the background; while its server is down nothing is sent, and the refill that fails
// every second (pool.DefaultMaintenanceInterval) writes one warning, not one a second.
func TestIdleDestinationDownIsQuiet(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	addr := strings.TrimPrefix(srv.url, "ws://")
	logs := &logSink{}
	newDestination(t, srv.url, WebSocketOptions{
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Pool:   PoolOptions{MinIdle: 1},
	})
	waitFor(t, "the idle connection", func() bool { open, _, _, _ := srv.stats(); return open == 1 })
	srv.close()
	// In its place, a port that takes each connection and drops it: every refill fails,
	// and each is counted here.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var attempts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			attempts.Add(1)
			_ = c.Close()
		}
	}()
	// The fourth attempt starts after the third has failed and been logged (the pool
	// refills one connection at a time).
	waitFor(t, "four failed refills", func() bool { return attempts.Load() >= 4 })
	if lines := logs.lines(t); len(lines) != 1 || lines[0]["msg"] != "destination down" {
		t.Fatalf("lines after %d failed refills: %v; want the one 'destination down'", attempts.Load(), lines)
	}
}
