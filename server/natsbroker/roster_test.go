package natsbroker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/server/natsbroker"
)

// The roster tests run three nodes with a short heartbeat, so that a node's silence is
// noticed within a fraction of the wait limit.

const rosterHeartbeat = 50 * time.Millisecond

// rosterApps: "solo" allows one connection per subject in the whole cluster.
func rosterApps() []server.App {
	return []server.App{{AppID: "solo", Enabled: true, AuthKey: hs256(clientSecret), AdminKey: hs256(adminSecret),
		OneConnectionPerUser: server.OnePerUserReject}}
}

func rosterOptions() server.Options {
	return server.Options{Apps: rosterApps(), ReloadInterval: -1, HeartbeatInterval: rosterHeartbeat}
}

func startRosterCluster(t *testing.T, url string) []*node {
	t.Helper()
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNodeWith(t, "node-"+strconv.Itoa(i), url, rosterOptions())
	}
	return nodes
}

// crash stops n as a node that dies would: its broker goes first, so that it tells the
// others nothing (no "released", no "bye"), then its connections drop.
func (n *node) crash() {
	n.once.Do(func() {
		_ = n.broker.Close()
		n.http.CloseClientConnections()
		n.http.Close()
		_ = n.srv.Close()
	})
}

// dialApp opens a client connection of subject to app on n without failing the test:
// an accepted connection (status 101) or the refusal's HTTP status. It may run on any
// goroutine.
func dialApp(t testing.TB, n *node, app, subject string) (*client, int, error) {
	tok, err := auth.Mint("HS256", []byte(clientSecret), auth.MintClaims{Subject: subject, TTL: time.Hour})
	if err != nil {
		return nil, 0, err
	}
	c, resp, err := wstest.Dial(t, wsBase(n)+"/apps/"+app+"?access_token="+tok, wstest.Options{})
	switch {
	case err == nil:
		return &client{c, t}, http.StatusSwitchingProtocols, nil
	case resp != nil:
		return nil, resp.StatusCode, nil
	default:
		return nil, 0, fmt.Errorf("dial %s on %s: %w", subject, n.name, err)
	}
}

// refused dials subject on n and expects 409 already_connected.
func refused(t *testing.T, n *node, app, subject string) {
	t.Helper()
	c, status, err := dialApp(t, n, app, subject)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusConflict {
		if c != nil {
			ce := c.WaitClosed()
			t.Fatalf("%s accepted a second connection of %s (closed later with %d %q), want 409", n.name, subject, ce.Code, ce.Reason)
		}
		t.Fatalf("%s: connect %s: HTTP %d, want 409", n.name, subject, status)
	}
}

// waitHeld waits until n knows of held connections under the reject policy in the
// whole cluster (its own and the other nodes').
func waitHeld(t *testing.T, n *node, held int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%s knows of %d held connections", n.name, held), func() bool {
		h := health(t, n)
		return h.Cluster != nil && h.Cluster.Held == held
	})
}

// alive checks that c still receives: it subscribes c to a topic and publishes there
// through n's HTTP API.
func alive(t *testing.T, c *client, n *node, topic string) {
	t.Helper()
	c.subscribe(topic, nil)
	if code, body := api(t, n, "POST", "/api/topics/solo/publish", map[string]any{"topic": topic, "message": "ping"},
		"realtime:publisher:write:topic:*"); code != 200 {
		t.Fatalf("publish: %d %v", code, body)
	}
	c.collect(topic, 1)
}

// healthBody is GET /api/health/status in a cluster.
type healthBody struct {
	Status      string `json:"status"`
	Apps        int    `json:"apps"`
	Connections int    `json:"connections"`
	Node        string `json:"node"`
	Nodes       []struct {
		Node          string `json:"node"`
		Self          bool   `json:"self"`
		Apps          int    `json:"apps"`
		Connections   int    `json:"connections"`
		Subscriptions int    `json:"subscriptions"`
		Held          int    `json:"held"`
	} `json:"nodes"`
	Cluster *struct {
		Nodes         int `json:"nodes"`
		Connections   int `json:"connections"`
		Subscriptions int `json:"subscriptions"`
		Held          int `json:"held"`
	} `json:"cluster"`
}

