package config

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
	"github.com/lxzan/gws"
)

// received is one frame a sink got, with the handshake it came on.
type received struct {
	path   string
	header http.Header
	op     gws.Opcode
	body   string
}

// sink is a gws server on 127.0.0.1 that hands every frame it receives to a channel.
type sink struct {
	gws.BuiltinEventHandler
	srv *httptest.Server
	up  *gws.Upgrader
	got chan received

	mu    sync.Mutex
	conns []*gws.Conn
}

// newSink starts a sink, over TLS when tlsServer is true; URL gives its ws:// or wss://
// base. The test's cleanup closes it and every connection it accepted.
func newSink(t *testing.T, tlsServer bool) *sink {
	t.Helper()
	s := &sink{got: make(chan received, 64)}
	s.up = gws.NewUpgrader(s, &gws.ServerOption{})
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.up.Upgrade(w, r)
		if err != nil {
			return
		}
		c.Session().Store("path", r.URL.EscapedPath())
		c.Session().Store("header", r.Header.Clone())
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go c.ReadLoop()
	}))
	if tlsServer {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(func() {
		s.mu.Lock()
		for _, c := range s.conns {
			c.NetConn().Close()
		}
		s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

func (s *sink) URL() string {
	return strings.Replace(s.srv.URL, "http", "ws", 1)
}

func (s *sink) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	path, _ := c.Session().Load("path")
	header, _ := c.Session().Load("header")
	s.got <- received{path: path.(string), header: header.(http.Header), op: m.Opcode, body: string(m.Bytes())}
}

// next waits for the sink's next frame.
func (s *sink) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
		return received{}
	}
}

// writeFile writes text to name in a temporary directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// router loads path and builds its router, closed by the test's cleanup.
func router(t *testing.T, path string, environ []string, deps Deps) *kete.Router {
	t.Helper()
	c, err := Load(path, environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Router(ctx, deps)
	if err != nil {
		t.Fatalf("Router: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func send(t *testing.T, r *kete.Router, e *kete.Event) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.Send(ctx, e)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return n
}

func TestRouterSendsToRenderedURL(t *testing.T) {
	s := newSink(t, false)
	path := writeFile(t, "kete.properties", `
kete.routes.ws.realm-matchers.realm=list:acme,master
kete.routes.ws.event-matchers.logins=glob:LOGIN*
kete.routes.ws.destination.url=`+s.URL()+`/events/${realmLowerCase}/${eventTypeKebabCase}
kete.routes.ws.destination.headers.X-Tenant=acme
kete.routes.ws.destination.pool.min-idle=0
kete.routes.off.enabled=false
kete.routes.off.destination.url=ws://127.0.0.1:1/never
`)
	r := router(t, path, nil, Deps{})
	if len(r.Routes) != 1 || r.Routes[0].Name != "ws" {
		t.Fatalf("routes %v, want only ws (off is disabled)", r.Routes)
	}

	login := &kete.Event{Kind: kete.KindEvent, ID: "e1", Time: 1, RealmName: "Acme", Type: "LOGIN_ERROR", Error: "invalid_user_credentials"}
	if n := send(t, r, login); n != 1 {
		t.Fatalf("matched %d routes, want 1", n)
	}
	got := s.next(t)
	if got.path != "/events/acme/login-error" {
		t.Errorf("path %q, want /events/acme/login-error", got.path)
	}
	if got.header.Get("X-Tenant") != "acme" {
		t.Errorf("handshake headers %v lack X-Tenant: acme", got.header)
	}
	if got.op != gws.OpcodeText {
		t.Errorf("opcode %v, want text", got.op)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(got.body), &body); err != nil || body["type"] != "LOGIN_ERROR" || body["id"] != "e1" {
		t.Errorf("body %s (%v), want the JSON event", got.body, err)
	}

	other := &kete.Event{Kind: kete.KindEvent, ID: "e2", RealmName: "other", Type: "LOGIN"}
	if n := send(t, r, other); n != 0 {
		t.Errorf("an event of realm other matched %d routes", n)
	}
}

func TestRouterTLSAndExternalOAuth(t *testing.T) {
	s := newSink(t, true)
	caPath := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})))

	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id != "kete" || secret != "s3cret" || r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "events:write" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok-1","token_type":"Bearer","expires_in":300}`))
	}))
	t.Cleanup(tokens.Close)

	path := writeFile(t, "kete.yaml", `
kete:
  routes:
    secure:
      serializer.kind: yaml
      destination:
        url: `+s.URL()+`/events
        binary-mode: true
        pool.min-idle: 0
        tls:
          trust-store.loader:
            kind: pem-file-path
            path: `+caPath+`
        oauth:
          enabled: true
          token-url: `+tokens.URL+`/token
          client-id: kete
          client-secret: ${env:CLIENT_SECRET}
          scope: events:write
`)
	r := router(t, path, []string{"CLIENT_SECRET=s3cret"}, Deps{})
	send(t, r, &kete.Event{Kind: kete.KindAdminEvent, ID: "a1", RealmName: "master", ResourceType: "USER", OperationType: "CREATE"})
	got := s.next(t)
	if got.header.Get("Authorization") != "Bearer tok-1" {
		t.Errorf("Authorization %q, want Bearer tok-1", got.header.Get("Authorization"))
	}
	if got.op != gws.OpcodeBinary || !strings.Contains(got.body, "USER") {
		t.Errorf("frame %v %q, want a binary YAML event", got.op, got.body)
	}
}

