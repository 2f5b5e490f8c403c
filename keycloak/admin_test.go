package keycloak_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAdminSignsInAndCachesTheToken(t *testing.T) {
	kc := keycloaktest.New(t)
	tests := []struct {
		name string
		cfg  keycloak.AdminOptions
	}{
		{"password grant with admin-cli", kc.AdminOptions()},
		{"client credentials", kc.AdminClientOptions()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			before := kc.TokenRequests("master")
			a := keycloak.NewAdmin(tt.cfg)
			for range 3 {
				c, err := a.FindClient(ctx, "master", "admin-cli")
				if err != nil {
					t.Fatalf("FindClient: %v", err)
				}
				if c == nil || c.ClientID != "admin-cli" || c.ID == "" {
					t.Fatalf("FindClient(admin-cli) = %+v", c)
				}
			}
			if n := kc.TokenRequests("master") - before; n != 1 {
				t.Errorf("%d token requests for three calls, want 1", n)
			}
		})
	}
}

func TestAdminSignInErrors(t *testing.T) {
	kc := keycloaktest.New(t)
	tests := []struct {
		name string
		cfg  keycloak.AdminOptions
		want []string
	}{
		{"wrong password", keycloak.AdminOptions{URL: kc.URL, Username: "admin", Password: "nope"},
			[]string{"admin sign-in", "POST /realms/master/protocol/openid-connect/token", "401", "invalid_grant", "Invalid user credentials"}},
		{"wrong client secret", keycloak.AdminOptions{URL: kc.URL, ClientID: keycloaktest.DefaultAdminClientID, ClientSecret: "nope"},
			[]string{"401", "invalid_client"}},
		{"no credentials", keycloak.AdminOptions{URL: kc.URL}, []string{"client-id and client-secret, or username and password"}},
		{"unknown realm", keycloak.AdminOptions{URL: kc.URL, Realm: "nowhere", Username: "admin", Password: "admin"},
			[]string{"/realms/nowhere/protocol/openid-connect/token", "404", "Realm does not exist"}},
		{"nothing listening", keycloak.AdminOptions{URL: "http://127.0.0.1:1", Username: "admin", Password: "admin"},
			[]string{"admin sign-in to http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := keycloak.NewAdmin(tt.cfg).FindClient(testCtx(t), "master", "admin-cli")
			if err == nil {
				t.Fatal("FindClient succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAdminSignsInAgainOnceAfter401(t *testing.T) {
	kc := keycloaktest.New(t)
	ctx := testCtx(t)
	a := keycloak.NewAdmin(kc.AdminOptions())
	if _, err := a.FindClient(ctx, "master", "admin-cli"); err != nil {
		t.Fatal(err)
	}
	kc.RevokeTokens()
	if _, err := a.FindClient(ctx, "master", "admin-cli"); err != nil {
		t.Fatalf("FindClient after revocation: %v", err)
	}
	if n := kc.TokenRequests("master"); n != 2 {
		t.Errorf("%d token requests, want 2 (one sign-in, one after the 401)", n)
	}

	// A principal without admin rights gets 403, which is not retried.
	bad := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Username: "user", Password: "pw"})
	kc.AddUser("master", "user", "pw")
	_, err := bad.FindClient(ctx, "master", "admin-cli")
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("non-admin FindClient error %v, want 403", err)
	}
	kc.RevokeTokens()
	before := kc.TokenRequests("master")
	kc.FailTokenRequests(401, `{"error":"invalid_grant","error_description":"Invalid user credentials"}`, 1)
	_, err = a.FindClient(ctx, "master", "admin-cli")
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("error %v, want the failed sign-in", err)
	}
	if n := kc.TokenRequests("master") - before; n != 1 {
		t.Errorf("%d token requests after a refused sign-in, want 1", n)
	}
}

func TestAdminRefreshesTheTokenBeforeExpiry(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithTokenLifetime(2*time.Second))
	ctx := testCtx(t)
	a := keycloak.NewAdmin(kc.AdminClientOptions())
	if _, err := a.FindClient(ctx, "master", "admin-cli"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for kc.TokenRequests("master") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the admin token was not renewed within 10 s of a 2 s lifetime")
		}
		if _, err := a.FindClient(ctx, "master", "admin-cli"); err != nil {
			t.Fatalf("FindClient: %v", err)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

func TestClients(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	ctx := testCtx(t)
	a := keycloak.NewAdmin(kc.AdminOptions())

	c, err := a.FindClient(ctx, "acme", "orders")
	if err != nil || c != nil {
		t.Fatalf("FindClient of an absent client = %+v, %v; want nil, nil", c, err)
	}
	id, err := a.CreateClient(ctx, "acme", keycloak.ClientRepresentation{
		ClientID: "orders", Enabled: keycloak.Bool(true), PublicClient: keycloak.Bool(false),
		ServiceAccountsEnabled: keycloak.Bool(true), StandardFlowEnabled: keycloak.Bool(false),
	})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	stored, ok := kc.Client("acme", "orders")
	if !ok || stored.ID != id {
		t.Fatalf("stand-in has %+v, want id %s", stored, id)
	}
	if !stored.ServiceAccountsEnabled || stored.StandardFlowEnabled || stored.PublicClient {
		t.Errorf("stored flags %+v", stored)
	}
	c, err = a.FindClient(ctx, "acme", "orders")
	if err != nil || c == nil || c.ID != id || c.ServiceAccountsEnabled == nil || !*c.ServiceAccountsEnabled {
		t.Fatalf("FindClient = %+v, %v", c, err)
	}

	secret, err := a.ClientSecret(ctx, "acme", id)
	if err != nil || secret == "" || secret != stored.Secret {
		t.Fatalf("ClientSecret = %q, %v; want %q", secret, err, stored.Secret)
	}
	renewed, err := a.RegenerateClientSecret(ctx, "acme", id)
	if err != nil || renewed == secret {
		t.Fatalf("RegenerateClientSecret = %q, %v; want a new secret", renewed, err)
	}
	if now, _ := kc.Client("acme", "orders"); now.Secret != renewed {
		t.Errorf("stand-in secret %q, want %q", now.Secret, renewed)
	}

	_, err = a.CreateClient(ctx, "acme", keycloak.ClientRepresentation{ClientID: "orders"})
	if !errors.Is(err, keycloak.ErrConflict) {
		t.Fatalf("second CreateClient error %v, want ErrConflict", err)
	}
	for _, w := range []string{`"orders"`, "POST /admin/realms/acme/clients", "409", "Client orders already exists"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	var apiErr *keycloak.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || apiErr.Message != "Client orders already exists" {
		t.Errorf("APIError = %+v", apiErr)
	}
}

func TestAdminAPIErrors(t *testing.T) {
	kc := keycloaktest.New(t)
	ctx := testCtx(t)
	a := keycloak.NewAdmin(kc.AdminOptions())
	tests := []struct {
		name     string
		call     func() error
		notFound bool
		want     []string
	}{
		{"unknown realm", func() error { _, err := a.FindClient(ctx, "nope", "x"); return err }, true,
			[]string{"GET /admin/realms/nope/clients", "404", "Realm not found."}},
		{"unknown client id", func() error { _, err := a.ClientSecret(ctx, "master", "no-such-id"); return err }, true,
			[]string{"GET /admin/realms/master/clients/no-such-id/client-secret", "404", "Could not find client"}},
		{"public client has no secret", func() error {
			c, err := a.FindClient(ctx, "master", "admin-cli")
			if err != nil {
				return err
			}
			_, err = a.ClientSecret(ctx, "master", c.ID)
			return err
		}, false, []string{"no secret"}},
		{"events of unknown realm", func() error { _, err := a.Events(ctx, "nope", keycloak.EventQuery{}); return err }, true,
			[]string{"events of realm \"nope\"", "404"}},
		{"empty client id", func() error { _, err := a.CreateClient(ctx, "master", keycloak.ClientRepresentation{}); return err }, false,
			[]string{"empty clientId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, keycloak.ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) != %v", err, tt.notFound)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEvents(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	ctx := testCtx(t)
	a := keycloak.NewAdmin(kc.AdminOptions())
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i, typ := range []string{"LOGIN", "LOGOUT", "LOGIN_ERROR", "LOGIN", "CODE_TO_TOKEN"} {
		e := kete.Event{Time: base.Add(time.Duration(i) * time.Minute).UnixMilli(), Type: typ, ClientID: "web",
			UserID: "u1", IPAddress: "192.0.2.1", Details: map[string]string{"n": string(rune('0' + i))}}
		if typ == "LOGIN_ERROR" {
			e.Error = "invalid_user_credentials"
		}
		kc.AddEvent("acme", e)
	}
	kc.AddEvent("acme", kete.Event{Kind: kete.KindAdminEvent, Time: base.UnixMilli(), OperationType: "CREATE", ResourceType: "USER"})

	order := func(events []kete.Event) string {
		var s []string
		for _, e := range events {
			s = append(s, e.Details["n"])
		}
		return strings.Join(s, "")
	}
	tests := []struct {
		name string
		q    keycloak.EventQuery
		want string // the events' n details, in the order returned
	}{
		{"all, newest first", keycloak.EventQuery{}, "43210"},
		{"max", keycloak.EventQuery{Max: 2}, "43"},
		{"page two", keycloak.EventQuery{First: 2, Max: 2}, "21"},
		{"past the end", keycloak.EventQuery{First: 9}, ""},
		{"date range inclusive", keycloak.EventQuery{DateFrom: base.Add(time.Minute), DateTo: base.Add(3 * time.Minute)}, "321"},
		{"types", keycloak.EventQuery{Types: []string{"LOGIN", "LOGOUT"}}, "310"},
		{"whole days", keycloak.EventQuery{DatesOnly: true, DateFrom: base.Add(time.Minute), DateTo: base}, "43210"},
		{"days before", keycloak.EventQuery{DatesOnly: true, DateTo: base.AddDate(0, 0, -1)}, ""},
		{"ascending", keycloak.EventQuery{Direction: "asc", Max: 3}, "012"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Events(ctx, "acme", tt.q)
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			if o := order(got); o != tt.want {
				t.Errorf("events %q, want %q", o, tt.want)
			}
		})
	}

	got, err := a.Events(ctx, "acme", keycloak.EventQuery{Max: 1, Types: []string{"LOGIN_ERROR"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("Events = %v, %v", got, err)
	}
	e := got[0]
	if e.Kind != kete.KindEvent || e.RealmName != "acme" || e.RealmID != kc.RealmID("acme") || e.ID == "" ||
		e.Type != "LOGIN_ERROR" || e.Error != "invalid_user_credentials" || e.Result() != kete.ResultError ||
		e.ClientID != "web" || e.UserID != "u1" || e.IPAddress != "192.0.2.1" || e.Time != base.Add(2*time.Minute).UnixMilli() {
		t.Errorf("event %+v", e)
	}
}

func TestAdminEvents(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	ctx := testCtx(t)
	a := keycloak.NewAdmin(kc.AdminClientOptions())
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	auth := &kete.AuthDetails{RealmID: kc.RealmID("master"), ClientID: "security-admin-console", UserID: "admin-id", IPAddress: "198.51.100.4"}
	kc.AddEvent("acme", kete.Event{Kind: kete.KindAdminEvent, Time: base, OperationType: "CREATE", ResourceType: "USER",
		ResourcePath: "users/u1", Representation: `{"username":"ann"}`, AuthDetails: auth})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindAdminEvent, Time: base + 1000, OperationType: "UPDATE", ResourceType: "USER",
		ResourcePath: "users/u1", AuthDetails: auth})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindAdminEvent, Time: base + 2000, OperationType: "CREATE", ResourceType: "CLIENT",
		ResourcePath: "clients/c1", AuthDetails: auth, Error: "unknown_error"})
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", Time: base})

	tests := []struct {
		name string
		q    keycloak.EventQuery
		want []string
	}{
		{"all, newest first", keycloak.EventQuery{}, []string{"CLIENT_CREATE", "USER_UPDATE", "USER_CREATE"}},
		{"operation types", keycloak.EventQuery{OperationTypes: []string{"CREATE"}}, []string{"CLIENT_CREATE", "USER_CREATE"}},
		{"resource types", keycloak.EventQuery{ResourceTypes: []string{"USER"}}, []string{"USER_UPDATE", "USER_CREATE"}},
		{"since", keycloak.EventQuery{DateFrom: time.UnixMilli(base + 1000)}, []string{"CLIENT_CREATE", "USER_UPDATE"}},
		{"ascending page", keycloak.EventQuery{Direction: "asc", First: 1, Max: 1}, []string{"USER_UPDATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.AdminEvents(ctx, "acme", tt.q)
			if err != nil {
				t.Fatalf("AdminEvents: %v", err)
			}
			var types []string
			for _, e := range got {
				types = append(types, e.EventType())
			}
			if strings.Join(types, ",") != strings.Join(tt.want, ",") {
				t.Errorf("admin events %v, want %v", types, tt.want)
			}
		})
	}
	got, err := a.AdminEvents(ctx, "acme", keycloak.EventQuery{Direction: "asc", Max: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("AdminEvents = %v, %v", got, err)
	}
	e := got[0]
	if e.Kind != kete.KindAdminEvent || e.RealmName != "acme" || e.RealmID != kc.RealmID("acme") ||
		e.ResourcePath != "users/u1" || e.Representation != `{"username":"ann"}` || e.Time != base ||
		e.AuthDetails == nil || *e.AuthDetails != *auth {
		t.Errorf("admin event %+v (auth %+v)", e, e.AuthDetails)
	}
}

func TestURLs(t *testing.T) {
	tests := []struct{ got, want string }{
		{keycloak.TokenURL("https://sso.example.com/", "acme"), "https://sso.example.com/realms/acme/protocol/openid-connect/token"},
		{keycloak.IssuerURL("https://sso.example.com", "a b"), "https://sso.example.com/realms/a%20b"},
		{keycloak.JWKSURL("http://127.0.0.1:8080/auth", "master"), "http://127.0.0.1:8080/auth/realms/master/protocol/openid-connect/certs"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}
