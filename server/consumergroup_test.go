package server

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/wstest"
)

func TestConsumerGroupMembersShareEverything(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	tok := mint(t, secretA, "fraud", time.Hour)
	var ds []*drogueConsumer
	for range 3 {
		ds = append(ds, mustDrogue(t, hs, "a", "events/login", tok, "fraud"))
	}
	waitUntil(t, "three members", func() bool { return members(s, "events/login", "fraud") == 3 })
	const n = 60
	publishN(t, hs, "events/login", 1, n)
	apiPublish(t, hs, "events/other", map[string]any{"n": 999}) // not the group's channel

	seen := map[int]int{}
	var shares [3][]int
	for len(seen) < n {
		progressed := false
		for i, d := range ds {
			select {
			case ev := <-d.events:
				checkCloudEvent(t, ev)
				k := seq(ev)
				if prev, dup := seen[k]; dup {
					t.Fatalf("message %d went to member %d and member %d", k, prev, i)
				}
				seen[k] = i
				shares[i] = append(shares[i], k)
				progressed = true
			default:
			}
		}
		if !progressed {
			select {
			case <-time.After(time.Millisecond):
			case <-ds[0].done:
				t.Fatal("member closed")
			}
		}
	}
	for i, sh := range shares {
		if len(sh) == 0 {
			t.Errorf("member %d got no share", i)
		}
		if !slices.IsSorted(sh) {
			t.Errorf("member %d got its share out of order: %v", i, sh)
		}
	}
	for k := range seen {
		if k < 1 || k > n {
			t.Errorf("a member got %d, which is not of its channel", k)
		}
	}
}

func TestConsumerGroupMemberRestartMissesNothing(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(100)}})
	tok := mint(t, secretA, "fraud", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	waitUntil(t, "member joined", func() bool { return members(s, "events/login", "fraud") == 1 })
	publishN(t, hs, "events/login", 1, 10)
	ids := map[int]any{}
	for i := 1; i <= 10; i++ {
		ev := d.next()
		checkCloudEvent(t, ev)
		if seq(ev) != i {
			t.Fatalf("before the kill: %v, want n=%d", ev, i)
		}
		ids[i] = ev["id"]
	}
	d.kill()
	waitUntil(t, "member gone", func() bool { return members(s, "events/login", "fraud") == 0 })
	publishN(t, hs, "events/login", 11, 20)
	seen(20)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	publishN(t, hs, "events/login", 21, 25)
	// At-least-once: what the killed member was handed but not known to have written may
	// come again first, with the id it had.
	var got []int
	for len(got) < 15 {
		ev := d2.next()
		checkCloudEvent(t, ev)
		if n := seq(ev); n <= 10 && len(got) == 0 {
			if ev["id"] != ids[n] {
				t.Errorf("redelivery of %d has id %v, first delivery had %v", n, ev["id"], ids[n])
			}
			continue
		}
		got = append(got, seq(ev))
	}
	if !slices.Equal(got, span(11, 25)) {
		t.Fatalf("after the restart got %v, want 11..25 in order", got)
	}
}

func TestConsumerGroupGapIsTold(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(5)}})
	tok := mint(t, secretA, "fraud", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	waitUntil(t, "member joined", func() bool { return members(s, "events/login", "fraud") == 1 })
	publishN(t, hs, "events/login", 1, 3)
	d.collect(3)
	_ = d.conn.WriteClose(1000, nil)
	<-d.done
	waitUntil(t, "member gone", func() bool { return members(s, "events/login", "fraud") == 0 })
	publishN(t, hs, "events/login", 4, 13) // history keeps 9..13 only
	seen(13)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	gap := d2.next()
	for n := seq(gap); n >= 1 && n <= 3; n = seq(gap) {
		gap = d2.next() // a redelivery of what the first member may not have written (at-least-once)
	}
	checkCloudEvent(t, gap)
	if gap["type"] != GapEventType {
		t.Fatalf("first event after the gap: %v, want a %s", gap, GapEventType)
	}
	data, _ := gap["data"].(map[string]any)
	if data["topic"] != "events/login" || data["after"] != float64(3) || data["next"] != float64(9) {
		t.Errorf("gap notice data %v, want topic events/login, after 3, next 9", data)
	}
	if got := d2.collect(5); !slices.Equal(got, span(9, 13)) {
		t.Errorf("after the gap got %v, want 9..13", got)
	}
}

