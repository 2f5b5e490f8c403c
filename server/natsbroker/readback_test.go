package natsbroker_test

import (
	"strconv"
	"testing"

	"github.com/kete-dev/kete/server"
)

// TestFreshNodeRecoversFromStream: a node started after messages were published has none
// of them in its own history; it reads the gap back from JetStream, replays it before live
// messages, and a message it was receiving meanwhile is delivered once.
func TestFreshNodeRecoversFromStream(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	old := startNode(t, "node-old", ns.ClientURL())
	pub := connect(t, old, "hist", "writer", "realtime:publisher:write:topic:*")
	reader := connect(t, old, "hist", "reader")
	w := reader.subscribe("ticker", nil)
	pub.publish("ticker", 1)
	first := reader.collect("ticker", 1)[0]
	since := server.StreamPosition{Offset: fieldsOf(first).Offset, Epoch: w.Epoch}
	pub.publish("other", "noise") // another topic's message between: not part of the gap
	for i := 2; i <= 6; i++ {
		pub.publish("ticker", i)
	}
	reader.collect("ticker", 5) // the old node has them all before the new one starts

	fresh := startNode(t, "node-fresh", ns.ClientURL())
	back := connect(t, fresh, "hist", "reader")
	rw := back.subscribe("ticker", &since)
	if rw.Recovered == nil || !*rw.Recovered || rw.Replayed != 5 || rw.Epoch != since.Epoch {
		t.Fatalf("resubscribe from %+v on a fresh node: %+v, want recovered with 5 replayed in epoch %s", since, rw, since.Epoch)
	}
	pub.publish("ticker", 7)
	pub.publish("ticker", 8)
	got := back.collect("ticker", 7)
	wantCount(t, got, 2)
	if rw.Offset != fieldsOf(got[4]).Offset {
		t.Errorf("welcome offset %d, want the last replayed message's %d", rw.Offset, fieldsOf(got[4]).Offset)
	}

	// From the middle of the gap: only what follows.
	mid := connect(t, fresh, "hist", "middle")
	mw := mid.subscribe("ticker", &server.StreamPosition{Offset: fieldsOf(got[2]).Offset, Epoch: since.Epoch})
	if mw.Recovered == nil || !*mw.Recovered || mw.Replayed != 4 {
		t.Errorf("resubscribe from message 4 on the fresh node: %+v, want 4 replayed (5 to 8)", mw)
	}
	if f := mid.collect("ticker", 4); payloadOf(f[0]) != "5" || payloadOf(f[3]) != "8" {
		t.Errorf("replay from message 4: %s … %s, want 5 … 8", f[0].Raw, f[3].Raw)
	}
}

// TestFreshNodeRefusesGapItCannotProve: the fresh node says recovered:false when the
// position is a message of another topic or the gap is longer than the app's historySize.
func TestFreshNodeRefusesGapItCannotProve(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	old := startNode(t, "node-old", ns.ClientURL())
	pub := connect(t, old, "hist", "writer", "realtime:publisher:write:topic:*")
	reader := connect(t, old, "hist", "reader")
	w := reader.subscribe("news", nil)
	reader.subscribe("other", nil)
	pub.publish("other", "x")
	otherMsg := reader.collect("other", 1)[0]
	pub.publish("news", 0)
	first := reader.collect("news", 1)[0]
	const historySize = 100 // clusterApps' "hist"
	for i := 1; i <= historySize+1; i++ {
		pub.publish("news", i)
	}
	rest := reader.collect("news", historySize+1)

	fresh := startNode(t, "node-fresh", ns.ClientURL())
	for name, since := range map[string]server.StreamPosition{
		"a message of another topic":     {Offset: fieldsOf(otherMsg).Offset, Epoch: w.Epoch},
		"a gap over historySize":         {Offset: fieldsOf(first).Offset, Epoch: w.Epoch},
		"an offset the stream never had": {Offset: fieldsOf(first).Offset + 10_000, Epoch: w.Epoch},
	} {
		c := connect(t, fresh, "hist", "late")
		cw := c.subscribe("news", &since)
		if cw.Recovered == nil || *cw.Recovered || cw.Replayed != 0 {
			t.Errorf("since %s: %+v, want recovered:false with nothing replayed", name, cw)
		}
	}
	// A gap of exactly historySize messages can be filled.
	c := connect(t, fresh, "hist", "late")
	cw := c.subscribe("news", &server.StreamPosition{Offset: fieldsOf(rest[0]).Offset, Epoch: w.Epoch})
	if cw.Recovered == nil || !*cw.Recovered || cw.Replayed != historySize {
		t.Fatalf("since message 1: %+v, want recovered with %d replayed", cw, historySize)
	}
	if got := c.collect("news", historySize); payloadOf(got[0]) != "2" || payloadOf(got[historySize-1]) != strconv.Itoa(historySize+1) {
		t.Errorf("replayed %s … %s, want 2 … %d", got[0].Raw, got[historySize-1].Raw, historySize+1)
	}
}
