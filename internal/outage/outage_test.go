package outage

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestIntervalsDoubleUpToTheCap: with a failure a minute for a day, "still down" lines
// come at 1, 3, 7, 15, 31, 63 minutes and then every hour; the outage's end is one line.
func TestIntervalsDoubleUpToTheCap(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := now
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)), Options{Now: func() time.Time { return now }})
	for range 24 * 60 {
		l.Failed(errors.New("connection refused"))
		now = now.Add(time.Minute)
	}
	l.Succeeded()
	var at []time.Duration
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m["msg"].(string))
		if m["msg"] == "still down" {
			at = append(at, time.Duration(m["down_for"].(float64)))
		}
	}
	want := []time.Duration{1, 3, 7, 15, 31, 63}
	for i, w := range want {
		if i >= len(at) || at[i] != w*time.Minute {
			t.Fatalf("still-down lines at %v, want %v minutes then hourly", at, want)
		}
	}
	for i := len(want); i < len(at); i++ {
		if at[i]-at[i-1] != time.Hour {
			t.Fatalf("gap %d = %v, want 1h: %v", i, at[i]-at[i-1], at)
		}
	}
	if msgs[0] != "down" || msgs[len(msgs)-1] != "up again" || len(msgs) != 2+len(at) {
		t.Fatalf("lines %v", msgs)
	}
	if l.Down() || now.Sub(start) != 24*time.Hour {
		t.Fatal("still down after Succeeded")
	}
}
