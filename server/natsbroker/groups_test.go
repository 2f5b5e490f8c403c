package natsbroker_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/natsbroker"
)

// A member of a consumer group is a consumer of Drogue Cloud's WebSocket integration
// written from its documentation (seed 001, "WebSocket integration"), not from kete's
// clients: it connects to {base}/{application}[/{channel}] with ?token= and ?group_id=
// ("consumers of the same group share the load"), and reads events "encoded as
// CloudEvents", one per message.

// cloudEvent is the part of a CloudEvents 1.0 structured-mode event the tests read.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
}

// cloudEventOf decodes f, or is an error when f is not a CloudEvents 1.0 JSON text frame.
func cloudEventOf(f wstest.Frame) (cloudEvent, error) {
	var ev cloudEvent
	if f.Binary || json.Unmarshal(f.Raw, &ev) != nil || ev.SpecVersion != "1.0" || ev.ID == "" || ev.Source == "" || ev.Type == "" {
		return ev, errors.New("drogue member: not a CloudEvents 1.0 JSON text frame")
	}
	return ev, nil
}

// joinDrogue connects a member of group to channel of app on n; every frame it receives
// must be a CloudEvent.
func joinDrogue(t *testing.T, n *node, app, channel, group, subject string) *wstest.Client {
	t.Helper()
	q := url.Values{"token": {token(t, clientSecret, subject)}, "group_id": {group}}
	check := func(f wstest.Frame) error { _, err := cloudEventOf(f); return err }
	c, resp, err := wstest.Dial(t, wsBase(n)+"/drogue/"+app+"/"+channel+"?"+q.Encode(), wstest.Options{Check: check})
	if err != nil {
		t.Fatalf("drogue connect on %s: %v (HTTP %d)", n.name, err, wstest.Status(resp))
	}
	return c
}

// leave closes a member's connection and waits until it is closed.
func leave(c *wstest.Client) {
	_ = c.Conn().WriteClose(1000, nil)
	c.WaitClosed()
}

// payload is the number a test published, read from the event's data.
func (ev cloudEvent) payload(t testing.TB) int {
	t.Helper()
	var d struct {
		Payload json.RawMessage `json:"payload"`
	}
	raw := ev.Data
	if json.Unmarshal(ev.Data, &d) == nil && d.Payload != nil {
		raw = d.Payload
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		t.Fatalf("event %s: data %s is not a published number", ev.ID, ev.Data)
	}
	return n
}