func TestRouterInternalOAuth(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
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
`)
	r := router(t, path, nil, Deps{})
	if _, ok := kc.Client("acme", DefaultInternalClientID); !ok {
		t.Fatalf("Router did not register %s in realm acme", DefaultInternalClientID)
	}
	send(t, r, &kete.Event{Kind: kete.KindEvent, ID: "e1", RealmName: "acme", Type: "LOGIN"})
	got := s.next(t)
	if auth := got.header.Get("Authorization"); !strings.HasPrefix(auth, "Bearer ey") {
		t.Errorf("Authorization %q, want a bearer JWT from the realm", auth)
	}
	if kc.TokenRequests("acme") == 0 {
		t.Error("no token was requested from realm acme")
	}
}

func TestRouterErrorNamesRoute(t *testing.T) {
	c := parse(t, `
kete.keycloak.url=http://127.0.0.1:1
kete.keycloak.username=admin
kete.keycloak.password=admin
kete.routes.internal.destination.url=ws://127.0.0.1:1/
kete.routes.internal.destination.oauth.enabled=true
kete.routes.internal.destination.oauth.mode=internal
`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Router(ctx, Deps{HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err == nil {
		r.Close()
		t.Fatal("want an error: Keycloak is not there")
	}
	if !strings.Contains(err.Error(), "route internal") || !strings.Contains(err.Error(), "destination.oauth") {
		t.Errorf("error %q does not name the route and its key", err)
	}
}

// Router is for a caller that sends and waits: its destinations retry inside Send.
// SpooledRoutes is for the daemon, which retries from its spool: its destinations try
// once, and the policy comes with each route instead.
func TestRouterRetry(t *testing.T) {
	c := parse(t, "kete.routes.ws.destination.url=ws://127.0.0.1:1/\nkete.routes.ws.destination.pool.min-idle=0\n")
	r, err := c.Router(context.Background(), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, bare := r.Routes[0].Destination.(*destination.WebSocket); bare {
		t.Errorf("Router: destination %T, want it wrapped in the retry policy", r.Routes[0].Destination)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	r, spooled, err := c.SpooledRoutes(context.Background(), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, bare := r.Routes[0].Destination.(*destination.WebSocket); !bare {
		t.Errorf("SpooledRoutes: destination %T, want the bare WebSocket: the daemon retries", r.Routes[0].Destination)
	}
	if len(spooled) != 1 || spooled[0].Route != r.Routes[0] {
		t.Fatalf("SpooledRoutes: %d routes, want the router's one", len(spooled))
	}
}

// The daemon's policy per route: max-attempts unset is "until delivered" (0), not
// KETE's 3; given, it is what was given; retry.enabled=false is carried as it is; the
// in-flight bound is 8 sends per pooled connection.
func TestSpooledRoutesPolicy(t *testing.T) {
	c := parse(t, `
kete.routes.unset.destination.url=ws://127.0.0.1:1/
kete.routes.unset.destination.pool.min-idle=0
kete.routes.given.destination.url=ws://127.0.0.1:1/
kete.routes.given.destination.pool.min-idle=0
kete.routes.given.destination.pool.max-total=3
kete.routes.given.retry.max-attempts=5
kete.routes.given.retry.wait-duration=2s
kete.routes.off.destination.url=ws://127.0.0.1:1/
kete.routes.off.destination.pool.min-idle=0
kete.routes.off.retry.enabled=false
`)
	r, spooled, err := c.SpooledRoutes(context.Background(), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[string]SpooledRoute{}
	for _, s := range spooled {
		got[s.Name] = s
	}
	for _, tc := range []struct {
		route    string
		retry    kete.Retry
		inFlight int
	}{
		{"unset", kete.Retry{Enabled: true, MaxAttempts: 0, WaitDuration: kete.DefaultRetryWait, MaxWait: kete.DefaultRetryMaxWait}, 160},
		{"given", kete.Retry{Enabled: true, MaxAttempts: 5, WaitDuration: 2 * time.Second, MaxWait: kete.DefaultRetryMaxWait}, 24},
		{"off", kete.Retry{Enabled: false, MaxAttempts: 0, WaitDuration: kete.DefaultRetryWait, MaxWait: kete.DefaultRetryMaxWait}, 160},
	} {
		s := got[tc.route]
		if s.Route == nil {
			t.Errorf("route %s missing", tc.route)
			continue
		}
		if s.Retry != tc.retry || s.InFlight != tc.inFlight {
			t.Errorf("route %s: retry %+v in flight %d, want %+v and %d", tc.route, s.Retry, s.InFlight, tc.retry, tc.inFlight)
		}
	}
}

func TestRouterDisabled(t *testing.T) {
	c := parse(t, "kete.enabled=false\nkete.routes.ws.destination.url=ws://127.0.0.1:1/\n")
	r, err := c.Router(context.Background(), Deps{})
	if err != nil || len(r.Routes) != 0 {
		t.Errorf("Router with kete.enabled=false: %v routes, %v", r, err)
	}
}
