package keycloaktest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// call sends one request and decodes a JSON answer.
func call(t *testing.T, method, u string, header http.Header, body string) (int, map[string]any, []any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	var arr []any
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &arr); err != nil {
			t.Fatalf("%s %s: %v in %s", method, u, err, raw)
		}
	} else if len(raw) > 0 && json.Valid(raw) {
		_ = json.Unmarshal(raw, &obj)
	}
	return resp.StatusCode, obj, arr, resp.Header
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func formHeader() http.Header {
	return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
}

func basic(id, secret string) http.Header {
	h := formHeader()
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	return h
}

func claims(t *testing.T, jwt string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", jwt)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func TestTokenEndpoint(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithTokenLifetime(90*time.Second))
	svc := kc.AddClient("acme", keycloaktest.Client{ClientID: "svc:1", Secret: "s&cret", Enabled: true, ServiceAccountsEnabled: true, OptionalClientScopes: []string{"events:write"}})
	kc.AddClient("acme", keycloaktest.Client{ClientID: "web", Secret: "w", Enabled: true})
	tokenURL := kc.TokenURL("acme")

	tests := []struct {
		name   string
		header http.Header
		body   string
		status int
		err    string
	}{
		{"client_secret_basic", basic("svc:1", "s&cret"), form("grant_type", "client_credentials", "scope", "events:write"), 200, ""},
		{"client_secret_post", formHeader(), form("grant_type", "client_credentials", "client_id", "svc:1", "client_secret", "s&cret"), 200, ""},
		{"wrong secret", basic("svc:1", "nope"), form("grant_type", "client_credentials"), 401, "invalid_client"},
		{"unknown client", formHeader(), form("grant_type", "client_credentials", "client_id", "ghost", "client_secret", "x"), 401, "invalid_client"},
		{"no service account", basic("web", "w"), form("grant_type", "client_credentials"), 401, "unauthorized_client"},
		{"password grant without direct access", basic("web", "w"), form("grant_type", "password", "username", "a", "password", "b"), 400, "unauthorized_client"},
		{"unsupported grant", basic("svc:1", "s&cret"), form("grant_type", "authorization_code"), 400, "unsupported_grant_type"},
		{"scope not linked to the client", basic("svc:1", "s&cret"), form("grant_type", "client_credentials", "scope", "events:read"), 400, "invalid_scope"},
		{"no grant", basic("svc:1", "s&cret"), "", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, obj, _, _ := call(t, http.MethodPost, tokenURL, tt.header, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%v), want %d", status, obj, tt.status)
			}
			if tt.err != "" {
				if obj["error"] != tt.err || obj["error_description"] == "" {
					t.Errorf("answer %v, want error %s with a description", obj, tt.err)
				}
				return
			}
			if obj["token_type"] != "Bearer" || obj["expires_in"] != float64(90) {
				t.Errorf("answer %v", obj)
			}
			hdr, c := claims(t, obj["access_token"].(string))
			if hdr["alg"] != "RS256" || hdr["kid"] == "" {
				t.Errorf("header %v", hdr)
			}
			if c["iss"] != kc.Issuer("acme") || c["azp"] != "svc:1" || c["sub"] != svc.ServiceAccountUserID {
				t.Errorf("claims %v", c)
			}
			exp, iat := c["exp"].(float64), c["iat"].(float64)
			if exp-iat != 90 {
				t.Errorf("exp-iat = %v, want 90", exp-iat)
			}
			if !strings.Contains(c["scope"].(string), "profile") {
				t.Errorf("scope %v", c["scope"])
			}
		})
	}
	if n := kc.TokenRequests("acme"); n != len(tests) {
		t.Errorf("TokenRequests = %d, want %d", n, len(tests))
	}
	status, obj, _, _ := call(t, http.MethodPost, kc.TokenURL("nowhere"), formHeader(), form("grant_type", "client_credentials"))
	if status != 404 || obj["error"] != "Realm does not exist" {
		t.Errorf("unknown realm: %d %v", status, obj)
	}
}

