package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// historyGauges reads kete_server_history_bytes and _topics of app from the server's
// registry, as a scrape would; ok is false when the app has no series.
func historyGauges(t *testing.T, s *Server, app string) (bytes, topics float64, ok bool) {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != app {
				continue
			}
			switch mf.GetName() {
			case "kete_server_history_bytes":
				bytes, ok = m.GetGauge().GetValue(), true
			case "kete_server_history_topics":
				topics = m.GetGauge().GetValue()
			}
		}
	}
	return bytes, topics, ok
}

// TestHistoryBoundedByTopics: one publisher writing to ever new topics (the fault that
// grew a server to 2.8 GiB) holds the app at historyMaxTopics; the oldest topics are
// forgotten, the newest still recover, and a forgotten topic written again never
// reuses an offset a client may hold.
func TestHistoryBoundedByTopics(t *testing.T) {
	app := testApp("a", secretA)
	app.HistorySize = 10
	app.HistoryMaxTopics = 5
	s, hs := startServer(t, Options{Apps: []App{app}})
	early := connect(t, hs, "a", mint(t, secretA, "early", time.Hour))
	epoch := subscribeSince(t, early, "t0", nil).Epoch
	apiPublish(t, hs, "t0", "first")
	if off := offsetOf(t, early.WaitFor("t0", "broadcast")); off != 1 {
		t.Fatalf("first message of t0 at offset %d", off)
	}

	watcher := connect(t, hs, "a", mint(t, secretA, "watcher", time.Hour))
	subscribeSince(t, watcher, "t49", nil)
	for i := 1; i < 50; i++ {
		apiPublish(t, hs, fmt.Sprintf("t%d", i), i)
	}
	last := offsetOf(t, watcher.WaitFor("t49", "broadcast")) // every message before it is kept or dropped
	if _, topics, ok := historyGauges(t, s, "a"); !ok || topics != 5 {
		t.Fatalf("history topics %v (series %v), want 5", topics, ok)
	}
	c := connect(t, hs, "a", mint(t, secretA, "late", time.Hour))
	if w := subscribeSince(t, c, "t49", &StreamPosition{Offset: last - 1, Epoch: epoch}); w.Recovered == nil || !*w.Recovered || w.Replayed != 1 {
		t.Fatalf("newest topic: %+v, want its message replayed", w)
	}
	if w := subscribeSince(t, c, "t1", nil); w.Offset != 0 {
		t.Fatalf("oldest topic still kept: %+v", w)
	}

	// t0 was forgotten; written again, its offsets go on past every offset handed out,
	// so the early client's position cannot be taken for one in the new messages.
	apiPublish(t, hs, "t0", "second")
	if off := offsetOf(t, early.WaitFor("t0", "broadcast")); off <= last {
		t.Fatalf("t0 written again at offset %d, not past %d", off, last)
	}
	back := connect(t, hs, "a", mint(t, secretA, "back", time.Hour))
	if w := subscribeSince(t, back, "t0", &StreamPosition{Offset: 1, Epoch: epoch}); w.Recovered == nil || *w.Recovered {
		t.Fatalf("since a forgotten position: %+v, want recovered false", w)
	}
	if w := subscribeSince(t, back, "t2", &StreamPosition{Offset: 0}); w.Recovered == nil || *w.Recovered {
		t.Fatalf("since 0 on a forgotten topic: %+v, want recovered false", w)
	}
}

