package server

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// publishAcked publishes one frame with id and waits for its ack.
func publishAcked(t *testing.T, tc *wstest.Client, id string) {
	t.Helper()
	tc.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "t", "payload": "x", "id": id}})
	for {
		f := tc.WaitFor("priv/acks", "ack")
		var d struct{ Data string }
		_ = json.Unmarshal(f.Data, &d)
		if d.Data == id {
			return
		}
	}
}

// TestPublishRateLimit: a connection may publish publishBurst frames at once and
// publishRate a second after that; the frame over the limit closes it with 1008
// ReasonRateLimited and is not delivered (issue 13 item 11: one connection published
// 163,000 frames/s, all fanned out). The clock is the server's, moved by hand.
func TestPublishRateLimit(t *testing.T) {
	clk := newFakeClock()
	app := testApp("a", secretA)
	app.ClientInboundAckEnabled = true
	app.Limits.PublishRate = 10
	app.Limits.PublishBurst = 5
	s, hs := startServer(t, Options{Apps: []App{app}, Now: clk.Now})
	pub := connect(t, hs, "a", mint(t, secretA, "pub", time.Hour, "realtime:publisher:write:topic:*"))
	sub := connect(t, hs, "a", mint(t, secretA, "sub", time.Hour))
	sub.Subscribe("t")

	for i := range 5 { // the burst
		publishAcked(t, pub, "b"+strconv.Itoa(i))
	}
	clk.Advance(300 * time.Millisecond) // three more at 10/s
	for i := range 3 {
		publishAcked(t, pub, "r"+strconv.Itoa(i))
	}
	pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "t", "payload": "x", "id": "over"}})
	if ce := pub.WaitClosed(); ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonRateLimited {
		t.Fatalf("closed with %d %q, want 1008 %q", ce.Code, ce.Reason, ReasonRateLimited)
	}
	waitUntil(t, "closes_total{reason=rate_limited} to count it", func() bool {
		return counterValue(s.metrics.closes.WithLabelValues("rate_limited")) == 1
	})
	for range 8 {
		sub.WaitFor("t", "broadcast")
	}
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	if st, _ := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "t", "messageType": "marker", "message": 1}); st != 200 {
		t.Fatalf("marker publish: %d", st)
	}
	for _, f := range sub.UntilMarker("t", "marker") {
		t.Fatalf("the frame over the limit was delivered: %s", f.Raw)
	}
}

// TestPublishRateLimitOff: publishRate -1 lets a connection publish as fast as it likes.
func TestPublishRateLimitOff(t *testing.T) {
	clk := newFakeClock()
	app := testApp("a", secretA)
	app.ClientInboundAckEnabled = true
	app.Limits.PublishRate = -1
	_, hs := startServer(t, Options{Apps: []App{app}, Now: clk.Now})
	pub := connect(t, hs, "a", mint(t, secretA, "pub", time.Hour, "realtime:publisher:write:topic:*"))
	for i := range 3 * DefaultPublishRate {
		publishAcked(t, pub, strconv.Itoa(i))
	}
}

// TestPublishRateLimitDefault: without publishRate, the default applies: 2×100 frames at
// once, and the next closes the connection.
func TestPublishRateLimitDefault(t *testing.T) {
	clk := newFakeClock()
	app := testApp("a", secretA)
	app.ClientInboundAckEnabled = true
	_, hs := startServer(t, Options{Apps: []App{app}, Now: clk.Now})
	pub := connect(t, hs, "a", mint(t, secretA, "pub", time.Hour, "realtime:publisher:write:topic:*"))
	for i := range 2 * DefaultPublishRate {
		publishAcked(t, pub, strconv.Itoa(i))
	}
	pub.Send(map[string]any{"type": "message", "data": map[string]any{"payload": "x", "id": "over"}})
	if ce := pub.WaitClosed(); string(ce.Reason) != ReasonRateLimited {
		t.Fatalf("closed with %d %q, want %q", ce.Code, ce.Reason, ReasonRateLimited)
	}
}