func TestConsumerTwoGroupsEachGetEverything(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	tok := mint(t, secretA, "svc", time.Hour)
	g1 := mustDrogue(t, hs, "a", "events/login", tok, "audit")
	g2 := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	waitUntil(t, "members", func() bool {
		return members(s, "events/login", "audit") == 1 && members(s, "events/login", "fraud") == 1
	})
	publishN(t, hs, "events/login", 1, 20)
	for name, d := range map[string]*drogueConsumer{"audit": g1, "fraud": g2} {
		if got := d.collect(20); !slices.Equal(got, span(1, 20)) {
			t.Errorf("group %s got %v", name, got)
		}
	}
}

// TestConsumerSlowMemberShareGoesToOthers: a member that reads nothing is closed as a
// slow consumer once its backlog is full, and what it was handed and had not written
// goes to the other member: together they have every message (at-least-once). The
// publisher keeps pace with the member that reads, so that only the other falls behind.
func TestConsumerSlowMemberShareGoesToOthers(t *testing.T) {
	a := consumerApp(0)
	a.Limits.MaxBacklog = 64 << 10
	s, hs := startServer(t, Options{Apps: []App{a}, SocketWriteBuffer: 16 << 10})
	tok := mint(t, secretA, "svc", time.Hour)
	seen := witness(t, hs, "bulk")
	fast := mustDrogue(t, hs, "a", "bulk", tok, "g")
	waitUntil(t, "the reading member", func() bool { return members(s, "bulk", "g") == 1 })
	_, h := s.app("a")
	var fastConn *conn
	for _, c := range h.snapshot(nil) {
		if _, consumer := c.kind.(*consumerState); consumer {
			fastConn = c
		}
	}
	gate := make(chan struct{})
	slow, resp, err := drogueDial(t, hs, "a", "bulk", url.Values{"token": {tok}, "group_id": {"g"}}, wstest.Options{Gate: gate, RcvBuf: 16 << 10})
	if err != nil {
		t.Fatalf("slow member: %v (status %d)", err, wstest.Status(resp))
	}
	waitUntil(t, "two members", func() bool { return members(s, "bulk", "g") == 2 })

	var mu sync.Mutex
	got := map[int]bool{}
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			select {
			case ev := <-fast.events:
				checkCloudEvent(t, ev)
				mu.Lock()
				got[seq(ev)] = true
				mu.Unlock()
			case <-fast.done:
				return
			}
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	const n = 300
	pad := strings.Repeat("x", 4000)
	for i := range n {
		if err := s.publish(t.Context(), "a", "bulk", Message{Data: []byte(`{"n":` + strconv.Itoa(i) + `,"pad":"` + pad + `"}`)}); err != nil {
			t.Fatal(err)
		}
		seen(i) // dispatched
		waitUntil(t, "the reading member keeps up", func() bool { return fastConn.queued() < 8<<10 })
	}
	waitUntil(t, "the slow member closed as a slow consumer", func() bool { return counterValue(s.metrics.slowConsumers) >= 1 })
	close(gate)
	<-slow.done
	var ce *gws.CloseError
	if !errors.As(slow.closeErr(), &ce) || string(ce.Reason) != ReasonSlowConsumer {
		t.Fatalf("slow member closed with %v, want %q", slow.closeErr(), ReasonSlowConsumer)
	}
	fromSlow := 0
	for len(slow.events) > 0 {
		ev := <-slow.events
		mu.Lock()
		got[seq(ev)] = true
		mu.Unlock()
		fromSlow++
	}
	deadline := time.Now().Add(waitLimit)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if count() < n {
		mu.Lock()
		var missing []int
		for i := range n {
			if !got[i] {
				missing = append(missing, i)
			}
		}
		mu.Unlock()
		h.consumers.mu.Lock()
		for k, g := range h.consumers.groups {
			t.Logf("group %q: %d members, %d orphans", k.id, len(g.members), len(g.orphans))
			for _, m := range g.members {
				q, cl := m.outbound()
				t.Logf("  member %s queued %d closed %v pending %d fast %v", m.id, q, cl, len(m.consumer().pending), m == fastConn)
			}
		}
		h.consumers.mu.Unlock()
		t.Fatalf("missing %v; the slow member read %d; fast closed with %v", missing, fromSlow, fast.closeErr())
	}
	if fromSlow >= n/2 {
		t.Fatalf("the slow member read %d of its ~%d: it was not behind", fromSlow, n/2)
	}
	if counterValue(s.metrics.slowConsumers) != 1 {
		t.Errorf("%v slow consumers, want only the member that did not read", counterValue(s.metrics.slowConsumers))
	}
	_ = fast.conn.WriteClose(1000, nil)
	<-fastDone
}