func TestPasswordGrantAndJWKS(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithAdminUser("root", "pw"))
	status, obj, _, _ := call(t, http.MethodPost, kc.TokenURL("master"), formHeader(),
		form("grant_type", "password", "client_id", "admin-cli", "username", "root", "password", "pw"))
	if status != 200 || obj["refresh_token"] == nil {
		t.Fatalf("password grant: %d %v", status, obj)
	}
	hdr, c := claims(t, obj["access_token"].(string))
	if c["preferred_username"] != "root" || c["azp"] != "admin-cli" {
		t.Errorf("claims %v", c)
	}
	status, obj, _, _ = call(t, http.MethodPost, kc.TokenURL("master"), formHeader(),
		form("grant_type", "password", "client_id", "admin-cli", "username", "root", "password", "wrong"))
	if status != 401 || obj["error"] != "invalid_grant" {
		t.Errorf("bad password: %d %v", status, obj)
	}

	status, jwks, _, _ := call(t, http.MethodGet, kc.JWKSURL("master"), nil, "")
	if status != 200 {
		t.Fatalf("JWKS status %d", status)
	}
	keys := jwks["keys"].([]any)
	k := keys[0].(map[string]any)
	if len(keys) != 1 || k["kid"] != hdr["kid"] || k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["n"] == "" || k["e"] != "AQAB" {
		t.Errorf("JWKS %v, token kid %v", jwks, hdr["kid"])
	}
	status, disc, _, _ := call(t, http.MethodGet, kc.URL+"/realms/master/.well-known/openid-configuration", nil, "")
	if status != 200 || disc["issuer"] != kc.Issuer("master") || disc["jwks_uri"] != kc.JWKSURL("master") || disc["token_endpoint"] != kc.TokenURL("master") {
		t.Errorf("discovery %d %v", status, disc)
	}
}

func TestFailTokenRequests(t *testing.T) {
	kc := keycloaktest.New(t)
	kc.FailTokenRequests(503, "<html>down</html>", 2)
	kc.FailTokenRequests(401, `{"error":"invalid_client"}`, 1)
	want := []struct {
		status int
		ctype  string
	}{{503, "text/html"}, {503, "text/html"}, {401, "application/json"}, {200, "application/json"}}
	for i, w := range want {
		status, _, _, h := call(t, http.MethodPost, kc.TokenURL("master"), basic(keycloaktest.DefaultAdminClientID, keycloaktest.DefaultAdminClientSecret),
			form("grant_type", "client_credentials"))
		if status != w.status || !strings.HasPrefix(h.Get("Content-Type"), w.ctype) {
			t.Errorf("request %d: %d %s, want %d %s", i, status, h.Get("Content-Type"), w.status, w.ctype)
		}
	}
}

func adminToken(t *testing.T, kc *keycloaktest.Server) http.Header {
	t.Helper()
	status, obj, _, _ := call(t, http.MethodPost, kc.TokenURL("master"), basic(keycloaktest.DefaultAdminClientID, keycloaktest.DefaultAdminClientSecret),
		form("grant_type", "client_credentials"))
	if status != 200 {
		t.Fatalf("admin token: %d %v", status, obj)
	}
	return http.Header{"Authorization": {"Bearer " + obj["access_token"].(string)}, "Content-Type": {"application/json"}}
}

func TestAdminEndpointsNeedAnAdminBearer(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	kc.AddClient("acme", keycloaktest.Client{ClientID: "svc", Secret: "s", Enabled: true, ServiceAccountsEnabled: true})
	_, obj, _, _ := call(t, http.MethodPost, kc.TokenURL("acme"), basic("svc", "s"), form("grant_type", "client_credentials"))
	notAdmin := http.Header{"Authorization": {"Bearer " + obj["access_token"].(string)}}
	admin := adminToken(t, kc)

	u := kc.URL + "/admin/realms/acme/clients"
	for _, tt := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"no token", nil, 401},
		{"garbage token", http.Header{"Authorization": {"Bearer a.b.c"}}, 401},
		{"token of another realm's client", notAdmin, 401},
		{"admin", admin, 200},
	} {
		if status, obj, _, _ := call(t, http.MethodGet, u, tt.header, ""); status != tt.status {
			t.Errorf("%s: %d %v, want %d", tt.name, status, obj, tt.status)
		}
	}
	kc.RevokeTokens()
	if status, _, _, _ := call(t, http.MethodGet, u, admin, ""); status != 401 {
		t.Errorf("revoked token: %d, want 401", status)
	}
	admin = adminToken(t, kc)
	if status, obj, _, _ := call(t, http.MethodGet, kc.URL+"/admin/realms/nope/clients", admin, ""); status != 404 || obj["error"] != "Realm not found." {
		t.Errorf("unknown realm: %d %v", status, obj)
	}
}

