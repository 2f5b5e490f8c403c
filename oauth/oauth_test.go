package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

const (
	svcID     = "events-writer"
	svcSecret = "events-writer-secret"
)

// newRealm starts a stand-in Keycloak with realm acme holding a service-account client.
func newRealm(t *testing.T, opts ...keycloaktest.Option) *keycloaktest.Server {
	t.Helper()
	kc := keycloaktest.New(t, append([]keycloaktest.Option{keycloaktest.WithRealm("acme")}, opts...)...)
	kc.AddClient("acme", keycloaktest.Client{ClientID: svcID, Secret: svcSecret, Enabled: true, ServiceAccountsEnabled: true, OptionalClientScopes: []string{"events:write"}})
	return kc
}

func external(t *testing.T, kc *keycloaktest.Server, edit func(*External)) *Source {
	t.Helper()
	cfg := External{TokenURL: kc.TokenURL("acme"), ClientID: svcID, ClientSecret: svcSecret, Scopes: []string{"events:write"}}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewExternal(cfg)
	if err != nil {
		t.Fatalf("NewExternal: %v", err)
	}
	return s
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustToken(t *testing.T, s *Source) string {
	t.Helper()
	tok, err := s.Token(ctxFor(t))
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok == "" || strings.HasPrefix(tok, "Bearer") {
		t.Fatalf("Token = %q, want a bare access token", tok)
	}
	return tok
}

// clock is a settable time for the cache, so renewal is tested without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestExternalCachesAndRenewsAheadOfExpiry(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		early    time.Duration
		renewAt  time.Duration // after the fetch
	}{
		{"KETE's 30 s early", 120 * time.Second, 0, 90 * time.Second},
		{"custom early expiry", 120 * time.Second, 10 * time.Second, 110 * time.Second},
		{"short token kept half its life", 10 * time.Second, 0, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newRealm(t, keycloaktest.WithTokenLifetime(tt.lifetime))
			s := external(t, kc, func(c *External) { c.EarlyExpiry = tt.early })
			clk := &clock{t: time.Now()}
			s.now = clk.now

			first := mustToken(t, s)
			clk.advance(tt.renewAt - time.Millisecond)
			if again := mustToken(t, s); again != first {
				t.Error("token replaced before its renewal time")
			}
			if n := kc.TokenRequests("acme"); n != 1 {
				t.Fatalf("%d token requests before renewal, want 1", n)
			}
			clk.advance(time.Millisecond)
			if renewed := mustToken(t, s); renewed == first {
				t.Error("token not replaced at its renewal time")
			}
			if n := kc.TokenRequests("acme"); n != 2 {
				t.Errorf("%d token requests after renewal, want 2", n)
			}
		})
	}
}