// TestConsumerGroupWithoutHistoryIsToldWhatItMissed: an app that keeps no history cannot
// replay; a durable group's next member is told how many messages it missed.
func TestConsumerGroupWithoutHistoryIsToldWhatItMissed(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	tok := mint(t, secretA, "svc", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "audit")
	waitUntil(t, "joined", func() bool { return members(s, "events/login", "audit") == 1 })
	publishN(t, hs, "events/login", 1, 2)
	d.collect(2)
	_ = d.conn.WriteClose(1000, nil)
	<-d.done
	waitUntil(t, "gone", func() bool { return members(s, "events/login", "audit") == 0 })
	publishN(t, hs, "events/login", 3, 5)
	seen(5)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "audit")
	ev := d2.next()
	for n := seq(ev); n == 1 || n == 2; n = seq(ev) {
		ev = d2.next() // a redelivery (at-least-once)
	}
	checkCloudEvent(t, ev)
	data, _ := ev["data"].(map[string]any)
	if ev["type"] != GapEventType || data["missed"] != float64(3) || data["groupId"] != "audit" {
		t.Fatalf("first event %v, want a gap notice with missed 3", ev)
	}
	publishN(t, hs, "events/login", 6, 6)
	if got := d2.collect(1); got[0] != 6 {
		t.Errorf("after the gap notice got %v, want 6", got)
	}
}

// TestConsumerGroupForgetsPositionsOfForgottenTopics: a durable group on every topic of
// an app that writes to ever new topics keeps positions only for topics history still
// knows, once a sweep runs.
func TestConsumerGroupForgetsPositionsOfForgottenTopics(t *testing.T) {
	a := consumerApp(10)
	a.HistoryMaxTopics = 20
	s, hs := startServer(t, Options{Apps: []App{a}, SweepInterval: time.Hour})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour), "all")
	waitUntil(t, "joined", func() bool { return members(s, "", "all") == 1 })
	for i := range 300 {
		apiPublish(t, hs, "t/"+strconv.Itoa(i), map[string]any{"n": i})
	}
	d.collect(300)
	_, h := s.app("a")
	positions := func() int {
		h.consumers.mu.Lock()
		defer h.consumers.mu.Unlock()
		return len(h.consumers.groups[groupKey{id: "all"}].positions.(memoryPositions))
	}
	if n := positions(); n < 300 {
		t.Fatalf("%d positions before the sweep, want one per topic seen (300)", n)
	}
	s.sweep(nil)
	if n := positions(); n > 20 {
		t.Errorf("%d positions after the sweep, want at most historyMaxTopics (20)", n)
	}
}
