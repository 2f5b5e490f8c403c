package server

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// histWelcome is a subscribe confirmation of an app with history.
type histWelcome struct {
	Topic     string `json:"topic"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Recovered *bool  `json:"recovered"`
	Replayed  int    `json:"replayed"`
}

func subscribeSince(t *testing.T, tc *wstest.Client, topic string, since *StreamPosition) histWelcome {
	t.Helper()
	data := map[string]any{"topic": topic}
	if since != nil {
		data["since"] = since
	}
	tc.Send(map[string]any{"type": "subscribe", "data": data})
	f := tc.WaitFor(topic, "welcome")
	var w histWelcome
	if err := json.Unmarshal(f.Data, &w); err != nil {
		t.Fatalf("welcome %s: %v", f.Raw, err)
	}
	return w
}

// offsetOf reads a delivered frame's offset.
func offsetOf(t *testing.T, f wstest.Frame) uint64 {
	t.Helper()
	var v struct {
		Offset uint64 `json:"offset"`
	}
	if err := json.Unmarshal(f.Raw, &v); err != nil || v.Offset == 0 {
		t.Fatalf("frame %s has no offset", f.Raw)
	}
	return v.Offset
}

func apiPublish(t *testing.T, hs *httptest.Server, topic string, msg any) {
	t.Helper()
	tok := mint(t, secretAdmin, "admin", time.Hour, "realtime:publisher:write:topic:*")
	if code, body := apiCall(t, hs, "POST", "/api/topics/a/publish", tok, map[string]any{"topic": topic, "message": msg}); code != 200 {
		t.Fatalf("publish %v: %d %v", msg, code, body)
	}
}

// TestHistoryRecovery keeps the last 3 messages of a topic: a client that comes back with
// its last position gets what it missed, in order, before live messages, or is told the
// gap cannot be filled.
func TestHistoryRecovery(t *testing.T) {
	app := testApp("a", secretA)
	app.HistorySize = 3
	_, hs := startServer(t, Options{Apps: []App{app}})
	first := connect(t, hs, "a", mint(t, secretA, "u1", time.Hour))
	w := subscribeSince(t, first, "t", nil)
	if w.Offset != 0 || w.Epoch == "" || w.Recovered != nil {
		t.Fatalf("first welcome %+v, want offset 0, an epoch and no recovered", w)
	}
	epoch := w.Epoch
	for i := 1; i <= 2; i++ {
		apiPublish(t, hs, "t", i)
		if got := offsetOf(t, first.WaitFor("t", "broadcast")); got != uint64(i) {
			t.Fatalf("message %d has offset %d", i, got)
		}
	}
	// One missed message: replayed before the live one.
	back := connect(t, hs, "a", mint(t, secretA, "u2", time.Hour))
	w = subscribeSince(t, back, "t", &StreamPosition{Offset: 1, Epoch: epoch})
	if w.Recovered == nil || !*w.Recovered || w.Replayed != 1 || w.Offset != 2 {
		t.Fatalf("since 1: %+v, want recovered, 1 replayed, at offset 2", w)
	}
	apiPublish(t, hs, "t", 3)
	for _, want := range []string{"2", "3"} {
		if f := back.WaitFor("t", "broadcast"); string(f.Data) != want {
			t.Fatalf("after recovery got %s, want data %s", f.Raw, want)
		}
	}
	apiPublish(t, hs, "t", 4)
	apiPublish(t, hs, "t", 5) // history now holds 3, 4, 5
	back.WaitFor("t", "broadcast")
	back.WaitFor("t", "broadcast")

	tests := []struct {
		name      string
		since     StreamPosition
		recovered bool
		replay    []string
	}{
		{"gap dropped from history", StreamPosition{Offset: 1, Epoch: epoch}, false, nil},
		{"oldest kept follows", StreamPosition{Offset: 2, Epoch: epoch}, true, []string{"3", "4", "5"}},
		{"one missed", StreamPosition{Offset: 4, Epoch: epoch}, true, []string{"5"}},
		{"nothing missed", StreamPosition{Offset: 5, Epoch: epoch}, true, nil},
		{"from the future", StreamPosition{Offset: 9, Epoch: epoch}, false, nil},
		{"another epoch", StreamPosition{Offset: 4, Epoch: "other"}, false, nil},
		{"from the start after a drop", StreamPosition{Offset: 0}, false, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, hs, "a", mint(t, secretA, "r"+strconv.Itoa(i), time.Hour))
			w := subscribeSince(t, c, "t", &tc.since)
			if w.Recovered == nil || *w.Recovered != tc.recovered || w.Replayed != len(tc.replay) || w.Offset != 5 || w.Epoch != epoch {
				t.Fatalf("since %+v: %+v, want recovered %v with %d replayed at 5/%s", tc.since, w, tc.recovered, len(tc.replay), epoch)
			}
			for _, want := range tc.replay {
				if f := c.WaitFor("t", "broadcast"); string(f.Data) != want {
					t.Fatalf("replayed %s, want data %s", f.Raw, want)
				}
			}
			// Nothing more was replayed: the next frame is the welcome of another topic.
			c.Send(map[string]any{"type": "subscribe", "data": map[string]any{"topic": "fence"}})
			for _, f := range c.UntilMarker("fence", "welcome") {
				if f.Topic == "t" {
					t.Errorf("extra frame after the replay: %s", f.Raw)
				}
			}
		})
	}
}

// TestHistoryFromStart replays everything kept when nothing was dropped yet.
func TestHistoryFromStart(t *testing.T) {
	app := testApp("a", secretA)
	app.HistorySize = 10
	_, hs := startServer(t, Options{Apps: []App{app}})
	// A watcher sees the messages after they are kept.
	watcher := connect(t, hs, "a", mint(t, secretA, "watcher", time.Hour))
	subscribeSince(t, watcher, "t", nil)
	for i := 1; i <= 3; i++ {
		apiPublish(t, hs, "t", i)
		watcher.WaitFor("t", "broadcast")
	}
	c := connect(t, hs, "a", mint(t, secretA, "u", time.Hour))
	w := subscribeSince(t, c, "t", &StreamPosition{})
	if w.Recovered == nil || !*w.Recovered || w.Replayed != 3 {
		t.Fatalf("since 0: %+v, want all 3 replayed", w)
	}
	for i := 1; i <= 3; i++ {
		if f := c.WaitFor("t", "broadcast"); string(f.Data) != strconv.Itoa(i) || offsetOf(t, f) != uint64(i) {
			t.Fatalf("replay %d: %s", i, f.Raw)
		}
	}
}

// TestHistoryTTL drops kept messages older than historyTtl.
func TestHistoryTTL(t *testing.T) {
	clock := newFakeClock()
	app := testApp("a", secretA)
	app.HistorySize = 10
	app.HistoryTTL = Duration(time.Minute)
	app.Limits.IdleTimeout = Duration(time.Hour) // the clock jumps minutes
	app.Limits.PingInterval = Duration(time.Hour)
	srv, hs := startServer(t, Options{Apps: []App{app}, Now: clock.Now, SweepInterval: time.Hour})
	sub := connect(t, hs, "a", mint(t, secretA, "u", time.Hour))
	epoch := subscribeSince(t, sub, "t", nil).Epoch
	apiPublish(t, hs, "t", 1)
	sub.WaitFor("t", "broadcast")
	clock.Advance(2 * time.Minute)
	srv.sweep(nil)
	apiPublish(t, hs, "t", 2)
	sub.WaitFor("t", "broadcast")
	clock.Advance(30 * time.Second)
	srv.sweep(nil)
	c := connect(t, hs, "a", mint(t, secretA, "v", time.Hour))
	if w := subscribeSince(t, c, "t", &StreamPosition{Offset: 0, Epoch: epoch}); w.Recovered == nil || *w.Recovered {
		t.Errorf("since 0 after message 1 expired: %+v, want recovered false", w)
	}
	c2 := connect(t, hs, "a", mint(t, secretA, "w", time.Hour))
	if w := subscribeSince(t, c2, "t", &StreamPosition{Offset: 1, Epoch: epoch}); w.Recovered == nil || !*w.Recovered || w.Replayed != 1 {
		t.Errorf("since 1 with message 2 still young: %+v, want 1 replayed", w)
	}
}

// TestSubscribeSinceWithoutHistory tells the client that an app without history cannot
// recover anything; a since without offset is an invalid frame.
func TestSubscribeSinceWithoutHistory(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	c := connect(t, hs, "a", mint(t, secretA, "u", time.Hour))
	if w := subscribeSince(t, c, "t", &StreamPosition{Offset: 3, Epoch: "x"}); w.Recovered == nil || *w.Recovered {
		t.Errorf("welcome %+v, want recovered false", w)
	}
	c.SendText(`{"type":"subscribe","data":{"topic":"u","since":{"epoch":"x"}}}`)
	if ce := c.WaitClosed(); ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonInvalidFormat {
		t.Errorf("since without offset closed with %d %q", ce.Code, ce.Reason)
	}
}

// TestReadyz reports ready with the memory broker and not ready once closed.
func TestReadyz(t *testing.T) {
	srv, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	if code, body := apiCall(t, hs, "GET", "/readyz", "", nil); code != 200 || body["ready"] != true {
		t.Fatalf("readyz %d %v", code, body)
	}
	_ = srv.Close()
	if code, body := apiCall(t, hs, "GET", "/readyz", "", nil); code != 503 || body["ready"] != false {
		t.Fatalf("readyz after Close %d %v", code, body)
	}
}

// TestValidateHistory names negative history settings.
func TestValidateHistory(t *testing.T) {
	a := testApp("a", secretA)
	a.HistorySize = -1
	a.HistoryTTL = Duration(-time.Second)
	a.HistoryMaxBytes = -2
	a.HistoryMaxTopics = -3
	err := ValidateApps([]App{a})
	if err == nil {
		t.Fatal("negative history accepted")
	}
	for _, want := range []string{"historySize -1", "historyTtl -1s", "historyMaxBytes -2", "historyMaxTopics -3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
