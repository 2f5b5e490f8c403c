package keycloaktest_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// TestRealmEventsConfigEndpoint: GET and PUT …/events/config behave as Keycloak's
// RealmAdminResource and RealmManager.updateRealmEventsConfig do.
func TestRealmEventsConfigEndpoint(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	h := adminToken(t, kc)
	u := kc.URL + "/admin/realms/acme/events/config"

	status, got, _, _ := call(t, http.MethodGet, u, h, "")
	if status != http.StatusOK || got["eventsEnabled"] != false || got["adminEventsEnabled"] != false {
		t.Fatalf("GET new realm = %d %v", status, got)
	}
	if l, _ := got["eventsListeners"].([]any); len(l) != 1 || l[0] != "jboss-logging" {
		t.Errorf("listeners %v, want [jboss-logging]", got["eventsListeners"])
	}
	types, _ := got["enabledEventTypes"].([]any)
	if !slices.Contains(types, any("LOGIN")) || slices.Contains(types, any("REFRESH_TOKEN")) {
		t.Errorf("default types %v, want the save-by-default ones", types)
	}
	if _, ok := got["eventsExpiration"]; ok {
		t.Errorf("expiration present for a realm that keeps events forever: %v", got)
	}

	h.Set("Content-Type", "application/json")
	status, _, _, _ = call(t, http.MethodPut, u, h, `{"eventsEnabled":true,"eventsExpiration":60,"eventsListeners":["jboss-logging","email"],"adminEventsEnabled":true}`)
	if status != http.StatusNoContent {
		t.Fatalf("PUT = %d, want 204", status)
	}
	// Absent eventsEnabled and eventsExpiration reset; absent lists and flags are kept.
	if status, _, _, _ = call(t, http.MethodPut, u, h, `{"adminEventsDetailsEnabled":true}`); status != http.StatusNoContent {
		t.Fatalf("second PUT = %d", status)
	}
	c := kc.RealmEventsConfig("acme")
	if c.EventsEnabled || c.EventsExpiration != nil || !*c.AdminEventsEnabled || !*c.AdminEventsDetailsEnabled ||
		!slices.Equal(c.EventsListeners, []string{"jboss-logging", "email"}) {
		t.Errorf("config %+v", c)
	}

	// Each update was recorded as a REALM UPDATE admin event, admin events being on.
	_, _, evs, _ := call(t, http.MethodGet, kc.URL+"/admin/realms/acme/admin-events", h, "")
	if len(evs) != 2 {
		t.Fatalf("admin events %v, want two REALM UPDATEs", evs)
	}
	for _, e := range evs {
		m := e.(map[string]any)
		if m["resourceType"] != "REALM" || m["operationType"] != "UPDATE" || m["resourcePath"] != "events/config" {
			t.Errorf("admin event %v", m)
		}
	}

	h.Del("Authorization")
	if status, _, _, _ = call(t, http.MethodGet, u, h, ""); status != http.StatusUnauthorized {
		t.Errorf("GET without a token = %d, want 401", status)
	}
}