// startGroupNode is startNode with a short GroupAckWait, so that the share of a member
// whose node is killed goes on within the test's patience.
func startGroupNode(t *testing.T, name, url string) *node {
	t.Helper()
	b := startNodeBroker(t, name, url, natsbroker.HistoryOptions{Heartbeat: 200 * time.Millisecond, GroupAckWait: 2 * time.Second})
	s, err := server.New(server.Options{Apps: clusterApps(), ReloadInterval: -1, Broker: b})
	if err != nil {
		b.Close()
		t.Fatalf("%s: server.New: %v", name, err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, srv: s, http: httptest.NewServer(s), broker: b}
	t.Cleanup(n.kill)
	return n
}

// groupPulls returns how many pulls wait on the stream's consumer-group consumers: a
// member that has joined keeps one open.
func groupPulls(t *testing.T, js nats.JetStreamContext) int {
	t.Helper()
	waiting := 0
	for ci := range js.Consumers("KETE") {
		if strings.HasPrefix(ci.Name, "kete_group_") {
			waiting += ci.NumWaiting
		}
	}
	return waiting
}

// TestClusterConsumerGroupSpansNodes: three members of one group on three nodes receive
// disjoint shares that together are everything published (on any node); after a node
// dies its member's share goes to the others; and a member that comes back, on another
// node, after every member had left, gets exactly what was published while the group had
// no member, in order: the group's position is in JetStream, not in a node; and again
// after that member's node crashed.
func TestClusterConsumerGroupSpansNodes(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := []*node{startGroupNode(t, "node-0", ns.ClientURL()), startGroupNode(t, "node-1", ns.ClientURL()), startGroupNode(t, "node-2", ns.ClientURL())}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	pubs := []*client{
		connect(t, nodes[0], "hist", "writer-0", "realtime:publisher:write:topic:*"),
		connect(t, nodes[1], "hist", "writer-1", "realtime:publisher:write:topic:*"),
	}
	members := make([]*wstest.Client, 3)
	for i, n := range nodes {
		members[i] = joinDrogue(t, n, "hist", "logins", "fraud", "fraud-"+strconv.Itoa(i))
	}
	waitUntil(t, "three members pulling", func() bool { return groupPulls(t, js) == 3 })

	seen := map[int]string{} // payload → the member that got it
	ids := map[string]bool{} // CloudEvent ids, for duplicates
	got := make([][]int, len(members))
	var backOffsets []uint64
	take := func(want int, from ...int) {
		t.Helper()
		deadline := time.After(waitLimit)
		for len(seen) < want {
			progressed := false
			for _, i := range from {
				select {
				case f := <-members[i].Frames():
					ev, _ := cloudEventOf(f) // the member's check refused any other frame
					p := ev.payload(t)
					if who, dup := seen[p]; dup || ids[ev.ID] {
						t.Fatalf("message %d (%s) went to member %d and also to %s: a group hands each message to one member", p, ev.ID, i, who)
					}
					seen[p], ids[ev.ID] = "member "+strconv.Itoa(i), true
					got[i] = append(got[i], p)
					if i == 3 {
						backOffsets = append(backOffsets, offsetOf(t, ev))
					}
					progressed = true
				default:
				}
			}
			if !progressed {
				select {
				case <-deadline:
					t.Fatalf("members got %d of %d messages within %v: %v", len(seen), want, waitLimit, got)
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
	}

	for i := 1; i <= 30; i++ {
		pubs[i%2].publish("logins", i)
	}
	take(30, 0, 1, 2)
	for i, g := range got {
		if len(g) == 0 {
			t.Errorf("member %d (node %d) got none of 30: the load is not shared", i, i)
		}
	}

	// Node 2 dies with its member: the others take everything from now on.
	nodes[2].kill()
	<-members[2].Done()
	for i := 31; i <= 40; i++ {
		pubs[i%2].publish("logins", i)
	}
	take(40, 0, 1)

	// Every member leaves; what is published meanwhile waits in the group's position.
	leave(members[0])
	leave(members[1])
	waitUntil(t, "no member pulling", func() bool { return groupPulls(t, js) == 0 })
	for i := 41; i <= 50; i++ {
		pubs[i%2].publish("logins", i)
	}
	back := joinDrogue(t, nodes[1], "hist", "logins", "fraud", "fraud-2")
	members = append(members, back)
	got = append(got, nil)
	take(50, 3)
	// Two publishers on two nodes: the stream's order (the offset in the CloudEvent id)
	// is the order, not the payloads'.
	if want := []int{41, 42, 43, 44, 45, 46, 47, 48, 49, 50}; !equalInts(slices.Sorted(slices.Values(got[3])), want) {
		t.Errorf("member back on node 1 got %v, want %v: what was published while the group had no member", got[3], want)
	}
	for i := 1; i < len(backOffsets); i++ {
		if backOffsets[i] <= backOffsets[i-1] {
			t.Errorf("member back on node 1 got offsets %v: not in stream order", backOffsets)
		}
	}

	// The one member's node crashes; what is published meanwhile (also what NATS may have
	// handed the dead node's last pull) reaches the member that comes back on node 0.
	nodes[1].kill()
	<-back.Done()
	for i := 51; i <= 60; i++ {
		pubs[0].publish("logins", i)
	}
	again := joinDrogue(t, nodes[0], "hist", "logins", "fraud", "fraud-2")
	members = append(members, again)
	got = append(got, nil)
	take(60, 4)
	if want := []int{51, 52, 53, 54, 55, 56, 57, 58, 59, 60}; !equalInts(slices.Sorted(slices.Values(got[4])), want) {
		t.Errorf("member back on node 0 after a crash got %v, want %v", got[4], want)
	}
	for i := 1; i <= 60; i++ {
		if _, ok := seen[i]; !ok {
			t.Errorf("message %d reached no member", i)
		}
	}
}

// offsetOf is the stream offset in a history message's CloudEvent id ({epoch}-{offset}).
func offsetOf(t testing.TB, ev cloudEvent) uint64 {
	t.Helper()
	_, o, _ := strings.Cut(ev.ID, "-")
	n, err := strconv.ParseUint(o, 10, 64)
	if err != nil {
		t.Fatalf("event id %q has no offset", ev.ID)
	}
	return n
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
