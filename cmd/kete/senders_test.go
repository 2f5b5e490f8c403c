package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// The webhook extensions as they really post: vymalo's HTTP sender to <base>/ with basic
// auth and only the realm's id, p2-inc v0.40+ with realmId the id and realmName the name.
// A route that names its realm gets both, and every refused post is counted in /metrics.
func TestDaemonTakesWhatTheSendersReallyPost(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithRealm("globex"))
	app := startTestServer(t)
	sub := app.subscribe(t, "events")
	props := routeConfig(app, t, "127.0.0.1:0", t.TempDir()) + `
kete.routes.all.realm-matchers.realm=list:acme
kete.sources.webhook.basic-username=keycloak
kete.sources.webhook.basic-password=webhook-pw
kete.keycloak.url=` + kc.URL + `
kete.keycloak.username=` + keycloaktest.DefaultAdminUsername + `
kete.keycloak.password=` + keycloaktest.DefaultAdminPassword + `
`
	d, url := startTestDaemon(t, props, daemonOptions{})
	post := func(path, body string, auth bool) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth {
			req.SetBasicAuth("keycloak", "webhook-pw")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// vymalo's WebhookRequest (utils/Converter.kt): no realmName.
	vymalo := func(id, realmID string) string {
		return `{"type":"LOGIN","id":"` + id + `","time":1732694600000,"clientId":"web","realmId":"` + realmID + `","userId":"u1","ipAddress":"203.0.113.7","sessionId":"s1"}`
	}
	if status := post("/", vymalo("vymalo-globex", kc.RealmID("globex")), true); status != http.StatusAccepted {
		t.Fatalf("vymalo POST to /events/ = %d, want 202", status)
	}
	if status := post("/", vymalo("vymalo-acme", kc.RealmID("acme")), true); status != http.StatusAccepted {
		t.Fatalf("vymalo POST to /events/ = %d, want 202", status)
	}
	p2 := `{"id":"p2-acme","time":1740000000456,"realmId":"` + kc.RealmID("acme") + `","realmName":"acme","authDetails":{"realmId":"master","clientId":"security-admin-console","userId":"admin-id","ipAddress":"198.51.100.4","username":"admin"},"resourceType":"USER","operationType":"CREATE","resourcePath":"users/u2","details":{},"uid":"delivery-1","type":"admin.USER-CREATE"}`
	if status := post("", p2, true); status != http.StatusAccepted {
		t.Fatalf("p2-inc POST to /events = %d, want 202", status)
	}
	sub.waitFor(t, map[string]bool{"vymalo-acme": true, "p2-acme": true}, 20*time.Second)
	sub.mu.Lock()
	globex := sub.counts["vymalo-globex"]
	sub.mu.Unlock()
	if globex != 0 { // posted first, delivered in order: had it matched, it would be here
		t.Error("an event of realm globex reached the route for acme")
	}

	for range 3 {
		if status := post("", p2, false); status != http.StatusUnauthorized {
			t.Fatalf("POST without credentials = %d, want 401", status)
		}
	}
	resp, err := http.Get("http://" + d.opsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`kete_webhook_refused_total{reason="unauthorized"} 3`, `kete_webhook_refused_total{reason="signature"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A configuration that sets the webhook's listener but does not enable it starts a daemon
// that answers 404 to every post; `kete run` says so and names the key.
func TestRunWarnsWhenNoSourceIsEnabled(t *testing.T) {
	path := t.TempDir() + "/kete.properties"
	props := "kete.routes.ws.destination.url=ws://127.0.0.1:1/\nkete.routes.ws.destination.pool.min-idle=0\n" +
		"kete.sources.webhook.listen=127.0.0.1:0\nkete.spool.dir=" + t.TempDir() + "\n"
	if err := os.WriteFile(path, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, []string{"run", "--config", path}, &stdout, &stderr)
	}()
	// The warning comes before the daemon starts; stop it once the warning shows.
	warned := func() bool {
		return strings.Contains(stderr.String(), "kete.sources.webhook.listen is set but kete.sources.webhook.enabled is not") &&
			strings.Contains(stderr.String(), "set kete.sources.webhook.enabled=true")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !warned() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if !warned() {
		t.Errorf("kete run does not warn about the disabled webhook:\n%s", stderr.String())
	}
}
