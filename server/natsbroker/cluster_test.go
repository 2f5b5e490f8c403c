package natsbroker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/server/natsbroker"
)

// The cluster tests run three server nodes in this process, each with its own NATS broker,
// on one embedded NATS server with JetStream.

const (
	clientSecret = "cluster-client-secret-0123456789abcdef"
	adminSecret  = "cluster-admin-secret-0123456789abcdef!"
	waitLimit    = 10 * time.Second
)

func hs256(secret string) auth.Key {
	return auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}}
}

func token(t testing.TB, secret, sub string, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: time.Hour, Permissions: perms})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// clusterApps: "hist" keeps history (100 messages per topic) and announces presence;
// "live" keeps none and replaces a user's older connection.
func clusterApps() []server.App {
	return []server.App{
		{AppID: "hist", Enabled: true, AuthKey: hs256(clientSecret), AdminKey: hs256(adminSecret),
			EnableWebSocketInboundTopic: true, HistorySize: 100},
		{AppID: "live", Enabled: true, AuthKey: hs256(clientSecret), AdminKey: hs256(adminSecret),
			OneConnectionPerUser: server.OnePerUserReplace},
	}
}

// startJetStream runs NATS with JetStream on port (0: any), storing in dir.
func startJetStream(t testing.TB, port int, dir string) *natsserver.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, JetStream: true, StoreDir: dir})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// node is one server of the cluster.
type node struct {
	name   string
	srv    *server.Server
	http   *httptest.Server
	broker *natsbroker.Broker
	once   sync.Once
}

// kill stops the node as a crash would look to its clients: connections drop.
func (n *node) kill() {
	n.once.Do(func() {
		n.http.CloseClientConnections()
		n.http.Close()
		_ = n.srv.Close()
		_ = n.broker.Close()
	})
}

func startNode(t *testing.T, name, url string) *node {
	t.Helper()
	return startNodeWith(t, name, url, server.Options{Apps: clusterApps(), ReloadInterval: -1})
}

// startNodeWith starts a node with server options o (Broker is set here).
func startNodeWith(t *testing.T, name, url string, o server.Options) *node {
	t.Helper()
	return startNodeWrapped(t, name, url, o, nil)
}

// startNodeWrapped is startNodeWith whose server sees the broker through wrap (when set).
func startNodeWrapped(t *testing.T, name, url string, o server.Options, wrap func(*natsbroker.Broker) server.Broker) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbroker.New(ctx, natsbroker.Options{URL: url, Name: name, ReconnectWait: 20 * time.Millisecond,
		History: &natsbroker.HistoryOptions{Heartbeat: 200 * time.Millisecond}})
	if err != nil {
		t.Fatalf("%s: natsbroker.New: %v", name, err)
	}
	o.Broker = b
	if wrap != nil {
		o.Broker = wrap(b)
	}
	s, err := server.New(o)
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

func startCluster(t *testing.T, url string) []*node {
	t.Helper()
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNode(t, "node-"+strconv.Itoa(i), url)
	}
	return nodes
}

// frame is one frame a client received.
type frame struct {
	Raw         []byte
	Topic       string          `json:"topic"`
	MessageType string          `json:"messageType"`
	Data        json.RawMessage `json:"data"`
	Offset      uint64          `json:"offset"`
	Type        string          `json:"type"`   // ingest acks
	Status      string          `json:"status"` // ingest acks
}

// client is a WebSocket client recording what it receives.
type client struct {
	t      testing.TB
	c      *gws.Conn
	id     string
	frames chan frame
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

func (c *client) OnOpen(*gws.Conn)             {}
func (c *client) OnPing(s *gws.Conn, p []byte) { _ = s.WritePong(p) }
func (c *client) OnPong(*gws.Conn, []byte)     {}
func (c *client) OnClose(_ *gws.Conn, err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}
func (c *client) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	f := frame{Raw: append([]byte(nil), m.Bytes()...)}
	_ = json.Unmarshal(f.Raw, &f)
	select {
	case c.frames <- f:
	default:
		c.t.Errorf("client: frame buffer full, dropping %s", f.Raw)
	}
}

func dialWS(t testing.TB, url string) *client {
	t.Helper()
	c, code, err := tryDial(t, url)
	if err != nil || c == nil {
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, code)
	}
	return c
}

// tryDial opens a client connection without failing the test: the client, or the
// refusal's HTTP status. It may run on any goroutine.
func tryDial(t testing.TB, url string) (*client, int, error) {
	c := &client{t: t, frames: make(chan frame, 4096), done: make(chan struct{})}
	conn, resp, err := gws.NewClient(c, &gws.ClientOption{Addr: url})
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode, nil
		}
		return nil, 0, fmt.Errorf("dial %s: %w", url, err)
	}
	c.c = conn
	go conn.ReadLoop()
	t.Cleanup(func() {
		_ = conn.WriteClose(1000, nil)
		select {
		case <-c.done:
		case <-time.After(waitLimit):
		}
	})
	return c, http.StatusSwitchingProtocols, nil
}

