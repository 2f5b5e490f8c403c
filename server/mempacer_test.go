package server

import (
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

func TestMemoryReturnDue(t *testing.T) {
	type step struct {
		at    time.Duration // since the start
		conns int
		want  bool
	}
	tests := []struct {
		name      string
		minGrowth int
		steps     []step
	}{
		{"a settled burst returns once", 100, []step{
			{1 * time.Second, 0, false},
			{2 * time.Second, 60, false},  // growing, under minGrowth
			{3 * time.Second, 150, false}, // still growing
			{4 * time.Second, 150, true},  // settled
			{5 * time.Second, 150, false}, // nothing new
			{6 * time.Second, 151, false},
		}},
		{"a trickle within 1% counts as settled", 100, []step{
			{1 * time.Second, 1000, false}, // grew by 1000 in one sweep
			{2 * time.Second, 1005, true},
		}},
		{"a second burst waits for the interval", 100, []step{
			{1 * time.Second, 200, false},
			{2 * time.Second, 200, true},
			{3 * time.Second, 400, false},
			{4 * time.Second, 400, false}, // settled, but within a minute of the last
			{61 * time.Second, 400, false},
			{62 * time.Second, 400, true},
		}},
		{"growth counts from the low point after departures", 100, []step{
			{1 * time.Second, 200, false},
			{2 * time.Second, 200, true},
			{3 * time.Second, 50, false},
			{70 * time.Second, 150, false},
			{71 * time.Second, 150, true}, // 100 new since the low point of 50
		}},
		{"small growth never returns", 100, []step{
			{1 * time.Second, 99, false},
			{2 * time.Second, 99, false},
			{3 * time.Minute, 99, false},
		}},
		{"off", -1, []step{
			{1 * time.Second, 5000, false},
			{2 * time.Second, 5000, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := osMemoryPacer{minGrowth: tt.minGrowth, minInterval: int64(time.Minute)}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			for i, s := range tt.steps {
				if got := m.due(start+int64(s.at), s.conns); got != s.want {
					t.Fatalf("step %d (%v, %d connections): due = %v, want %v", i, s.at, s.conns, got, s.want)
				}
			}
		})
	}
}

// TestSweepReturnsMemoryAfterBurst connects real clients and checks that the sweep
// returns memory once they have settled, and not again without new connections.
func TestSweepReturnsMemoryAfterBurst(t *testing.T) {
	clock := newFakeClock()
	var returns atomic.Int32
	app := testApp("a", secretA)
	app.OneConnectionPerUser = OnePerUserOff // one token for every connection of the burst
	s, hs := startServer(t, Options{
		Apps:          []App{app},
		Now:           clock.Now,
		SweepInterval: time.Hour,
		// Three connections make a burst here.
		ReturnMemoryAfter: 3,
		freeOSMemory:      func() { returns.Add(1) },
	})
	s.sweep(nil)
	tok := mint(t, secretA, "alice", time.Hour)
	for range 2 {
		mustBeRegistered(t, s, "a", connect(t, hs, "a", tok).ID())
	}
	clock.Advance(time.Second)
	s.sweep(nil)
	if n := returns.Load(); n != 0 {
		t.Fatalf("returned memory %d times after 2 connections, want 0", n)
	}
	mustBeRegistered(t, s, "a", connect(t, hs, "a", tok).ID())
	clock.Advance(time.Second)
	s.sweep(nil) // grew by 1 since the last sweep: still a burst in progress
	if n := returns.Load(); n != 0 {
		t.Fatalf("returned memory %d times while connections grew, want 0", n)
	}
	clock.Advance(time.Second)
	s.sweep(nil)
	if n := returns.Load(); n != 1 {
		t.Fatalf("returned memory %d times after the burst settled, want 1", n)
	}
	clock.Advance(DefaultReturnMemoryInterval)
	s.sweep(nil)
	if n := returns.Load(); n != 1 {
		t.Fatalf("returned memory %d times without new connections, want 1", n)
	}
}

// TestReadBuffers checks that client connections read frames far larger than their small
// read buffer intact, and that ingest connections get the larger ingest buffer.
func TestReadBuffers(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	perms := []string{"realtime:publisher:write:topic:*"}
	sub := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	sub.Subscribe("big")
	pub := connect(t, hs, "a", mint(t, secretA, "bob", time.Hour, perms...))
	big := strings.Repeat("0123456789", 300) // 3000 bytes: many read buffers
	pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "big", "payload": big}})
	var d struct {
		Payload string `json:"payload"`
	}
	if f := sub.WaitFor("big", "broadcast"); json.Unmarshal(f.Data, &d) != nil || d.Payload != big {
		t.Fatalf("delivered %d bytes of data, want the %d-byte payload back", len(f.Data), len(big))
	}

	in, _, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/big?access_token="+mint(t, secretA, "pub", time.Hour, perms...)), wstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Conn().WriteString(`"` + big + `"`); err != nil {
		t.Fatal(err)
	}
	if f := sub.WaitFor("big", "broadcast"); string(f.Data) != `"`+big+`"` {
		t.Fatalf("ingest delivered %d bytes of data, want %d", len(f.Data), len(big)+2)
	}

	s.upMu.Lock()
	defer s.upMu.Unlock()
	var sizes []int
	for k := range s.upgraders {
		sizes = append(sizes, k.readBuffer)
	}
	slices.Sort(sizes)
	if want := []int{DefaultReadBufferSize, IngestReadBufferSize}; !slices.Equal(sizes, want) {
		t.Fatalf("upgraders' read buffers %v, want %v (client default, ingest)", sizes, want)
	}
}

// TestAppendClient checks the "client" object built on demand (sessions no longer keep
// it) against what encoding/json reads back.
func TestAppendClient(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		perms   []string
	}{
		{"no permissions", "alice", nil},
		{"one permission", "bob", []string{"realtime:publisher:write:topic:chat"}},
		{"escapes", "a\"b\\c<d>&\u2028", []string{"x\ny", "é"}},
		{"empty subject", "", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := &session{subject: tt.subject, permissions: tt.perms}
			b := appendClient([]byte("prefix"), "c1", ss)
			var got struct {
				ConnectionID string   `json:"connectionId"`
				Subject      string   `json:"subject"`
				Permissions  []string `json:"permissions"`
			}
			if err := json.Unmarshal(b[len("prefix"):], &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if got.Permissions == nil {
				t.Fatalf("%s: permissions is not an array", b)
			}
			if got.ConnectionID != "c1" || got.Subject != tt.subject || !slices.Equal(got.Permissions, append([]string{}, tt.perms...)) {
				t.Fatalf("read back %+v from %s", got, b)
			}
		})
	}
}
