package keycloak_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// RealmNames reads GET /admin/realms once, answers known ids from memory, reads again for
// an id it has not seen (a new realm), and not again for an id Keycloak did not know.
func TestRealmNamesCachesAndRefreshesOnAnUnknownID(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	target, _ := url.Parse(kc.URL)
	var lists atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/realms" {
			lists.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer counting.Close()
	cfg := kc.AdminOptions()
	cfg.URL = counting.URL
	names := keycloak.NewRealmNames(keycloak.NewAdmin(cfg))
	ctx := t.Context()

	name := func(id string) string {
		t.Helper()
		n, err := names.Name(ctx, id)
		if err != nil {
			t.Fatalf("Name(%s): %v", id, err)
		}
		return n
	}
	steps := []struct {
		id    func() string
		want  string
		lists int32
	}{
		{func() string { return kc.RealmID("acme") }, "acme", 1},
		{func() string { return kc.RealmID("master") }, "master", 1},  // the first read brought every realm
		{func() string { return "no-such-realm" }, "", 2},             // unknown: read again
		{func() string { return "no-such-realm" }, "", 2},             // Keycloak did not know it a moment ago
		{func() string { return kc.AddRealm("globex") }, "globex", 3}, // created since: read again
		{func() string { return kc.RealmID("acme") }, "acme", 3},      // still known
	}
	for i, s := range steps {
		if got := name(s.id()); got != s.want {
			t.Errorf("step %d: Name = %q, want %q", i, got, s.want)
		}
		if n := lists.Load(); n != s.lists {
			t.Errorf("step %d: %d reads of /admin/realms, want %d", i, n, s.lists)
		}
	}
}
