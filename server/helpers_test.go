package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server/auth"
)

// Test keys: HMAC secrets long enough for HS256.
const (
	secretA     = "app-a-client-secret-0123456789abcdef"
	secretAdmin = "app-a-admin-secret-0123456789abcdef!"
	secretB     = "app-b-client-secret-0123456789abcdef"
)

const waitLimit = wstest.WaitLimit

func hsKey(secret string) auth.Key {
	return auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}}
}

// testApp returns an enabled app "a" with client and admin keys.
func testApp(id, secret string) App {
	return App{
		AppID: id, Name: "test " + id, Enabled: true,
		AuthKey:  hsKey(secret),
		AdminKey: hsKey(secretAdmin),
	}
}

// mint signs an HS256 token with secret.
func mint(t testing.TB, secret, sub string, ttl time.Duration, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: ttl, Permissions: perms})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// mintAt signs an HS256 token issued at clock's now, for servers that run on that clock.
func mintAt(t testing.TB, clock *fakeClock, secret, sub string, ttl time.Duration, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: ttl, Permissions: perms, IssuedAt: clock.Now()})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// mintExpired signs a token that expired an hour ago.
func mintExpired(t testing.TB, secret, sub string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// startServer runs a Server for apps behind httptest on 127.0.0.1.
func startServer(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = -1
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return s, hs
}

func wsURL(hs *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(hs.URL, "http") + path
}

// connect dials app with token and waits for the welcome frame.
func connect(t testing.TB, hs *httptest.Server, app, token string) *wstest.Client {
	t.Helper()
	return wstest.Connect(t, wsURL(hs, "/apps/"+app+"?access_token="+token), wstest.Options{})
}

// mustBeRegistered checks that connection id is in app's hub: a client that has its
// welcome frame is registered (open sends the welcome and registers under one lock), so
// a sweep or a publish right after connect sees it.
func mustBeRegistered(t testing.TB, s *Server, app, id string) {
	t.Helper()
	_, h := s.app(app)
	if h == nil {
		t.Fatalf("no hub for app %s", app)
	}
	if h.connection(id) == nil {
		t.Fatalf("connection %s has its welcome but is not registered", id)
	}
}

// apiCall makes an HTTP API request and decodes the JSON answer.
func apiCall(t testing.TB, hs *httptest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = strings.NewReader(string(j))
		}
	}
	req, _ := http.NewRequest(method, hs.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// waitUntil polls cond until it holds or waitLimit passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// counterValue reads a Prometheus counter, or -1.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