func wsBase(n *node) string { return "ws" + strings.TrimPrefix(n.http.URL, "http") }

// connect opens a client connection of subject to app on n and waits for its welcome.
func connect(t testing.TB, n *node, app, subject string, perms ...string) *client {
	t.Helper()
	c := dialWS(t, wsBase(n)+"/apps/"+app+"?access_token="+token(t, clientSecret, subject, perms...))
	w := c.waitFor("main", "welcome")
	var d struct {
		Connection struct{ ID string } `json:"connection"`
	}
	if err := json.Unmarshal(w.Data, &d); err != nil || d.Connection.ID == "" {
		t.Fatalf("welcome %s: %v", w.Raw, err)
	}
	c.id = d.Connection.ID
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.c.WriteMessage(gws.OpcodeText, b); err != nil {
		c.t.Fatalf("send %s: %v", b, err)
	}
}

func (c *client) waitFor(topic, messageType string) frame {
	c.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case f := <-c.frames:
			if f.Topic == topic && f.MessageType == messageType {
				return f
			}
		case <-c.done:
			c.t.Fatalf("closed (%v) while waiting for %s/%s", c.closeErr(), topic, messageType)
		case <-deadline:
			c.t.Fatalf("no %s/%s frame within %v", topic, messageType, waitLimit)
		}
	}
}

// collect returns the next n frames on topic (skipping others).
func (c *client) collect(topic string, n int) []frame {
	c.t.Helper()
	var got []frame
	deadline := time.After(waitLimit)
	for len(got) < n {
		select {
		case f := <-c.frames:
			if f.Topic == topic {
				got = append(got, f)
			}
		case <-deadline:
			c.t.Fatalf("got %d of %d frames on %s within %v: %v", len(got), n, topic, waitLimit, raws(got))
		}
	}
	return got
}

func raws(fs []frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.Raw)
	}
	return out
}

func (c *client) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// waitClosed waits for the connection to end and returns its close code and reason.
func (c *client) waitClosed() (uint16, string) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		c.t.Fatalf("connection not closed within %v", waitLimit)
	}
	var ce *gws.CloseError
	if errors.As(c.closeErr(), &ce) {
		return ce.Code, string(ce.Reason)
	}
	return 1006, fmt.Sprint(c.closeErr())
}

