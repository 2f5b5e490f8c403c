package natsbroker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/server/natsbroker"
)

// The cluster tests run three server nodes in this process, each with its own NATS broker,
// on one embedded NATS server with JetStream. This file starts and stops them and calls
// their HTTP endpoints.

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
	b := startNodeBroker(t, name, url, natsbroker.HistoryOptions{Heartbeat: 200 * time.Millisecond})
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

// startNodeBroker starts node name's broker on url, with JetStream history h; the node
// closes it.
func startNodeBroker(t *testing.T, name, url string, h natsbroker.HistoryOptions) *natsbroker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbroker.New(natsbroker.Options{URL: url, Name: name, ReconnectWait: 20 * time.Millisecond, History: &h})
	if err == nil {
		if err = b.Start(ctx); err != nil {
			b.Close()
		}
	}
	if err != nil {
		t.Fatalf("%s: natsbroker: %v", name, err)
	}
	return b
}

func startCluster(t *testing.T, url string) []*node {
	t.Helper()
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNode(t, "node-"+strconv.Itoa(i), url)
	}
	return nodes
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
