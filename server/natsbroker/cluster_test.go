package natsbroker_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server"
)

// What every node of a cluster sees: publications, HTTP API actions, presence,
// ingest de-duplication.

// TestClusterPublishReachesEveryNode publishes through each node, one way each (WebSocket,
// HTTP API, ingest), and sees every subscriber on every node get all three once, with the
// same offsets everywhere.
func TestClusterPublishReachesEveryNode(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startCluster(t, ns.ClientURL())
	pubPerm := "realtime:publisher:write:topic:*"
	var subs []*client
	for _, n := range nodes {
		c := connect(t, n, "hist", "sub-"+n.name)
		c.subscribe("news", nil)
		subs = append(subs, c)
	}
	ws := connect(t, nodes[0], "hist", "writer", pubPerm)
	ws.publish("news", "via-ws")
	if code, body := api(t, nodes[1], "POST", "/api/topics/hist/publish", map[string]any{"topic": "news", "message": "via-api"}, pubPerm); code != 200 {
		t.Fatalf("API publish: %d %v", code, body)
	}
	ing := dial(t, wsBase(nodes[2])+"/apps/hist/publish/news?ack=1&access_token="+token(t, clientSecret, "ingest", pubPerm))
	if err := ing.Conn().WriteMessage(gws.OpcodeText, []byte(`{"id":"e-1","v":"via-ingest"}`)); err != nil {
		t.Fatal(err)
	}
	if f := ing.Next(); fieldsOf(f).Type != "ack" || fieldsOf(f).Status != "ok" {
		t.Fatalf("ingest ack %s", f.Raw)
	}
	var offsets [][]uint64
	for i, c := range subs {
		got := c.collect("news", 3)
		seen := map[string]bool{}
		var offs []uint64
		for _, f := range got {
			seen[payloadOf(f)] = true
			offs = append(offs, fieldsOf(f).Offset)
		}
		for _, want := range []string{`"via-ws"`, `"via-api"`, `{"id":"e-1","v":"via-ingest"}`} {
			if !seen[want] {
				t.Errorf("subscriber on node %d: %s missing from %v", i, want, raws(got))
			}
		}
		offsets = append(offsets, offs)
	}
	for i := 1; i < len(offsets); i++ {
		if fmt.Sprint(offsets[i]) != fmt.Sprint(offsets[0]) {
			t.Errorf("offsets differ between nodes: node 0 %v, node %d %v", offsets[0], i, offsets[i])
		}
	}
	// Nothing more: a marker published after arrives next, on every node.
	ws.publish("news", "marker")
	for i, c := range subs {
		if f := c.collect("news", 1)[0]; payloadOf(f) != `"marker"` {
			t.Errorf("node %d: after the three messages got %s, want the marker (a duplicate?)", i, f.Raw)
		}
	}
}

// TestClusterAPIActionsReachEveryNode: unsubscribe by subject and pattern, close one
// connection by id and close all, each asked of a node that does not hold the connections.
func TestClusterAPIActionsReachEveryNode(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startCluster(t, ns.ClientURL())
	pub := connect(t, nodes[0], "live", "publisher", "realtime:publisher:write:topic:*")

	bob := connect(t, nodes[2], "live", "bob")
	bob.subscribe("sports/a", nil)
	bob.subscribe("weather", nil)
	code, body := api(t, nodes[0], "POST", "/api/topics/live/unsubscribe",
		map[string]any{"topicPatterns": []string{"sports/*"}, "subject": "bob"}, server.PermManageSubscribers)
	if code != 200 {
		t.Fatalf("unsubscribe: %d %v", code, body)
	}
	// The command travels asynchronously: probe until a probe no longer arrives before
	// the fence that follows it.
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			t.Fatal("bob still gets sports/a after the unsubscribe")
		}
		pub.publish("sports/a", "probe")
		pub.publish("weather", "fence")
		if !bob.receivesBefore("sports/a", "weather") {
			break
		}
	}
	if code, body := api(t, nodes[1], "POST", "/api/topics/live/unsubscribe",
		map[string]any{"topicPatterns": []string{"weather"}}, server.PermManageSubscribers); code != 200 {
		t.Fatalf("unsubscribe everyone: %d %v", code, body)
	}
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			t.Fatal("bob still gets weather after the unsubscribe of every subject")
		}
		pub.publish("weather", "probe")
		pub.publish("main", "fence")
		if !bob.receivesBefore("weather", "main") {
			break
		}
	}

	carol := connect(t, nodes[1], "live", "carol")
	code, body = api(t, nodes[2], "DELETE", "/api/connections/live/"+carol.ID(), nil, server.PermManageConnections)
	if code != 202 || body["forwarded"] != true {
		t.Fatalf("close carol (on node 1) through node 2: %d %v, want 202 forwarded", code, body)
	}
	if ce := carol.WaitClosed(); ce.Code != server.CloseNormal || string(ce.Reason) != server.ReasonClosedByAdmin {
		t.Errorf("carol closed with %d %q", ce.Code, ce.Reason)
	}

	var all []*client
	for i, n := range nodes {
		all = append(all, connect(t, n, "live", "user-"+strconv.Itoa(i)))
	}
	if code, body := api(t, nodes[1], "DELETE", "/api/connections/live", nil, server.PermManageConnections); code != 200 {
		t.Fatalf("close all: %d %v", code, body)
	}
	for i, c := range all {
		if ce := c.WaitClosed(); ce.Code != server.CloseNormal {
			t.Errorf("connection on node %d closed with %d", i, ce.Code)
		}
	}
}