// TestHistoryBoundedByBytes: big messages to a few topics stay within historyMaxBytes,
// the app's oldest messages going first, whichever topic they belong to.
func TestHistoryBoundedByBytes(t *testing.T) {
	const maxBytes = 64 << 10
	app := testApp("a", secretA)
	app.HistorySize = 1000
	app.HistoryMaxBytes = maxBytes
	app.Limits.MaxIngestMessageSize = 8 << 10
	s, hs := startServer(t, Options{Apps: []App{app}})
	sub := connect(t, hs, "a", mint(t, secretA, "sub", time.Hour))
	epoch := subscribeSince(t, sub, "big/0", nil).Epoch
	subscribeSince(t, sub, "big/1", nil)
	pad := strings.Repeat("x", 2000)
	var lastOf [2]uint64
	for i := range 200 {
		topic := fmt.Sprintf("big/%d", i%2)
		apiPublish(t, hs, topic, pad)
		lastOf[i%2] = offsetOf(t, sub.WaitFor(topic, "broadcast"))
	}
	bytes, topics, ok := historyGauges(t, s, "a")
	if !ok || bytes > maxBytes || bytes < maxBytes/2 || topics != 2 {
		t.Fatalf("history holds %v bytes in %v topics (series %v), want at most %d in 2", bytes, topics, ok, maxBytes)
	}
	c := connect(t, hs, "a", mint(t, secretA, "back", time.Hour))
	if w := subscribeSince(t, c, "big/0", &StreamPosition{Offset: 0}); w.Recovered == nil || *w.Recovered {
		t.Fatalf("since 0 after the oldest went: %+v, want recovered false", w)
	}
	for i := range 2 {
		topic := fmt.Sprintf("big/%d", i)
		c2 := connect(t, hs, "a", mint(t, secretA, fmt.Sprint("r", i), time.Hour))
		if w := subscribeSince(t, c2, topic, &StreamPosition{Offset: lastOf[i] - 5, Epoch: epoch}); w.Recovered == nil || !*w.Recovered || w.Replayed != 5 {
			t.Fatalf("%s since 5 before the end: %+v, want 5 replayed", topic, w)
		}
	}
}

// TestHistoryFreedWhenAppGoes: a reload that removes an app, or turns its history off,
// frees what it kept, and its series leave /metrics; a reload with smaller bounds applies
// them at once.
func TestHistoryFreedWhenAppGoes(t *testing.T) {
	app := testApp("a", secretA)
	app.HistorySize = 100
	other := testApp("b", secretB)
	s, hs := startServer(t, Options{Apps: []App{app, other}})
	sub := connect(t, hs, "a", mint(t, secretA, "sub", time.Hour))
	subscribeSince(t, sub, "t9", nil)
	for i := range 10 {
		for range 10 {
			apiPublish(t, hs, fmt.Sprintf("t%d", i), i)
		}
	}
	for range 10 {
		sub.WaitFor("t9", "broadcast")
	}
	if _, topics, ok := historyGauges(t, s, "a"); !ok || topics != 10 {
		t.Fatalf("before: %v topics (series %v)", topics, ok)
	}
	_, h := s.app("a")

	smaller := app
	smaller.HistoryMaxTopics = 3
	if err := s.SetApps([]App{smaller, other}); err != nil {
		t.Fatal(err)
	}
	if _, topics, _ := historyGauges(t, s, "a"); topics != 3 {
		t.Fatalf("after historyMaxTopics 3: %v topics", topics)
	}

	off := app
	off.HistorySize = 0
	if err := s.SetApps([]App{off, other}); err != nil {
		t.Fatal(err)
	}
	if b, topics := h.history.size(); b != 0 || topics != 0 {
		t.Fatalf("history off: still %d bytes in %d topics", b, topics)
	}

	if err := s.SetApps([]App{app, other}); err != nil {
		t.Fatal(err)
	}
	apiPublish(t, hs, "t0", "again")
	waitUntil(t, "history kept again", func() bool { _, n := h.history.size(); return n == 1 })
	if err := s.SetApps([]App{other}); err != nil {
		t.Fatal(err)
	}
	if b, topics := h.history.size(); b != 0 || topics != 0 {
		t.Fatalf("app removed: its history still holds %d bytes in %d topics", b, topics)
	}
	if _, _, ok := historyGauges(t, s, "a"); ok {
		t.Fatal("app removed: its history series are still exported")
	}
}

// TestHistoryConcurrentReaders: subscribes with recovery, scrapes and reloads while the
// dispatcher records (run with -race: every reader of history holds its lock).
func TestHistoryConcurrentReaders(t *testing.T) {
	app := testApp("a", secretA)
	app.HistorySize = 5
	app.HistoryMaxTopics = 3
	s, hs := startServer(t, Options{Apps: []App{app}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				historyGauges(t, s, "a")
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				a := app
				a.HistoryMaxTopics = 2 + i%3
				_ = s.SetApps([]App{a})
			}
		}
	}()
	var c *wstest.Client
	for i := range 70 {
		if i%7 == 0 {
			c = connect(t, hs, "a", mint(t, secretA, fmt.Sprint("c", i), time.Hour))
		}
		apiPublish(t, hs, fmt.Sprintf("t%d", i%7), i)
		subscribeSince(t, c, fmt.Sprintf("t%d", (i+3)%7), &StreamPosition{Offset: uint64(i / 7), Epoch: "any"})
	}
	close(stop)
	wg.Wait()
}

