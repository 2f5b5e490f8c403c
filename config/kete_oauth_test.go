package config

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// TestInternalOAuthTokenURLOverride: in internal mode, destination.oauth.token-url
// replaces the token endpoint derived from the realm, as KETE's OAuthMaterial.
// configureInternalMode reads it (FortuneN/kete); the client is still registered in the
// attached Keycloak with the daemon's admin credentials.
func TestInternalOAuthTokenURLOverride(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	target, err := url.Parse(kc.URL)
	if err != nil {
		t.Fatal(err)
	}
	// A proxy in front of Keycloak's token endpoint, as a gateway would be: the token
	// must be asked for here, not at kete.keycloak.url.
	var viaProxy atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") {
			viaProxy.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gateway.Close)

	s := newSink(t, false)
	path := writeFile(t, "kete.properties", `
kete.keycloak.url=`+kc.URL+`
kete.keycloak.client-id=`+keycloaktest.DefaultAdminClientID+`
kete.keycloak.client-secret=`+keycloaktest.DefaultAdminClientSecret+`
kete.routes.ws.realm-matchers.realm=list:acme
kete.routes.ws.destination.url=`+s.URL()+`/events
kete.routes.ws.destination.pool.min-idle=0
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.mode=internal
kete.routes.ws.destination.oauth.token-url=`+gateway.URL+`/realms/acme/protocol/openid-connect/token
`)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w.Key, "token-url") {
			t.Errorf("token-url warned about, want it used: %s", w)
		}
	}
	r := router(t, path, nil, Deps{})
	send(t, r, &kete.Event{Kind: kete.KindEvent, ID: "e1", RealmName: "acme", Type: "LOGIN"})
	got := s.next(t)
	if auth := got.header.Get("Authorization"); !strings.HasPrefix(auth, "Bearer ey") {
		t.Errorf("Authorization %q, want a bearer JWT from the realm", auth)
	}
	if viaProxy.Load() == 0 {
		t.Error("the token was not asked for at destination.oauth.token-url")
	}
}
