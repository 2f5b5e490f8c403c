package server

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kete-dev/kete/internal/wstest"
)

// gaugeValue reads a gauge named name from reg (-1 when absent).
func gaugeValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestSlowSubscriberStaysWithinBacklog: a subscriber that never reads is closed 1008
// "slow consumer" and its outbound queue never holds more than the app's maxBacklog, even
// when the dispatcher coalesces a batch of a megabyte for it (issue 13 item 10: a whole
// batch was taken into an empty queue, and non-reading subscribers drove the server to
// 450–660 MiB). The bound is read from kete_server_backlog_peak_bytes.
func TestSlowSubscriberStaysWithinBacklog(t *testing.T) {
	app := testApp("a", secretA)
	const maxBacklog = 64 << 10
	app.Limits.MaxBacklog = maxBacklog
	s, hs := startServer(t, Options{Apps: []App{app}, SocketWriteBuffer: 16 << 10, CloseGrace: 20 * time.Second})
	gate := make(chan struct{})
	tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "slow", time.Hour)), wstest.Options{Gate: gate, RcvBuf: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	_, h := s.app("a")
	waitUntil(t, "the connection registered", func() bool { return connIDOf(t, h) != "" })

	// Hold the hub's lock so that the dispatcher, stuck on the first message, finds the
	// other 299 queued and coalesces them: 256 messages of 4 KB, a megabyte in one batch.
	pad := strings.Repeat("x", 4000)
	h.mu.Lock()
	for i := range 300 {
		if err := s.publish(t.Context(), "a", "main", Message{Data: []byte(`{"n":` + strconv.Itoa(i) + `,"pad":"` + pad + `"}`)}); err != nil {
			h.mu.Unlock()
			t.Fatal(err)
		}
	}
	h.mu.Unlock()

	waitUntil(t, "the subscriber closed as a slow consumer", func() bool { return counterValue(s.metrics.slowConsumers) == 1 })
	close(gate)
	if ce := tc.WaitClosed(); ce.Code != 1008 || string(ce.Reason) != ReasonSlowConsumer {
		t.Errorf("closed with %d %q, want 1008 %q", ce.Code, ce.Reason, ReasonSlowConsumer)
	}
	if peak := gaugeValue(t, s.reg, "kete_server_backlog_peak_bytes"); peak <= 0 || peak > maxBacklog {
		t.Fatalf("kete_server_backlog_peak_bytes = %v, want within maxBacklog %d", peak, maxBacklog)
	}
	waitUntil(t, "the queue freed", func() bool { return gaugeValue(t, s.reg, "kete_server_backlog_bytes") == 0 })
}

// TestTinyFramesCountAgainstBacklog: a client that pings and reads nothing has its pongs
// queued, two bytes each; each queued frame counts queuedFrameCost on top of its bytes, so
// the queue holds at most maxBacklog/queuedFrameCost of them before the client is closed
// as a slow consumer, not tens of thousands of slice entries within a "64 KiB" bound. The
// pongs are sent as OnPing sends them.
func TestTinyFramesCountAgainstBacklog(t *testing.T) {
	app := testApp("a", secretA)
	const maxBacklog = 64 << 10
	app.Limits.MaxBacklog = maxBacklog
	s, hs := startServer(t, Options{Apps: []App{app}, SocketWriteBuffer: 16 << 10})
	gate := make(chan struct{})
	if _, _, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "pinger", time.Hour)), wstest.Options{Gate: gate, RcvBuf: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	_, h := s.app("a")
	var c *conn
	waitUntil(t, "the connection registered", func() bool { c = h.connection(connIDOf(t, h)); return c != nil })

	most := 0
	for i := 0; ; i++ {
		c.send(encodeFrame(opPong, nil))
		c.mu.Lock()
		closed, n := c.closed, len(c.backlog)
		c.mu.Unlock()
		most = max(most, n)
		if closed {
			break
		}
		if i > 10_000_000 {
			t.Fatal("ten million pongs queued without a slow-consumer close")
		}
	}
	if most > maxBacklog/queuedFrameCost {
		t.Fatalf("%d frames queued at once, want at most %d", most, maxBacklog/queuedFrameCost)
	}
	if counterValue(s.metrics.slowConsumers) != 1 {
		t.Fatal("not closed as a slow consumer")
	}
}

// TestSlowConsumer: one subscriber reads nothing while thousands of messages go out; it
// is closed with 1008 and the server's heap stays bounded, while another subscriber
// gets every message.
func TestSlowConsumer(t *testing.T) {
	app := testApp("a", secretA)
	app.Limits.MaxBacklog = 64 << 10
	app.Limits.MaxMessageSize = 8 << 10
	app.OneConnectionPerUser = OnePerUserOff // the slow and the fast subscriber share a token
	// The close frame waits behind the write in flight until the client reads, which it
	// does only after the whole stream is published: under -race on a busy machine that
	// took longer than a 5s grace, and the server rightly cut the socket without it.
	s, hs := startServer(t, Options{Apps: []App{app}, SocketWriteBuffer: 16 << 10, CloseGrace: time.Minute})
	tok := mint(t, secretA, "sub", time.Hour)
	gate := make(chan struct{})
	slow, _, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+tok), wstest.Options{Gate: gate, RcvBuf: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	fast := connect(t, hs, "a", tok)
	in, _, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/main?access_token="+mint(t, secretA, "pub", time.Hour, "realtime:publisher:write:topic:*")), wstest.Options{})
	if err != nil {
		t.Fatal(err)
	}

	const n, window = 3000, 8

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Publish in windows the fast subscriber keeps up with (it reads everything), while
	// the slow one reads nothing at all.
	payload := `{"pad":"` + strings.Repeat("x", 4000) + `"}`
	for sent := 0; sent < n; sent += window {
		for range window {
			if err := in.Conn().WriteString(payload); err != nil {
				t.Fatal(err)
			}
		}
		for range window {
			fast.WaitFor("main", "broadcast")
		}
	}
	waitUntil(t, "slow consumer closed", func() bool { return counterValue(s.metrics.slowConsumers) >= 1 })

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 8<<20 {
		t.Errorf("heap grew %d bytes while a subscriber read nothing (want < 8 MiB; %d MiB were published)", grow, n*len(payload)>>20)
	}
	close(gate)
	ce := slow.WaitClosed()
	if ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonSlowConsumer {
		t.Fatalf("slow subscriber closed with %d %q, want 1008 %q", ce.Code, ce.Reason, ReasonSlowConsumer)
	}
}
