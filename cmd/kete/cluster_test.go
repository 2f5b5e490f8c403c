package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/wstest"
)

// TestServersOnNATSActAsOne runs two bundled servers configured with
// kete.server.broker=nats://… against a NATS embedded in the test: an event published
// on one node reaches a subscriber of the other, each node counts the other in its
// health, and a subject connected to one node is refused by the other (the app's
// oneConnectionPerUser is reject).
func TestServersOnNATSActAsOne(t *testing.T) {
	natsURL := startNATS(t)
	dir := t.TempDir()
	secret := strings.Repeat("k", 32)
	apps := filepath.Join(dir, "apps.json")
	os.WriteFile(apps, []byte(`[{"appId":"demo","enabled":true,"oneConnectionPerUser":"reject",
		"authKey":{"source":"raw","key":"`+secret+`","algorithms":["HS256"]},
		"adminKey":{"source":"raw","key":"`+secret+`","algorithms":["HS256"]}}]`), 0o600)
	props := filepath.Join(dir, "server.properties")
	os.WriteFile(props, []byte("kete.server.apps-file="+apps+"\nkete.server.broker="+natsURL+"\nkete.server.nats.heartbeat-interval=100ms\n"), 0o600)
	cfg, err := config.Load(props, nil)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*testApp
	for range 2 {
		srv, err := newServer(cfg.Server, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() { hs.Close(); srv.Close() })
		nodes = append(nodes, &testApp{srv: srv, hs: hs, secret: []byte(secret)})
	}
	// subscribe publishes probes through node 0's HTTP API until one reaches node 1.
	sub := nodes[1].subscribeVia(t, nodes[0], "events")
	nodes[0].publish(t, "events", `{"id":"cross-node","kind":"EVENT","type":"LOGIN"}`)
	if dups := sub.waitFor(t, map[string]bool{"cross-node": true}, 10*time.Second); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}

	// The heartbeats (every 100 ms, from the config) make node 0 count node 1.
	waitUntil(t, 10*time.Second, "node 0 to count both nodes", func() bool {
		var h struct {
			Cluster *struct{ Nodes, Connections int } `json:"cluster"`
		}
		resp, err := http.Get(nodes[0].baseURL() + "/api/health/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Cluster != nil && h.Cluster.Nodes == 2 && h.Cluster.Connections == 1
	})
	// Nothing NATS brought was dropped, and the count is there to alert on.
	for i, n := range nodes {
		resp, err := http.Get(n.baseURL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "\nkete_server_broker_dropped_total 0\n") {
			t.Errorf("node %d /metrics has no kete_server_broker_dropped_total 0", i)
		}
	}
	// The subscriber holds its subject on node 1: node 0 refuses it before the upgrade.
	url := "ws://" + nodes[0].addr() + "/apps/demo?access_token=" + nodes[0].token(t, sub.sub)
	if _, resp, err := wstest.Dial(t, url, wstest.Options{}); err == nil {
		t.Fatal("a second connection of the subject on the other node was accepted")
	} else if wstest.Status(resp) != http.StatusConflict {
		t.Fatalf("second connection on the other node: %v (status %d), want 409", err, wstest.Status(resp))
	}
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
