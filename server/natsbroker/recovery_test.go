package natsbroker_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/kete-dev/kete/server"
)

// A cluster that loses a node or NATS, and recovers.

// TestClusterRecoveryAfterNodeKill: subscribers of a killed node reconnect to another node
// and recover, in order and before live messages, what was published while they were away.
func TestClusterRecoveryAfterNodeKill(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startCluster(t, ns.ClientURL())
	pub := connect(t, nodes[0], "hist", "writer", "realtime:publisher:write:topic:*")
	victim := connect(t, nodes[2], "hist", "reader")
	w := victim.subscribe("ticker", nil)
	pub.publish("ticker", 1)
	last := victim.collect("ticker", 1)[0]
	if fieldsOf(last).Offset == 0 {
		t.Fatalf("message without offset: %s", last.Raw)
	}
	since := server.StreamPosition{Offset: fieldsOf(last).Offset, Epoch: w.Epoch}

	nodes[2].kill()
	victim.WaitClosed()
	for i := 2; i <= 6; i++ {
		pub.publish("ticker", i)
	}
	// A watcher on node 1 sees them arrive, so node 1 has them before the reader returns.
	watch := connect(t, nodes[1], "hist", "watcher")
	watch.subscribe("ticker", &since)
	watch.collect("ticker", 5)

	back := connect(t, nodes[1], "hist", "reader")
	rw := back.subscribe("ticker", &since)
	if rw.Recovered == nil || !*rw.Recovered || rw.Replayed != 5 {
		t.Fatalf("resubscribe from %+v on node 1: %+v, want recovered with 5 replayed", since, rw)
	}
	pub.publish("ticker", 7)
	wantCount(t, back.collect("ticker", 6), 2)

	// A position of another epoch cannot be recovered: the client is told.
	other := connect(t, nodes[0], "hist", "stranger")
	ow := other.subscribe("ticker", &server.StreamPosition{Offset: 1, Epoch: "not-this-one"})
	if ow.Recovered == nil || *ow.Recovered || ow.Replayed != 0 {
		t.Errorf("subscribe from another epoch: %+v, want recovered:false and nothing replayed", ow)
	}
}

// TestClusterNATSOutage stops NATS for a while: nodes report not-ready, keep serving their
// local subscribers, refuse history publishes (the publisher is told, nothing is lost
// silently), and after NATS returns they are ready and deliver across nodes again; a
// subscriber that was away during the outage recovers what was published since.
func TestClusterNATSOutage(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	ns := startJetStream(t, port, dir)
	nodes := startCluster(t, ns.ClientURL())
	perm := "realtime:publisher:write:topic:*"
	for _, n := range nodes {
		if code := readyz(t, n); code != 200 {
			t.Fatalf("%s readyz %d before the outage", n.name, code)
		}
	}
	localPub := connect(t, nodes[0], "live", "writer", perm)
	localSub := connect(t, nodes[0], "live", "reader")
	localSub.subscribe("local", nil)
	histPub := connect(t, nodes[0], "hist", "writer", perm)
	histSub := connect(t, nodes[1], "hist", "reader")
	w := histSub.subscribe("feed", nil)
	histPub.publish("feed", "before")
	before := histSub.collect("feed", 1)[0]

	ns.Shutdown()
	ns.WaitForShutdown()
	for _, n := range nodes {
		waitUntil(t, n.name+" not ready", func() bool { return readyz(t, n) == 503 })
	}
	localPub.publish("local", "during")
	if f := localSub.collect("local", 1)[0]; payloadOf(f) != `"during"` {
		t.Errorf("local subscriber during the outage got %s", f.Raw)
	}
	histPub.publish("feed", "refused")
	if f := histPub.WaitFor("feed", "error"); !strings.Contains(string(f.Data), "publish_failed") {
		t.Errorf("history publish during the outage answered %s, want publish_failed", f.Raw)
	}
	_ = histSub.Conn().WriteClose(1000, nil) // the reader goes away too
	histSub.WaitClosed()

	startJetStream(t, port, dir)
	for _, n := range nodes {
		waitUntil(t, n.name+" ready again", func() bool { return readyz(t, n) == 200 })
	}
	for i := range 3 {
		histPub.publish("feed", "after-"+strconv.Itoa(i))
	}
	back := connect(t, nodes[2], "hist", "reader")
	// Node 2 must have received them before it can replay them: wait with a watcher.
	watch := connect(t, nodes[2], "hist", "watcher")
	watch.subscribe("feed", &server.StreamPosition{Offset: fieldsOf(before).Offset, Epoch: w.Epoch})
	watch.collect("feed", 3)
	rw := back.subscribe("feed", &server.StreamPosition{Offset: fieldsOf(before).Offset, Epoch: w.Epoch})
	if rw.Recovered == nil || !*rw.Recovered || rw.Replayed != 3 {
		t.Fatalf("recovery after the outage: %+v, want recovered with 3 replayed", rw)
	}
	for i, f := range back.collect("feed", 3) {
		if want := `"after-` + strconv.Itoa(i) + `"`; payloadOf(f) != want {
			t.Errorf("replayed %d: %s, want %s", i, f.Raw, want)
		}
	}
}
