package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// A daemon whose poller loses Keycloak says so in /readyz and /metrics.
func TestPollerOutageShowsInReadyz(t *testing.T) {
	app := startTestServer(t)
	kc, err := keycloaktest.Start(keycloaktest.WithRealm("acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	props := routeConfig(app, t, "127.0.0.1:0", t.TempDir()) + fmt.Sprintf(`
kete.keycloak.url=%s
kete.keycloak.username=admin
kete.keycloak.password=admin
kete.sources.keycloak.enabled=true
kete.sources.keycloak.realms=acme
kete.sources.keycloak.interval=50ms
`, kc.URL)
	d, _ := startTestDaemon(t, props, daemonOptions{})
	ops := "http://" + d.opsAddr.String()
	waitAnswer(t, ops+"/readyz", http.StatusOK, `"source":"keycloak-poller/acme","failing":false`)

	kc.Close()
	waitAnswer(t, ops+"/readyz", http.StatusServiceUnavailable, `"source":"keycloak-poller/acme","failing":true`)
	waitAnswer(t, ops+"/metrics", http.StatusOK, `kete_source_poll_errors_total{source="keycloak-poller/acme"}`)
}

// waitAnswer waits until GET url answers status with a body containing want.
func waitAnswer(t *testing.T, url string, status int, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			if resp.StatusCode == status && strings.Contains(string(b), want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered %d with %q; last: %s", url, status, want, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