func getJSON(t testing.TB, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

func health(t testing.TB, n *node) healthBody {
	t.Helper()
	var h healthBody
	getJSON(t, n.http.URL+"/api/health/status", &h)
	return h
}

// TestRosterRejectAcrossNodes: while alice is connected to node 0, every node refuses
// her (409), node 2 too, which starts after she connected; once she leaves, another node
// accepts her.
func TestRosterRejectAcrossNodes(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := []*node{
		startNodeWith(t, "node-0", ns.ClientURL(), rosterOptions()),
		startNodeWith(t, "node-1", ns.ClientURL(), rosterOptions()),
	}
	alice := connect(t, nodes[0], "solo", "alice")
	nodes = append(nodes, startNodeWith(t, "node-2", ns.ClientURL(), rosterOptions()))
	for _, n := range nodes {
		waitHeld(t, n, 1)
		refused(t, n, "solo", "alice")
	}
	alive(t, alice, nodes[2], "news")
	connect(t, nodes[1], "solo", "bob") // another subject is not affected
	waitHeld(t, nodes[1], 2)            // bob is announced after his welcome

	_ = alice.Conn().WriteClose(1000, nil)
	alice.WaitClosed()
	waitHeld(t, nodes[1], 1) // bob only
	back := connect(t, nodes[1], "solo", "alice")
	waitHeld(t, nodes[2], 2)
	refused(t, nodes[2], "solo", "alice")
	alive(t, back, nodes[0], "news")
}

// TestRosterRaceKeepsOneConnection connects one subject on two nodes at once, round after
// round: however the race goes, exactly one connection is left, and the others refuse a
// third.
func TestRosterRaceKeepsOneConnection(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startRosterCluster(t, ns.ClientURL())
	both := 0
	for round := range 10 {
		subject := "racer-" + strconv.Itoa(round)
		type result struct {
			c      *client
			status int
			err    error
		}
		results := make([]result, 2)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, status, err := dialApp(t, nodes[i], "solo", subject)
				results[i] = result{c, status, err}
			}()
		}
		wg.Wait()
		var accepted []*client
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Fatal(r.err)
			case r.status == http.StatusSwitchingProtocols:
				accepted = append(accepted, r.c)
			case r.status != http.StatusConflict:
				t.Fatalf("round %d node %d: HTTP %d", round, i, r.status)
			}
		}
		var survivor *client
		switch len(accepted) {
		case 0:
			t.Fatalf("round %d: both connects refused", round)
		case 1:
			survivor = accepted[0]
		case 2:
			both++
			var loser *client
			select {
			case <-accepted[0].Done():
				loser, survivor = accepted[0], accepted[1]
			case <-accepted[1].Done():
				loser, survivor = accepted[1], accepted[0]
			case <-time.After(waitLimit):
				t.Fatalf("round %d: both connections of %s still open after %v", round, subject, waitLimit)
			}
			if ce := loser.WaitClosed(); ce.Code != server.ClosePolicyViolation || string(ce.Reason) != server.ReasonConnectedElsewhere {
				t.Errorf("round %d: the later connection closed with %d %q, want 1008 %q", round, ce.Code, ce.Reason, server.ReasonConnectedElsewhere)
			}
		}
		waitHeld(t, nodes[2], round+1) // every round's survivor
		refused(t, nodes[2], "solo", subject)
		alive(t, survivor, nodes[2], "round-"+strconv.Itoa(round))
	}
	t.Logf("both connects accepted (and one closed) in %d of 10 rounds", both)
}

// TestRosterKilledNodeFreesSubjects: a node that dies without a word stops holding its
// subjects once the others have missed its heartbeats.
func TestRosterKilledNodeFreesSubjects(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startRosterCluster(t, ns.ClientURL())
	alice := connect(t, nodes[2], "solo", "alice")
	waitHeld(t, nodes[0], 1)
	refused(t, nodes[0], "solo", "alice")
	waitUntil(t, "node 0 sees three nodes", func() bool { return len(health(t, nodes[0]).Nodes) == 3 })
	if got := metricValue(t, nodes[0], "kete_server_cluster_nodes"); got != "2" {
		t.Errorf("node 0 kete_server_cluster_nodes = %s, want 2 (the other two)", got)
	}

	nodes[2].crash()
	alice.WaitClosed()
	for _, n := range nodes[:2] {
		waitUntil(t, n.name+" forgets node 2", func() bool {
			h := health(t, n)
			return len(h.Nodes) == 2 && h.Cluster != nil && h.Cluster.Nodes == 2 && h.Cluster.Held == 0
		})
		if got := metricValue(t, n, "kete_server_cluster_nodes"); got != "1" {
			t.Errorf("%s kete_server_cluster_nodes = %s after node 2 died, want 1", n.name, got)
		}
	}
	back := connect(t, nodes[0], "solo", "alice")
	waitHeld(t, nodes[1], 1)
	refused(t, nodes[1], "solo", "alice")
	alive(t, back, nodes[1], "news")
}