func TestExternalWithoutExpiresInKeepsTheTokenAnHour(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "opaque-" + string(rune('0'+calls.Load())), "token_type": "bearer"})
	}))
	t.Cleanup(srv.Close)
	s, err := NewExternal(External{TokenURL: srv.URL, ClientID: "a", ClientSecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	s.now = clk.now
	first := mustToken(t, s)
	clk.advance(time.Hour - DefaultEarlyExpiry - time.Second)
	if mustToken(t, s) != first || calls.Load() != 1 {
		t.Fatalf("token not cached: %d calls", calls.Load())
	}
	clk.advance(2 * time.Second)
	if mustToken(t, s) == first || calls.Load() != 2 {
		t.Fatalf("token not renewed after an hour: %d calls", calls.Load())
	}
}

// gate holds token requests until released or until their context ends.
type gate struct {
	base    http.RoundTripper
	arrived chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{base: http.DefaultTransport, arrived: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return g.base.RoundTrip(req)
}

func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestExternalConcurrentCallersShareOneFetch(t *testing.T) {
	const callers = 50
	kc := newRealm(t)
	g := newGate()
	s := external(t, kc, func(c *External) { c.HTTPClient = &http.Client{Transport: g} })
	var waiting atomic.Int32
	allWaiting := make(chan struct{})
	s.waiting = func() {
		if waiting.Add(1) == callers-1 {
			close(allWaiting)
		}
	}
	ctx := ctxFor(t)
	type result struct {
		tok string
		err error
	}
	results := make(chan result, callers)
	for range callers {
		go func() {
			tok, err := s.Token(ctx)
			results <- result{tok, err}
		}()
	}
	within(t, g.arrived, "the first token request")
	within(t, allWaiting, "the other callers to wait")
	close(g.release)
	var first string
	for i := range callers {
		var r result
		select {
		case r = <-results:
		case <-time.After(10 * time.Second):
			t.Fatalf("caller %d did not return", i)
		}
		if r.err != nil {
			t.Fatalf("Token: %v", r.err)
		}
		if first == "" {
			first = r.tok
		} else if r.tok != first {
			t.Fatal("callers got different tokens")
		}
	}
	if n := kc.TokenRequests("acme"); n != 1 {
		t.Errorf("%d token requests for %d concurrent callers, want 1", n, callers)
	}
}

func TestExternalWaitersOutliveACancelledFetch(t *testing.T) {
	kc := newRealm(t)
	g := newGate()
	s := external(t, kc, func(c *External) { c.HTTPClient = &http.Client{Transport: g} })
	waiting := make(chan struct{}, 10)
	s.waiting = func() { waiting <- struct{}{} }

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { _, err := s.Token(leaderCtx); leaderErr <- err }()
	within(t, g.arrived, "the leader's request")

	impatientCtx, cancelImpatient := context.WithCancel(context.Background())
	impatientErr := make(chan error, 1)
	go func() { _, err := s.Token(impatientCtx); impatientErr <- err }()
	within(t, waiting, "the impatient caller to wait")

	patient := make(chan string, 1)
	go func() {
		tok, err := s.Token(ctxFor(t))
		if err != nil {
			tok = "error: " + err.Error()
		}
		patient <- tok
	}()
	within(t, waiting, "the patient caller to wait")

	cancelImpatient()
	select {
	case err := <-impatientErr:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), kc.TokenURL("acme")) {
			t.Errorf("impatient caller error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled waiter did not return")
	}

	cancelLeader()
	select {
	case err := <-leaderErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("leader error %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled leader did not return")
	}
	within(t, g.arrived, "the patient caller's own request")
	close(g.release)
	select {
	case tok := <-patient:
		if tok == "" || strings.HasPrefix(tok, "error") {
			t.Errorf("patient caller got %q", tok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the patient caller did not get a token")
	}
}

func TestExternalInvalidate(t *testing.T) {
	kc := newRealm(t)
	s := external(t, kc, nil)
	first := mustToken(t, s)
	if mustToken(t, s) != first {
		t.Fatal("token not cached")
	}
	s.Invalidate()
	if mustToken(t, s) == first {
		t.Error("Invalidate did not bring a new token")
	}
	if n := kc.TokenRequests("acme"); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestExternalSecretInBody(t *testing.T) {
	kc := newRealm(t)
	mustToken(t, external(t, kc, func(c *External) { c.SecretInBody = true }))
}

func TestExternalErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		secret      string
		want        []string
		retrieveErr bool
	}{
		{"wrong secret", 0, "", "nope", []string{"401 Unauthorized", "invalid_client", "Invalid client or Invalid client credentials"}, true},
		{"401 from the server", 401, `{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}`, "", []string{"401 Unauthorized", "invalid_client"}, true},
		{"400 invalid scope", 400, `{"error":"invalid_scope","error_description":"Invalid scopes: events:write"}`, "", []string{"400 Bad Request", "invalid_scope"}, true},
		{"500 from a proxy", 500, "<html><body>Internal Server Error</body></html>", "", []string{"500 Internal Server Error", "<html>"}, true},
		{"garbage with 200", 200, "this is not a token", "", []string{"200 OK", "cannot parse"}, false},
		{"json without a token", 200, `{"token_type":"Bearer","expires_in":300}`, "", []string{"200 OK", "access_token"}, false},
		{"error code with 200", 200, `{"error":"temporarily_unavailable"}`, "", []string{"200 OK", "temporarily_unavailable"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newRealm(t)
			s := external(t, kc, func(c *External) {
				if tt.secret != "" {
					c.ClientSecret = tt.secret
				}
			})
			if tt.status != 0 {
				kc.FailTokenRequests(tt.status, tt.body, 1)
			}
			_, err := s.Token(ctxFor(t))
			if err == nil {
				t.Fatal("Token succeeded")
			}
			for _, w := range append(tt.want, kc.TokenURL("acme"), svcID) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var re *oauth2.RetrieveError
			if errors.As(err, &re) != tt.retrieveErr {
				t.Errorf("errors.As(*oauth2.RetrieveError) = %v, want %v", !tt.retrieveErr, tt.retrieveErr)
			}
			if tt.secret == "" {
				// A failure is not cached: the next call asks again and succeeds.
				mustToken(t, s)
			}
		})
	}
}

func TestExternalOverTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "tls-client" || secret != "tls-secret" || r.FormValue("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tls-token","token_type":"Bearer","expires_in":300}`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake failure is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := External{TokenURL: srv.URL + "/oauth/token", ClientID: "tls-client", ClientSecret: "tls-secret"}

	untrusting, err := NewExternal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusting.Token(ctxFor(t)); err == nil || !strings.Contains(err.Error(), cfg.TokenURL) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server error %v, want a certificate error naming the URL", err)
	}
	cfg.HTTPClient = srv.Client()
	trusting, err := NewExternal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok := mustToken(t, trusting); tok != "tls-token" {
		t.Errorf("token %q", tok)
	}
}

func TestNewExternalChecksTheConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  External
		want string
	}{
		{"empty", External{}, "token-url, client-id, client-secret"},
		{"no secret", External{TokenURL: "https://a/token", ClientID: "x"}, "client-secret"},
		{"not http", External{TokenURL: "ftp://a/token", ClientID: "x", ClientSecret: "y"}, `token-url "ftp://a/token"`},
		{"negative early expiry", External{TokenURL: "https://a/token", ClientID: "x", ClientSecret: "y", EarlyExpiry: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewExternal(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestExternalTimeoutIsSharedNotRetried(t *testing.T) {
	kc := newRealm(t)
	g := newGate() // never released: the token server hangs
	s := external(t, kc, func(c *External) {
		c.HTTPClient = &http.Client{Transport: g}
		c.Timeout = 2 * time.Second // long enough for the second caller to start waiting
	})
	waiting := make(chan struct{}, 1)
	s.waiting = func() { waiting <- struct{}{} }
	errs := make(chan error, 2)
	go func() { _, err := s.Token(context.Background()); errs <- err }()
	within(t, g.arrived, "the first request")
	go func() { _, err := s.Token(context.Background()); errs <- err }()
	within(t, waiting, "the second caller to wait")
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), kc.TokenURL("acme")) {
				t.Errorf("error %v, want a deadline naming the token URL", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a caller did not return after the token request timed out")
		}
	}
	if n := len(g.arrived); n != 0 {
		t.Errorf("%d more token requests after the timeout, want none", n)
	}
}