// TestHistoryStoreAccounting drives one store through random writes, expiries and
// reloads, checking after each step that its byte and message counts are what it holds
// and that it stays within its bounds.
func TestHistoryStoreAccounting(t *testing.T) {
	hs := newHistoryStore("e")
	rng := uint64(1)
	next := func(n int) int { rng = rng*6364136223846793005 + 1442695040888963407; return int(rng>>33) % n }
	l := historyLimits{size: 4, ttl: int64(50 * time.Millisecond), maxBytes: 8 << 10, maxTopics: 6}
	now := int64(0)
	for step := range 20000 {
		now += int64(next(3)) * int64(time.Millisecond)
		switch op := next(100); {
		case op < 2:
			l.maxTopics = 1 + next(8)
			l.maxBytes = int64(1+next(16)) << 10
			hs.apply(l, now)
		default:
			topic := fmt.Sprint("t", next(12))
			epoch := "e"
			if next(50) == 0 {
				epoch = fmt.Sprint("broker-", step) // a stream recreated: the topic starts over
			}
			hs.mu.Lock()
			th := hs.topicLocked(topic, epoch, l)
			e := histEntry{offset: th.last + 1, prev: th.last, prevKnown: true, at: now, frame: make([]byte, next(600))}
			th.last = e.offset
			hs.addLocked(topic, th, e, now, l)
			hs.mu.Unlock()
		}
		hs.mu.Lock()
		var bytes int64
		live := 0
		for name, th := range hs.topics {
			bytes += topicCost(name)
			for i := range th.kept() {
				bytes += entryCost(&th.kept()[i])
				live++
			}
			if n := len(th.kept()); n > l.size {
				t.Fatalf("step %d: topic %s keeps %d > %d", step, name, n, l.size)
			}
		}
		if bytes != hs.bytes || live != hs.live {
			t.Fatalf("step %d: counted %d bytes, %d messages; store says %d, %d", step, bytes, live, hs.bytes, hs.live)
		}
		if len(hs.topics) > l.maxTopics || hs.bytes > l.maxBytes && live > 1 {
			t.Fatalf("step %d: %d topics, %d bytes over %d, %d", step, len(hs.topics), hs.bytes, l.maxTopics, l.maxBytes)
		}
		if len(hs.order) > 2*(2*hs.live+1100) {
			t.Fatalf("step %d: %d refs (from %d) for %d messages", step, len(hs.order), hs.head, hs.live)
		}
		hs.mu.Unlock()
	}
}

// BenchmarkHistoryPublish publishes 200-byte messages over 1,000 topics through an app's
// dispatcher, with history kept within its bounds, and kept under a bound of 100 topics
// (every message then forgets a topic and makes one), against the same app without
// history as the baseline; compare the ratios.
func BenchmarkHistoryPublish(b *testing.B) {
	for _, v := range []struct {
		name      string
		size      int
		maxTopics int
	}{{"baseline=no-history", 0, 0}, {"history", 10, 0}, {"history-evicting", 10, 100}} {
		b.Run(v.name, func(b *testing.B) {
			app := testApp("a", secretA)
			app.HistorySize = v.size
			app.HistoryMaxTopics = v.maxTopics
			s, hs := startServer(b, Options{Apps: []App{app}})
			end := connect(b, hs, "a", mint(b, secretA, "end", time.Hour))
			end.Subscribe("end")
			data := []byte(`"` + strings.Repeat("x", 198) + `"`)
			topics := make([]string, 1000)
			for i := range topics {
				topics[i] = fmt.Sprint("t/", i)
			}
			b.SetBytes(int64(len(data)))
			i := 0
			for b.Loop() {
				if err := s.publish(s.ctx, "a", topics[i%len(topics)], Message{Data: data}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if err := s.publish(s.ctx, "a", "end", Message{Data: []byte("1")}); err != nil {
				b.Fatal(err)
			}
			end.WaitFor("end", "broadcast") // the dispatcher has recorded everything before it
		})
	}
}