// TestRosterPartitionedNodeRejoins cuts node 2 off NATS while it holds alice: the others
// forget it and accept alice; when it comes back it announces itself, and the later of
// the two connections (the one on node 0) is closed.
func TestRosterPartitionedNodeRejoins(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	proxy := newCutProxy(t, ns.Addr().String())
	nodes := []*node{
		startNodeWith(t, "node-0", ns.ClientURL(), rosterOptions()),
		startNodeWith(t, "node-1", ns.ClientURL(), rosterOptions()),
		startNodeWith(t, "node-2", "nats://"+proxy.addr(), rosterOptions()),
	}
	first := connect(t, nodes[2], "solo", "alice")
	waitHeld(t, nodes[0], 1)
	refused(t, nodes[0], "solo", "alice")

	proxy.cut()
	waitUntil(t, "node 2 not ready", func() bool { return readyz(t, nodes[2]) == 503 })
	for _, n := range nodes[:2] {
		waitUntil(t, n.name+" forgets node 2", func() bool {
			h := health(t, n)
			return len(h.Nodes) == 2 && h.Cluster != nil && h.Cluster.Held == 0
		})
	}
	second := connect(t, nodes[0], "solo", "alice")
	waitHeld(t, nodes[1], 1)

	proxy.heal()
	waitUntil(t, "node 2 ready again", func() bool { return readyz(t, nodes[2]) == 200 })
	if ce := second.WaitClosed(); ce.Code != server.ClosePolicyViolation || string(ce.Reason) != server.ReasonConnectedElsewhere {
		t.Fatalf("the later connection (node 0) closed with %d %q, want 1008 %q", ce.Code, ce.Reason, server.ReasonConnectedElsewhere)
	}
	waitUntil(t, "node 1 knows node 2 holds alice", func() bool {
		for _, f := range health(t, nodes[1]).Nodes {
			if f.Node == health(t, nodes[2]).Node {
				return f.Held == 1
			}
		}
		return false
	})
	waitHeld(t, nodes[1], 1) // and that node 0 does not
	refused(t, nodes[1], "solo", "alice")
	alive(t, first, nodes[0], "news")
}

// TestClusterHealthAndTelemetryCounts: node i holds i+1 connections, each subscribed to
// "news"; every node's health reports its own figures, each node's and the sums, and the
// telemetry of one publication adds the subscribers of every node up.
func TestClusterHealthAndTelemetryCounts(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	nodes := startRosterCluster(t, ns.ClientURL())
	var subs []*client
	for i, n := range nodes {
		for j := range i + 1 {
			c := connect(t, n, "solo", fmt.Sprintf("user-%d-%d", i, j))
			c.subscribe("news", nil)
			subs = append(subs, c)
		}
	}
	if code, body := api(t, nodes[0], "POST", "/api/topics/solo/publish", map[string]any{"topic": "news", "message": 1},
		"realtime:publisher:write:topic:*"); code != 200 {
		t.Fatalf("publish: %d %v", code, body)
	}
	for _, c := range subs {
		c.collect("news", 1)
	}

	ids := map[string]int{} // node id → index
	for i, n := range nodes {
		h := health(t, n)
		if h.Status != "ok" || h.Apps != 1 || h.Connections != i+1 || h.Node == "" {
			t.Fatalf("%s health %+v, want ok, 1 app, %d connections and its node id", n.name, h, i+1)
		}
		ids[h.Node] = i
	}
	for i, n := range nodes {
		var last healthBody
		waitUntil(t, n.name+" health adds the nodes up", func() bool {
			last = health(t, n)
			if last.Cluster == nil || last.Cluster.Nodes != 3 || last.Cluster.Connections != 6 || last.Cluster.Subscriptions != 12 || len(last.Nodes) != 3 {
				return false
			}
			for _, f := range last.Nodes {
				k, ok := ids[f.Node]
				if !ok || f.Connections != k+1 || f.Subscriptions != 2*(k+1) || f.Apps != 1 || f.Self != (k == i) {
					return false
				}
			}
			return true
		})
	}

	type totals struct {
		Ops         int64 `json:"ops"`
		Bytes       int64 `json:"bytes"`
		Subscribers int64 `json:"subscribers"`
		Records     []struct {
			ID          string `json:"_id"`
			Subscribers int64  `json:"subscribers"`
		} `json:"records"`
	}
	var tel struct {
		totals
		Node    string `json:"node"`
		Cluster totals `json:"cluster"`
		Nodes   []struct {
			Node        string `json:"node"`
			Self        bool   `json:"self"`
			Ops         int64  `json:"ops"`
			Subscribers int64  `json:"subscribers"`
		} `json:"nodes"`
	}
	waitUntil(t, "node 0 telemetry adds the nodes up", func() bool {
		code, body := api(t, nodes[0], "GET", "/api/telemetry/aggregates/solo/1", nil, server.PermManageApplication)
		if code != 200 {
			t.Fatalf("telemetry: %d %v", code, body)
		}
		b, _ := json.Marshal(body)
		tel.Nodes = nil
		if err := json.Unmarshal(b, &tel); err != nil {
			t.Fatal(err)
		}
		return tel.Cluster.Subscribers == 6 && len(tel.Nodes) == 3
	})
	if tel.Ops != 1 || tel.Subscribers != 1 || tel.Cluster.Ops != 1 || len(tel.Cluster.Records) != 1 || tel.Cluster.Records[0].Subscribers != 6 {
		t.Errorf("telemetry %+v: want this node 1 op to 1 subscriber, the cluster 1 op to 6 in one bucket", tel)
	}
	sort.Slice(tel.Nodes, func(a, b int) bool { return ids[tel.Nodes[a].Node] < ids[tel.Nodes[b].Node] })
	for k, f := range tel.Nodes {
		if ids[f.Node] != k || f.Ops != 1 || f.Subscribers != int64(k+1) || f.Self != (k == 0) {
			t.Errorf("telemetry of node %d: %+v, want 1 op to %d subscribers", k, f, k+1)
		}
	}
}

