package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// With kete.sources.keycloak.configure-realms=true the daemon turns on saving events in
// the polled realm, then forwards the REALM UPDATE that Keycloak recorded for the change,
// counted under KETE's metric names.
func TestPollerConfiguresRealmsEndToEnd(t *testing.T) {
	app := startTestServer(t)
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	props := routeConfig(app, t, "127.0.0.1:0", t.TempDir()) + fmt.Sprintf(`
kete.keycloak.url=%s
kete.keycloak.username=admin
kete.keycloak.password=admin
kete.sources.keycloak.enabled=true
kete.sources.keycloak.realms=acme
kete.sources.keycloak.interval=50ms
kete.sources.keycloak.configure-realms=true
`, kc.URL)
	d, _ := startTestDaemon(t, props, daemonOptions{})
	ops := "http://" + d.opsAddr.String()
	waitAnswer(t, ops+"/metrics", http.StatusOK, `kete_events_forwarded_total{event_type="REALM_UPDATE",realm="acme",route="all"} 1`)
	c := kc.RealmEventsConfig("acme")
	if !c.EventsEnabled || !*c.AdminEventsEnabled || !*c.AdminEventsDetailsEnabled {
		t.Errorf("realm events config %+v: want saving on", c)
	}
}
