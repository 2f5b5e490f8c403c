package keycloaktest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// The realm list, client scopes and their links to a client behave as Keycloak's
// RealmsAdminResource, ClientScopesResource and ClientResource, and the token endpoint
// grants an optional scope only once it is linked.
func TestRealmsAndClientScopes(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	auth := adminToken(t, kc)

	status, _, realms, _ := call(t, http.MethodGet, kc.URL+"/admin/realms?briefRepresentation=true", auth, "")
	if status != http.StatusOK || len(realms) != 2 {
		t.Fatalf("GET /admin/realms = %d %v", status, realms)
	}
	for _, r := range realms {
		rep := r.(map[string]any)
		if rep["id"] != kc.RealmID(rep["realm"].(string)) {
			t.Errorf("realm %v: id is not the realm's", rep)
		}
	}
	if status, _, _, _ := call(t, http.MethodGet, kc.URL+"/admin/realms", nil, ""); status != http.StatusUnauthorized {
		t.Errorf("GET /admin/realms without a token = %d, want 401", status)
	}

	scopeID := kc.AddClientScope("acme", "events:write")
	svc := kc.AddClient("acme", keycloaktest.Client{ClientID: "svc", Secret: "s", Enabled: true, ServiceAccountsEnabled: true})
	token := func() (int, map[string]any) {
		status, obj, _, _ := call(t, http.MethodPost, kc.TokenURL("acme"), basic("svc", "s"), form("grant_type", "client_credentials", "scope", "events:write"))
		return status, obj
	}
	if status, obj := token(); status != http.StatusBadRequest || obj["error"] != "invalid_scope" || obj["error_description"] != "Invalid scopes: events:write" {
		t.Fatalf("token for an unlinked scope = %d %v, want 400 invalid_scope", status, obj)
	}

	status, _, scopes, _ := call(t, http.MethodGet, kc.URL+"/admin/realms/acme/client-scopes", auth, "")
	found := false
	for _, sc := range scopes {
		rep := sc.(map[string]any)
		found = found || (rep["name"] == "events:write" && rep["id"] == scopeID)
	}
	if status != http.StatusOK || !found {
		t.Fatalf("GET client-scopes = %d %v, want events:write among them", status, scopes)
	}
	links := kc.URL + "/admin/realms/acme/clients/" + svc.ID + "/optional-client-scopes"
	if status, obj, _, _ := call(t, http.MethodPut, links+"/no-such-scope", auth, ""); status != http.StatusNotFound || obj["error"] != "Client scope not found" {
		t.Errorf("PUT an unknown scope = %d %v, want 404", status, obj)
	}
	for range 2 { // linking twice leaves one link
		if status, _, _, _ := call(t, http.MethodPut, links+"/"+scopeID, auth, ""); status != http.StatusNoContent {
			t.Fatalf("PUT optional scope = %d, want 204", status)
		}
	}
	_, _, linked, _ := call(t, http.MethodGet, links, auth, "")
	n := 0
	for _, sc := range linked {
		if sc.(map[string]any)["name"] == "events:write" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("optional scopes %v, want events:write once", linked)
	}
	status, obj := token()
	if status != http.StatusOK || !strings.Contains(obj["scope"].(string), "events:write") {
		t.Fatalf("token after linking = %d %v", status, obj)
	}
}