func TestCreateClientDefaultsAndLocation(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	admin := adminToken(t, kc)
	u := kc.URL + "/admin/realms/acme/clients"
	status, _, _, h := call(t, http.MethodPost, u, admin, `{"clientId":"app"}`)
	if status != 201 || !strings.HasPrefix(h.Get("Location"), u+"/") {
		t.Fatalf("create: %d Location %q", status, h.Get("Location"))
	}
	c, ok := kc.Client("acme", "app")
	if !ok || h.Get("Location") != u+"/"+c.ID {
		t.Fatalf("stored %+v, Location %s", c, h.Get("Location"))
	}
	if !c.Enabled || !c.StandardFlowEnabled || c.ServiceAccountsEnabled || c.PublicClient || c.Secret == "" ||
		c.ClientAuthenticatorType != "client-secret" || c.Protocol != "openid-connect" {
		t.Errorf("Keycloak defaults not applied: %+v", c)
	}
	status, obj, _, _ := call(t, http.MethodPost, u, admin, `{"clientId":"app"}`)
	if status != 409 || obj["errorMessage"] != "Client app already exists" {
		t.Errorf("duplicate: %d %v", status, obj)
	}
	status, _, arr, _ := call(t, http.MethodGet, u+"?clientId=app", admin, "")
	if status != 200 || len(arr) != 1 || arr[0].(map[string]any)["id"] != c.ID {
		t.Errorf("list: %d %v", status, arr)
	}
	status, _, arr, _ = call(t, http.MethodGet, u+"?clientId=ap", admin, "")
	if status != 200 || len(arr) != 0 {
		t.Errorf("clientId is exact without search=true: %v", arr)
	}
	status, obj, _, _ = call(t, http.MethodGet, u+"/"+c.ID+"/client-secret", admin, "")
	if status != 200 || obj["type"] != "secret" || obj["value"] != c.Secret {
		t.Errorf("secret: %d %v", status, obj)
	}
}

func TestEventsEndpoint(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	admin := adminToken(t, kc)
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{day.Add(-time.Hour), day.Add(time.Hour), day.Add(23 * time.Hour), day.Add(25 * time.Hour)} {
		kc.AddEvent("acme", kete.Event{Type: "LOGIN", Time: at.UnixMilli(), ID: string(rune('a' + i))})
	}
	ids := func(arr []any) string {
		var s string
		for _, e := range arr {
			s += e.(map[string]any)["id"].(string)
		}
		return s
	}
	base := kc.URL + "/admin/realms/acme/events"
	for _, tt := range []struct{ query, want string }{
		{"", "dcba"},
		{"?dateFrom=2026-11-02&dateTo=2026-11-02", "cb"},
		{"?dateFrom=" + strconv.FormatInt(day.Add(time.Hour).UnixMilli(), 10), "dcb"},
		{"?direction=asc&first=1&max=2", "bc"},
		{"?max=1", "d"},
	} {
		status, obj, arr, _ := call(t, http.MethodGet, base+tt.query, admin, "")
		if status != 200 || ids(arr) != tt.want {
			t.Errorf("GET events%s: %d %v %s, want %s", tt.query, status, obj, ids(arr), tt.want)
		}
	}
	if status, _, _, _ := call(t, http.MethodGet, base+"?dateFrom=yesterday", admin, ""); status != 400 {
		t.Errorf("bad dateFrom: %d, want 400", status)
	}
	status, _, arr, _ := call(t, http.MethodGet, base+"?max=1", admin, "")
	e := arr[0].(map[string]any)
	if status != 200 || e["realmId"] != kc.RealmID("acme") || e["type"] != "LOGIN" || e["realmName"] != nil {
		t.Errorf("event JSON %v", e)
	}
}
