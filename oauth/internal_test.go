package oauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

func verify(t *testing.T, kc *keycloaktest.Server, realm, token string) jwt.MapClaims {
	t.Helper()
	k, err := keyfunc.NewDefaultCtx(t.Context(), []string{kc.JWKSURL(realm)})
	if err != nil {
		t.Fatalf("keyfunc: %v", err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, k.Keyfunc,
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(kc.Issuer(realm)), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify against %s: %v", kc.JWKSURL(realm), err)
	}
	return claims
}

func TestInternalRegistersTheClientOnce(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	kc.AddClientScope("acme", "events:write")
	admin := keycloak.NewAdmin(kc.AdminOptions())
	ctx := ctxFor(t)

	s, err := NewInternal(ctx, admin, Internal{Realm: "acme", Scopes: []string{"events:write"}})
	if err != nil {
		t.Fatalf("NewInternal: %v", err)
	}
	if s.TokenURL() != kc.TokenURL("acme") || s.ClientID() != DefaultInternalClientID {
		t.Errorf("source for %s / %s", s.TokenURL(), s.ClientID())
	}
	c, ok := kc.Client("acme", DefaultInternalClientID)
	if !ok {
		t.Fatal("kete-oauth-client was not registered")
	}
	if !c.Enabled || c.PublicClient || !c.ServiceAccountsEnabled || c.StandardFlowEnabled || c.DirectAccessGrantsEnabled ||
		c.ImplicitFlowEnabled || c.ClientAuthenticatorType != "client-secret" || c.Secret == "" {
		t.Errorf("registered client %+v", c)
	}
	claims := verify(t, kc, "acme", mustToken(t, s))
	if claims["azp"] != DefaultInternalClientID || claims["sub"] != c.ServiceAccountUserID || !strings.Contains(claims["scope"].(string), "events:write") {
		t.Errorf("claims %v", claims)
	}

	clients := len(kc.Clients("acme"))
	again, err := NewInternal(ctx, admin, Internal{Realm: "acme"})
	if err != nil {
		t.Fatalf("second NewInternal: %v", err)
	}
	if n := len(kc.Clients("acme")); n != clients {
		t.Errorf("second NewInternal left %d clients, want %d", n, clients)
	}
	if c2, _ := kc.Client("acme", DefaultInternalClientID); c2.ID != c.ID || c2.Secret != c.Secret {
		t.Errorf("client changed: %+v", c2)
	}
	verify(t, kc, "acme", mustToken(t, again))
}

func TestInternalSecretAndClientOverrides(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	admin := keycloak.NewAdmin(kc.AdminClientOptions())
	s, err := NewInternal(ctxFor(t), admin, Internal{Realm: "acme", ClientID: "kete-events", ClientSecret: "chosen-secret"})
	if err != nil {
		t.Fatalf("NewInternal: %v", err)
	}
	c, ok := kc.Client("acme", "kete-events")
	if !ok || c.Secret != "chosen-secret" {
		t.Fatalf("client %+v, want it created with the given secret", c)
	}
	if claims := verify(t, kc, "acme", mustToken(t, s)); claims["azp"] != "kete-events" {
		t.Errorf("azp %v", claims["azp"])
	}
}

func TestInternalReportsAnUnusableClient(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	kc.AddClient("acme", keycloaktest.Client{ClientID: "public-app", PublicClient: true, Enabled: true})
	kc.AddClient("acme", keycloaktest.Client{ClientID: "web-app", Enabled: true, StandardFlowEnabled: true})
	tests := []struct {
		name string
		cfg  Internal
		adm  keycloak.AdminOptions
		want []string
	}{
		{"public client", Internal{Realm: "acme", ClientID: "public-app"}, kc.AdminOptions(), []string{`"public-app"`, "public"}},
		{"no service account", Internal{Realm: "acme", ClientID: "web-app"}, kc.AdminOptions(), []string{`"web-app"`, "service accounts off"}},
		{"no realm", Internal{}, kc.AdminOptions(), []string{"needs a realm"}},
		{"unknown realm", Internal{Realm: "nope"}, kc.AdminOptions(), []string{"404", "Realm not found."}},
		{"bad admin credentials", Internal{Realm: "acme"}, keycloak.AdminOptions{URL: kc.URL, Username: "admin", Password: "x"}, []string{"invalid_grant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewInternal(ctxFor(t), keycloak.NewAdmin(tt.adm), tt.cfg)
			if err == nil {
				t.Fatal("NewInternal succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, ok := kc.Client("acme", DefaultInternalClientID); ok {
		t.Error("a failed NewInternal registered a client")
	}
}

// Real Keycloak refuses a token for a scope not linked to the client (400 invalid_scope),
// so internal mode links the requested scope to kete-oauth-client as an optional scope,
// once, and the token then carries it.
func TestInternalLinksTheRequestedScopeToTheClient(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	kc.AddClientScope("acme", "realtime:publisher:write:topic:events/*")
	admin := keycloak.NewAdmin(kc.AdminClientOptions())
	cfg := Internal{Realm: "acme", Scopes: []string{"realtime:publisher:write:topic:events/*"}}

	s, err := NewInternal(ctxFor(t), admin, cfg)
	if err != nil {
		t.Fatalf("NewInternal: %v", err)
	}
	claims := verify(t, kc, "acme", mustToken(t, s))
	if !slices.Contains(strings.Fields(claims["scope"].(string)), "realtime:publisher:write:topic:events/*") {
		t.Errorf("token scope %q lacks the requested scope", claims["scope"])
	}
	c, _ := kc.Client("acme", DefaultInternalClientID)
	if !slices.Contains(c.OptionalClientScopes, "realtime:publisher:write:topic:events/*") {
		t.Errorf("optional scopes of %s: %v", DefaultInternalClientID, c.OptionalClientScopes)
	}

	// A restart finds the scope linked and leaves the client as it is.
	again, err := NewInternal(ctxFor(t), admin, cfg)
	if err != nil {
		t.Fatalf("second NewInternal: %v", err)
	}
	verify(t, kc, "acme", mustToken(t, again))
	if c2, _ := kc.Client("acme", DefaultInternalClientID); !slices.Equal(c2.OptionalClientScopes, c.OptionalClientScopes) {
		t.Errorf("optional scopes changed to %v", c2.OptionalClientScopes)
	}

	// A built-in scope the client has by default needs no link; openid needs none at all.
	if _, err := NewInternal(ctxFor(t), admin, Internal{Realm: "acme", Scopes: []string{"openid profile"}}); err != nil {
		t.Errorf("NewInternal with openid profile: %v", err)
	}
}

func TestInternalFailsAtStartOnAMissingScope(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	_, err := NewInternal(ctxFor(t), keycloak.NewAdmin(kc.AdminOptions()), Internal{Realm: "acme", Scopes: []string{"events:write"}})
	if err == nil {
		t.Fatal("NewInternal succeeded with a scope the realm does not have")
	}
	for _, want := range []string{`"events:write"`, `realm "acme"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