// TestClusterPresenceAndOneConnectionPerUser: presence of a connection on one node
// reaches a watcher on another; a user's new connection on one node replaces the older
// one on another.
func TestClusterPresenceAndOneConnectionPerUser(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startCluster(t, ns.ClientURL())
	watcher := connect(t, nodes[0], "hist", "watcher", "realtime:subscriber:read:topic:secure/inbound")
	watcher.subscribe("secure/inbound", nil)
	visitor := connect(t, nodes[1], "hist", "visitor")
	status := func() (string, string) {
		for { // skip the watcher's own presence
			f := watcher.WaitFor("secure/inbound", "presence")
			var d struct {
				Client  struct{ ConnectionID, Subject string } `json:"client"`
				Payload struct{ Status string }                `json:"payload"`
			}
			if err := json.Unmarshal(f.Data, &d); err != nil {
				t.Fatalf("presence %s: %v", f.Raw, err)
			}
			if d.Client.ConnectionID != watcher.ID() {
				return d.Client.ConnectionID, d.Payload.Status
			}
		}
	}
	if id, st := status(); id != visitor.ID() || st != "connected" {
		t.Errorf("presence: %s %s, want %s connected", id, st, visitor.ID())
	}
	_ = visitor.Conn().WriteClose(1000, nil)
	if id, st := status(); id != visitor.ID() || st != "disconnected" {
		t.Errorf("presence: %s %s, want %s disconnected", id, st, visitor.ID())
	}

	first := connect(t, nodes[0], "live", "alice")
	connect(t, nodes[2], "live", "alice")
	if ce := first.WaitClosed(); ce.Code != server.ClosePolicyViolation || string(ce.Reason) != server.ReasonReplaced {
		t.Errorf("older connection on node 0 closed with %d %q, want 1008 %q", ce.Code, ce.Reason, server.ReasonReplaced)
	}
}

// TestClusterIngestDeduplication: a destination that resends a frame to another node
// (after a reconnect) gets "duplicate" and subscribers get the message once.
func TestClusterIngestDeduplication(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startCluster(t, ns.ClientURL())
	perm := "realtime:publisher:write:topic:*"
	sub := connect(t, nodes[1], "live", "reader")
	sub.subscribe("events", nil)
	// Node 2 learns ingest ids from what NATS brings it, asynchronously: a resend there
	// is recognised once the first copy has arrived (a reconnecting destination comes
	// back far later than that). Its own subscriber tells the test when.
	witness := connect(t, nodes[2], "live", "witness")
	witness.subscribe("events", nil)
	ingest := func(n *node, frameText string) string {
		t.Helper()
		c := dial(t, wsBase(n)+"/apps/live/publish/events?ack=1&access_token="+token(t, clientSecret, "destination", perm))
		if err := c.Conn().WriteMessage(gws.OpcodeText, []byte(frameText)); err != nil {
			t.Fatal(err)
		}
		select {
		case f := <-c.Frames():
			_ = c.Conn().WriteClose(1000, nil)
			return fieldsOf(f).Status
		case <-time.After(waitLimit):
			t.Fatal("no ingest ack")
		}
		return ""
	}
	if st := ingest(nodes[0], `{"id":"evt-1","n":1}`); st != "ok" {
		t.Fatalf("first send: %q", st)
	}
	for _, c := range []*client{sub, witness} {
		if f := c.collect("events", 1)[0]; payloadOf(f) != `{"id":"evt-1","n":1}` {
			t.Fatalf("subscriber got %s", f.Raw)
		}
	}
	for i, n := range nodes[1:] {
		if st := ingest(n, `{"id":"evt-1","n":1}`); st != "duplicate" {
			t.Errorf("resend to node %d: %q, want duplicate", i+1, st)
		}
	}
	if st := ingest(nodes[2], `{"id":"evt-2","n":2}`); st != "ok" {
		t.Fatalf("next event: %q", st)
	}
	if f := sub.collect("events", 1)[0]; payloadOf(f) != `{"id":"evt-2","n":2}` {
		t.Errorf("after the duplicates the subscriber got %s, want evt-2", f.Raw)
	}
}
