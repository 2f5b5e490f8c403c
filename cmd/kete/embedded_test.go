package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunWithEmbeddedServer is `kete run` with kete.server.enabled=true: one process
// takes events at the webhook and serves them to subscribers of its own server.
func TestRunWithEmbeddedServer(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("k", 32)
	apps := filepath.Join(dir, "apps.yaml")
	os.WriteFile(apps, []byte(fmt.Sprintf(`
- appId: demo
  enabled: true
  authKey: {source: raw, key: %q, algorithms: [HS256]}
  adminKey: {source: raw, key: %q, algorithms: [HS256]}
`, secret, secret)), 0o600)
	placeholder := &testApp{secret: []byte(secret)}
	serverAddr := freeAddr(t)
	props := fmt.Sprintf(`
kete.server.enabled=true
kete.server.listen=%s
kete.server.apps-file=%s
kete.routes.all.destination.kind=websocket
kete.routes.all.destination.url=ws://%s/apps/demo/publish/events?ack=1
kete.routes.all.destination.headers.Authorization=Bearer %s
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%s
`, serverAddr, apps, serverAddr, placeholder.token(t, "daemon", "realtime:publisher:write:topic:*"), filepath.Join(dir, "spool"))
	d, _ := startTestDaemon(t, props, daemonOptions{})
	// Talk to the embedded server as any client would.
	app := &testApp{secret: []byte(secret), hs: nil}
	app.hsURL = "http://" + serverAddr
	sub := app.subscribe(t, "events")
	events := makeEvents("embedded", 0, 100)
	if status, err := postEvents(context.Background(), "http://"+d.opsAddr.String()+"/events", events); err != nil || status != http.StatusAccepted {
		t.Fatalf("POST = %d, %v", status, err)
	}
	want := map[string]bool{}
	for _, e := range events {
		want[e.ID] = true
	}
	sub.waitFor(t, want, 20*time.Second)
}
