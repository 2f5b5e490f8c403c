package bench

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/server"
)

// startNATS runs a NATS server embedded in the test, on a free loopback port.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready within 10s")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// startNodes serves n nodes of kete's server in this process, each on the NATS broker at
// natsURL with one subject prefix, and returns their ws:// URLs.
func startNodes(t *testing.T, n int, natsURL, secret string) []string {
	t.Helper()
	prefix := clusterSubjectPrefix(n)
	var urls []string
	for range n {
		b, err := newNATSBroker(context.Background(), natsURL, prefix)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(server.Options{Apps: []server.App{benchApp("bench", secret)}, Broker: b, CloseBroker: true})
		if err != nil {
			_ = b.Close()
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			_ = srv.Close()
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			_ = srv.Close()
			hs.Close()
		})
		urls = append(urls, "ws://"+hs.Listener.Addr().String())
	}
	return urls
}

// checkEverySubscriber asserts that every subscriber on every node got every message
// exactly once, and that the subscribers were spread evenly over the nodes.
func checkEverySubscriber(t *testing.T, res *result, subs, nodes int) {
	t.Helper()
	if res.Connected != subs || res.Sent == 0 || res.Loss != 0 || res.Received != res.Sent*int64(subs) {
		t.Errorf("%s: connected %d of %d, sent %d, received %d, loss %d (errors %v)",
			res.Target.Name, res.Connected, subs, res.Sent, res.Received, res.Loss, res.Errors)
	}
	if res.SubscriberMin != res.Sent || res.SubscriberMax != res.Sent {
		t.Errorf("%s: a subscriber got between %d and %d messages, want all %d", res.Target.Name, res.SubscriberMin, res.SubscriberMax, res.Sent)
	}
	if len(res.PerNode) != nodes {
		t.Fatalf("%s: %d nodes in PerNode, want %d", res.Target.Name, len(res.PerNode), nodes)
	}
	for i, n := range res.PerNode {
		if n.Subscribers != subs/nodes || n.Received != res.Sent*int64(n.Subscribers) {
			t.Errorf("%s: node %d (%s): %d subscribers received %d, want %d subscribers × %d", res.Target.Name, i, n.URL, n.Subscribers, n.Received, subs/nodes, res.Sent)
		}
	}
}

// TestCompareThreeNodesWithOne runs the same load against three nodes and against one,
// all on one NATS (the sides on subject prefixes of their own), and checks both sides
// and the ratios.
func TestCompareThreeNodesWithOne(t *testing.T) {
	natsURL := startNATS(t)
	secret := newSecret()
	tok, err := mintToken(secret, "bench", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	three := target{Name: nodesName(3), Kind: kindServer, App: "bench", Token: tok, Nodes: startNodes(t, 3, natsURL, secret)}
	one := target{Name: nodesName(1), Kind: kindServer, App: "bench", Token: tok, Nodes: startNodes(t, 1, natsURL, secret)}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rep := newReport("test", "go test")
	rep.Pair = &pair{Subject: three.Name, Baseline: one.Name}
	// 30 subscribers, 3,000 deliveries/s for 1s: 100 messages, 3,000 deliveries a side;
	// 3 publishers, one per node of the cluster.
	o := fanoutOptions{Subscribers: 30, Rate: 3000, Duration: time.Second, Publishers: 3}
	if err := compareFanout(ctx, rep, []target{three, one}, o, 1, nil); err != nil {
		t.Fatal(err)
	}
	if len(rep.Fanout) != 2 || rep.Fanout[0].Target.Name != "3 nodes" || rep.Fanout[1].Target.Name != "1 node" {
		t.Fatalf("runs %+v", rep.Fanout)
	}
	checkEverySubscriber(t, rep.Fanout[0], 30, 3)
	checkEverySubscriber(t, rep.Fanout[1], 30, 1)
	for _, res := range rep.Fanout {
		if res.Sent != 100 {
			t.Errorf("%s: sent %d, want 100", res.Target.Name, res.Sent)
		}
	}
	want := map[string]bool{"fan-out deliveries/s": false, "fan-out p99 latency": false, "fan-out loss": false}
	for _, r := range rep.Ratios {
		if _, ok := want[r.Figure]; ok {
			want[r.Figure] = true
		}
		if r.Figure == "fan-out deliveries/s" && (r.Subject <= 0 || r.Baseline <= 0 || r.Ratio <= 0) {
			t.Errorf("deliveries/s ratio %+v", r)
		}
	}
	for f, ok := range want {
		if !ok {
			t.Errorf("no ratio for %q in %+v", f, rep.Ratios)
		}
	}
	var table strings.Builder
	if err := rep.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "figure (3 nodes ÷ 1 node)") {
		t.Errorf("table has no cluster ÷ single header:\n%s", table.String())
	}
}

// TestSaturateThreeNodes checks that saturation works over several nodes: the in-flight
// window counts the deliveries of every node, and nothing is lost.
func TestSaturateThreeNodes(t *testing.T) {
	natsURL := startNATS(t)
	secret := newSecret()
	tok, err := mintToken(secret, "bench", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	target := target{Name: "3 nodes", Kind: kindServer, App: "bench", Token: tok, Nodes: startNodes(t, 3, natsURL, secret)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := runFanout(ctx, target, fanoutOptions{
		Mode: modeSaturate, Subscribers: 30, Duration: 500 * time.Millisecond, Window: 16, Publish: publishWS, Publishers: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkEverySubscriber(t, res, 30, 3)
}

func TestClusterTargetChecksEveryNode(t *testing.T) {
	tests := []struct {
		name  string
		nodes []string
		want  string // in the error; empty: no error
	}{
		{"loopback nodes", []string{"ws://127.0.0.1:1", "ws://[::1]:2"}, ""},
		{"one remote node", []string{"ws://127.0.0.1:1", "ws://192.0.2.1:9"}, "192.0.2.1:9"},
		{"bad scheme", []string{"ws://127.0.0.1:1", "http://127.0.0.1:2"}, "http://127.0.0.1:2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := target{Name: "c", Kind: kindServer, App: "a", Token: "t", Nodes: tc.nodes}.check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestTargetNodeRoundRobin(t *testing.T) {
	c := target{Name: "c", Kind: kindServer, App: "a", Token: "t", Nodes: []string{"ws://127.0.0.1:1", "ws://127.0.0.1:2", "ws://127.0.0.1:3"}}
	for i, want := range []string{"ws://127.0.0.1:1", "ws://127.0.0.1:2", "ws://127.0.0.1:3", "ws://127.0.0.1:1"} {
		if got := c.node(i); got.URL != want || got.Nodes != nil {
			t.Errorf("node(%d) = %q (nodes %v), want %q alone", i, got.URL, got.Nodes, want)
		}
	}
	single := target{URL: "ws://127.0.0.1:9"}
	if got := single.node(5).URL; got != single.URL {
		t.Errorf("single node(5) = %q", got)
	}
}

func TestNATSUnreachableNamesURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := checkNATS(ctx, "nats://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Fatalf("err = %v, want one naming the URL", err)
	}
}
