package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/config"
)

// TestServersOnNATSActAsOne runs two bundled servers configured with
// kete.server.broker=nats://… against a NATS embedded in the test: an event published
// on one node reaches a subscriber of the other.
func TestServersOnNATSActAsOne(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	dir := t.TempDir()
	secret := strings.Repeat("k", 32)
	apps := filepath.Join(dir, "apps.json")
	os.WriteFile(apps, []byte(`[{"appId":"demo","enabled":true,
		"authKey":{"source":"raw","key":"`+secret+`","algorithms":["HS256"]},
		"adminKey":{"source":"raw","key":"`+secret+`","algorithms":["HS256"]}}]`), 0o600)
	props := filepath.Join(dir, "server.properties")
	os.WriteFile(props, []byte("kete.server.apps-file="+apps+"\nkete.server.broker="+ns.ClientURL()+"\n"), 0o600)
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
}