// TestSingleNodeHealthUnchanged: without a broker that spans nodes the health answer has
// this node's fields only.
func TestSingleNodeHealthUnchanged(t *testing.T) {
	s, err := server.New(rosterOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer func() { hs.Close(); _ = s.Close() }()
	var body map[string]any
	getJSON(t, hs.URL+"/api/health/status", &body)
	if len(body) != 3 || body["status"] != "ok" || body["apps"] != 1.0 || body["connections"] != 0.0 {
		t.Errorf("health %v, want exactly status, apps and connections", body)
	}
}

// cutProxy forwards TCP connections to a NATS server until cut, so that one node can be
// cut off while the others stay connected.
type cutProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	isCut  bool
	conns  []net.Conn
	closed bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.isCut || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
		p.mu.Unlock()
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// cut drops every forwarded connection and refuses new ones until heal.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) heal() {
	p.mu.Lock()
	p.isCut = false
	p.mu.Unlock()
}

// lossyBroker loses, on its way into this node, the first message drop picks.
type lossyBroker struct {
	*natsbroker.Broker
	drop    func(data []byte) bool
	dropped atomic.Bool
}

func (l *lossyBroker) SubscribeControl(h server.ControlHandler) (func(), error) {
	return l.Broker.SubscribeControl(func(ctx context.Context, data []byte) {
		if !l.dropped.Load() && l.drop(data) {
			l.dropped.Store(true)
			return
		}
		h(ctx, data)
	})
}

// TestRosterRepairsALostAnnouncement: node 1 loses node 0's "held" for alice (NATS core
// delivery is at most once). Node 0's next heartbeat carries a digest of what it holds
// that no longer matches node 1's view, so node 1 asks node 0 to announce itself again,
// learns of alice and refuses her.
func TestRosterRepairsALostAnnouncement(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	a := startNodeWith(t, "node-0", ns.ClientURL(), rosterOptions())
	var lossy *lossyBroker
	b := startNodeWrapped(t, "node-1", ns.ClientURL(), rosterOptions(), func(nb *natsbroker.Broker) server.Broker {
		lossy = &lossyBroker{Broker: nb, drop: func(data []byte) bool {
			return strings.Contains(string(data), `"roster":{"op":"held"`)
		}}
		return lossy
	})
	waitUntil(t, "the nodes to see each other", func() bool {
		ha, hb := health(t, a), health(t, b)
		return ha.Cluster != nil && ha.Cluster.Nodes == 2 && hb.Cluster != nil && hb.Cluster.Nodes == 2
	})

	connect(t, a, "solo", "alice")
	waitUntil(t, "node 1 to lose the announcement", lossy.dropped.Load)
	waitHeld(t, b, 1) // repaired from node 0's heartbeat digest
	refused(t, b, "solo", "alice")
}

// metricValue returns the value of the unlabelled series name on n's /metrics.
func metricValue(t *testing.T, n *node, name string) string {
	t.Helper()
	resp, err := http.Get(n.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "(absent)"
}