// welcome is a subscribe confirmation's data.
type welcome struct {
	Topic     string `json:"topic"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Recovered *bool  `json:"recovered"`
	Replayed  int    `json:"replayed"`
}

// subscribe subscribes (from since, when not nil) and returns the welcome's data.
func (c *client) subscribe(topic string, since *server.StreamPosition) welcome {
	c.t.Helper()
	data := map[string]any{"topic": topic}
	if since != nil {
		data["since"] = since
	}
	c.send(map[string]any{"type": "subscribe", "data": data})
	f := c.waitFor(topic, "welcome")
	var w welcome
	if err := json.Unmarshal(f.Data, &w); err != nil {
		c.t.Fatalf("welcome %s: %v", f.Raw, err)
	}
	return w
}

func (c *client) publish(topic string, payload any) {
	c.t.Helper()
	c.send(map[string]any{"type": "publish", "data": map[string]any{"topic": topic, "payload": payload}})
}

// api calls n's HTTP API with an admin token.
func api(t testing.TB, n *node, method, path string, body any, perms ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, n.http.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token(t, adminSecret, "admin", perms...))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func readyz(t testing.TB, n *node) int {
	t.Helper()
	resp, err := http.Get(n.http.URL + "/readyz")
	if err != nil {
		t.Fatalf("readyz %s: %v", n.name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitUntil polls cond until it holds or waitLimit passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// payloadOf returns a WebSocket publish's payload (data.payload) or the data itself.
// wantCount checks that frames carry the payloads first, first+1, … with growing offsets:
// a recovered gap, in order, replayed before live messages and none twice.
func wantCount(t testing.TB, frames []frame, first int) {
	t.Helper()
	for i, f := range frames {
		if want := strconv.Itoa(first + i); payloadOf(f) != want {
			t.Fatalf("frame %d after recovery is %s, want payload %s (in order, replay before live, once)", i, f.Raw, want)
		}
		if i > 0 && f.Offset <= frames[i-1].Offset {
			t.Errorf("offsets not increasing: %d after %d", f.Offset, frames[i-1].Offset)
		}
	}
}

func payloadOf(f frame) string {
	var d struct {
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(f.Data, &d) == nil && d.Payload != nil {
		return string(d.Payload)
	}
	return string(f.Data)
}

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
	ing := dialWS(t, wsBase(nodes[2])+"/apps/hist/publish/news?ack=1&access_token="+token(t, clientSecret, "ingest", pubPerm))
	if err := ing.c.WriteMessage(gws.OpcodeText, []byte(`{"id":"e-1","v":"via-ingest"}`)); err != nil {
		t.Fatal(err)
	}
	if a := <-ing.frames; a.Type != "ack" || a.Status != "ok" {
		t.Fatalf("ingest ack %s", a.Raw)
	}
	var offsets [][]uint64
	for i, c := range subs {
		got := c.collect("news", 3)
		seen := map[string]bool{}
		var offs []uint64
		for _, f := range got {
			seen[payloadOf(f)] = true
			offs = append(offs, f.Offset)
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
	code, body = api(t, nodes[2], "DELETE", "/api/connections/live/"+carol.id, nil, server.PermManageConnections)
	if code != 202 || body["forwarded"] != true {
		t.Fatalf("close carol (on node 1) through node 2: %d %v, want 202 forwarded", code, body)
	}
	if code, reason := carol.waitClosed(); code != server.CloseNormal || reason != server.ReasonClosedByAdmin {
		t.Errorf("carol closed with %d %q", code, reason)
	}

	var all []*client
	for i, n := range nodes {
		all = append(all, connect(t, n, "live", "user-"+strconv.Itoa(i)))
	}
	if code, body := api(t, nodes[1], "DELETE", "/api/connections/live", nil, server.PermManageConnections); code != 200 {
		t.Fatalf("close all: %d %v", code, body)
	}
	for i, c := range all {
		if code, _ := c.waitClosed(); code != server.CloseNormal {
			t.Errorf("connection on node %d closed with %d", i, code)
		}
	}
}

// receivesBefore reads frames up to the next broadcast on fence and reports whether one
// on topic came first.
func (c *client) receivesBefore(topic, fence string) bool {
	c.t.Helper()
	seen := false
	deadline := time.After(waitLimit)
	for {
		select {
		case f := <-c.frames:
			if f.Topic == topic {
				seen = true
			}
			if f.Topic == fence && f.MessageType == "broadcast" {
				return seen
			}
		case <-deadline:
			c.t.Fatalf("fence on %s not received within %v", fence, waitLimit)
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
			f := watcher.waitFor("secure/inbound", "presence")
			var d struct {
				Client  struct{ ConnectionID, Subject string } `json:"client"`
				Payload struct{ Status string }                `json:"payload"`
			}
			if err := json.Unmarshal(f.Data, &d); err != nil {
				t.Fatalf("presence %s: %v", f.Raw, err)
			}
			if d.Client.ConnectionID != watcher.id {
				return d.Client.ConnectionID, d.Payload.Status
			}
		}
	}
	if id, st := status(); id != visitor.id || st != "connected" {
		t.Errorf("presence: %s %s, want %s connected", id, st, visitor.id)
	}
	_ = visitor.c.WriteClose(1000, nil)
	if id, st := status(); id != visitor.id || st != "disconnected" {
		t.Errorf("presence: %s %s, want %s disconnected", id, st, visitor.id)
	}

	first := connect(t, nodes[0], "live", "alice")
	connect(t, nodes[2], "live", "alice")
	if code, reason := first.waitClosed(); code != server.ClosePolicyViolation || reason != server.ReasonReplaced {
		t.Errorf("older connection on node 0 closed with %d %q, want 1008 %q", code, reason, server.ReasonReplaced)
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
		c := dialWS(t, wsBase(n)+"/apps/live/publish/events?ack=1&access_token="+token(t, clientSecret, "destination", perm))
		if err := c.c.WriteMessage(gws.OpcodeText, []byte(frameText)); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-c.frames:
			_ = c.c.WriteClose(1000, nil)
			return a.Status
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
	if last.Offset == 0 {
		t.Fatalf("message without offset: %s", last.Raw)
	}
	since := server.StreamPosition{Offset: last.Offset, Epoch: w.Epoch}

	nodes[2].kill()
	victim.waitClosed()
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
	if f := histPub.waitFor("feed", "error"); !strings.Contains(string(f.Data), "publish_failed") {
		t.Errorf("history publish during the outage answered %s, want publish_failed", f.Raw)
	}
	_ = histSub.c.WriteClose(1000, nil) // the reader goes away too
	histSub.waitClosed()

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
	watch.subscribe("feed", &server.StreamPosition{Offset: before.Offset, Epoch: w.Epoch})
	watch.collect("feed", 3)
	rw := back.subscribe("feed", &server.StreamPosition{Offset: before.Offset, Epoch: w.Epoch})
	if rw.Recovered == nil || !*rw.Recovered || rw.Replayed != 3 {
		t.Fatalf("recovery after the outage: %+v, want recovered with 3 replayed", rw)
	}
	for i, f := range back.collect("feed", 3) {
		if want := `"after-` + strconv.Itoa(i) + `"`; payloadOf(f) != want {
			t.Errorf("replayed %d: %s, want %s", i, f.Raw, want)
		}
	}
}
