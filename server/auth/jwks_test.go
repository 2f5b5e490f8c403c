package auth

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
)

func jwksOptions(t testing.TB, minRefresh time.Duration) Options {
	o := fixedOptions()
	o.JWKSMinRefreshInterval = minRefresh
	o.JWKSRetryInterval = time.Hour // no background retry races the fetches a test counts
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	return o
}

func TestJWKSVerify(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t,
		testJWK{kid: "rsa-1", alg: "RS256", key: &k.rsa.PublicKey},
		testJWK{kid: "ec-1", key: &k.p256.PublicKey},
		testJWK{kid: "ed-1", key: k.ed.Public()},
		testJWK{kid: "enc-1", key: &k.rsa2.PublicKey, use: jwkset.UseEnc},
	)
	v := newVerifier(t, Key{Source: "jwks", JWKSURI: srv.URL, Audience: []string{"kete"}}, jwksOptions(t, time.Hour))
	ok := MintClaims{Subject: "u", Audience: []string{"kete"}, TTL: time.Hour}
	with := func(kid string) MintClaims { c := ok; c.Kid = kid; return c }

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"RS256 by kid", mint(t, "RS256", k.rsa, with("rsa-1")), ""},
		{"ES256 by kid", mint(t, "ES256", k.p256, with("ec-1")), ""},
		{"EdDSA by kid", mint(t, "EdDSA", k.ed, with("ed-1")), ""},
		{"no kid: every key is tried", mint(t, "ES256", k.p256, ok), ""},
		{"JWK alg RS256, token RS512", mint(t, "RS512", k.rsa, with("rsa-1")), CodeTokenInvalid},
		{"right kid, other key", mint(t, "RS256", k.rsa2, with("rsa-1")), CodeTokenInvalid},
		{"encryption key never verifies", mint(t, "RS256", k.rsa2, with("enc-1")), CodeTokenInvalid},
		{"HS256 over a JWKS", hs256WithSecret(t, k.hmac, with("rsa-1")), CodeTokenInvalid},
		{"wrong audience", mint(t, "RS256", k.rsa, MintClaims{Subject: "u", Audience: []string{"other"}, TTL: time.Hour, Kid: "rsa-1"}), CodeTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if tt.code != "" {
				wantAuthError(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "u" {
				t.Fatalf("subject %q", c.Subject)
			}
		})
	}
}

// TestJWKSRotation: a token with a new kid makes the verifier fetch again and is then
// accepted; a kid that stays unknown is refused.
func TestJWKSRotation(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, testJWK{kid: "old", key: &k.rsa.PublicKey})
	v := newVerifier(t, Key{Source: "jwks", JWKSURI: srv.URL, Algorithms: []string{"RS256", "ES256"}}, jwksOptions(t, -1))
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("%d fetches after Start, want 1", got)
	}
	if _, err := v.Verify(mint(t, "RS256", k.rsa, MintClaims{Subject: "u", TTL: time.Hour, Kid: "old"})); err != nil {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("%d fetches after a known kid, want 1", got)
	}

	srv.set(t, testJWK{kid: "old", key: &k.rsa.PublicKey}, testJWK{kid: "new", key: &k.p256.PublicKey})
	if _, err := v.Verify(mint(t, "ES256", k.p256, MintClaims{Subject: "u", TTL: time.Hour, Kid: "new"})); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("%d fetches after a new kid, want 2", got)
	}

	_, err := v.Verify(mint(t, "ES256", k.p256, MintClaims{Subject: "u", TTL: time.Hour, Kid: "never"}))
	ae := wantAuthError(t, err, CodeTokenInvalid)
	if ae.Reason != "token key id (kid) is unknown" {
		t.Fatalf("reason %q", ae.Reason)
	}
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("%d fetches after an unknown kid, want 3", got)
	}

	// The old key is withdrawn: tokens signed with it stop working after the next fetch.
	srv.set(t, testJWK{kid: "new", key: &k.p256.PublicKey})
	_, err = v.Verify(mint(t, "ES256", k.p256, MintClaims{Subject: "u", TTL: time.Hour, Kid: "newer"}))
	wantAuthError(t, err, CodeTokenInvalid)
	_, err = v.Verify(mint(t, "RS256", k.rsa, MintClaims{Subject: "u", TTL: time.Hour, Kid: "old"}))
	wantAuthError(t, err, CodeTokenInvalid)
}

// TestJWKSRateLimit: unknown kids arriving within the minimum interval are refused without
// another fetch.
func TestJWKSRateLimit(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, testJWK{kid: "a", key: &k.rsa.PublicKey})
	v := newVerifier(t, Key{Source: "jwks", JWKSURI: srv.URL}, jwksOptions(t, time.Hour))
	srv.set(t, testJWK{kid: "a", key: &k.rsa.PublicKey}, testJWK{kid: "b", key: &k.rsa2.PublicKey})
	for i := range 20 {
		_, err := v.Verify(mint(t, "RS256", k.rsa2, MintClaims{Subject: "u", TTL: time.Hour, Kid: "b"}))
		wantAuthError(t, err, CodeTokenInvalid)
		if got := srv.hits.Load(); got != 1 {
			t.Fatalf("attempt %d: %d fetches, want 1", i, got)
		}
	}
}

// TestJWKSUnavailable: while the endpoint fails, tokens get 503 keys_unavailable; once it
// works, they are accepted.
func TestJWKSUnavailable(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, testJWK{kid: "a", key: k.ed.Public()})
	srv.setStatus(http.StatusInternalServerError)
	v := newVerifier(t, Key{Source: "jwks", JWKSURI: srv.URL, Algorithms: []string{"EdDSA"}}, jwksOptions(t, -1))
	tok := mint(t, "EdDSA", k.ed, MintClaims{Subject: "u", TTL: time.Hour, Kid: "a"})
	_, err := v.Verify(tok)
	if ae := wantAuthError(t, err, CodeKeysUnavailable); ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", ae.Status)
	}
	srv.setStatus(http.StatusOK)
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSBadDocuments(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name, body, code string
	}{
		{"not JSON", "<html>", CodeKeysUnavailable},
		{"a JWK with a broken modulus", `{"keys":[{"kty":"RSA","kid":"a","n":"!!","e":"AQAB"}]}`, CodeTokenInvalid},
		{"a shared secret", `{"keys":[{"kty":"oct","kid":"a","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}`, CodeTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.mu.Lock()
			srv.body = []byte(tt.body)
			srv.mu.Unlock()
			v := newVerifier(t, Key{Source: "jwks", JWKSURI: srv.URL}, jwksOptions(t, time.Hour))
			_, err := v.Verify(mint(t, "RS256", k.rsa, MintClaims{Subject: "u", TTL: time.Hour, Kid: "a"}))
			wantAuthError(t, err, tt.code)
		})
	}
}

// TestNewVerifierStartsNothing: NewVerifier starts no goroutine and fetches nothing;
// Start begins the background fetch, and a second Start does not start another.
func TestNewVerifierStartsNothing(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, testJWK{kid: "a", key: &k.rsa.PublicKey})
	v, err := NewVerifier(Key{Source: "jwks", JWKSURI: srv.URL}, jwksOptions(t, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.jwks.done != nil || srv.hits.Load() != 0 {
		t.Fatalf("NewVerifier started the refresh loop (%d fetches)", srv.hits.Load())
	}
	v.Start(t.Context())
	v.Start(t.Context())
	select {
	case <-v.jwks.attempted:
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not fetch the key set")
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("%d fetches after Start twice, want 1", got)
	}
}

// TestJWKSStops: the refresh goroutine ends with its ctx, and Close waits for it.
func TestJWKSStops(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, testJWK{kid: "a", key: &k.rsa.PublicKey})
	ctx, cancel := context.WithCancel(t.Context())
	o := jwksOptions(t, time.Hour)
	o.JWKSRefreshInterval = time.Millisecond
	v, err := NewVerifier(Key{Source: "jwks", JWKSURI: srv.URL}, o)
	if err != nil {
		t.Fatal(err)
	}
	v.Start(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for srv.hits.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d fetches: the refresh loop does not run", srv.hits.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-v.jwks.done:
	case <-time.After(10 * time.Second):
		t.Fatal("refresh goroutine still running after ctx was cancelled")
	}
	closed := make(chan struct{})
	go func() {
		v.Close() // must not block once stopped, and may be called twice
		v.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked")
	}
	// A fetch cancelled mid-flight keeps the keys it had.
	if _, err := v.Verify(mint(t, "RS256", k.rsa, MintClaims{Subject: "u", TTL: time.Hour, Kid: "a"})); err != nil {
		t.Fatalf("cached keys after stop: %v", err)
	}
}

// TestJWKSConcurrentUnknownKID: many requests with the same new kid share one fetch.
func TestJWKSConcurrentUnknownKID(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, testJWK{kid: "old", key: &k.rsa.PublicKey})
	v := newVerifier(t, Key{Source: "jwks", JWKSURI: srv.URL}, jwksOptions(t, -1))
	srv.set(t, testJWK{kid: "old", key: &k.rsa.PublicKey}, testJWK{kid: "new", key: &k.p256.PublicKey})
	tok := mint(t, "ES256", k.p256, MintClaims{Subject: "u", TTL: time.Hour, Kid: "new"})
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(tok)
			errs <- err
		}()
	}
	for range n {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Verify did not return")
		}
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("%d fetches, want 2 (the first, and one for the new kid)", got)
	}
}

// hangingJWKS is a JWKS endpoint that accepts requests and never answers them, until the
// test ends.
func hangingJWKS(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv, &hits
}

// TestJWKSEndpointThatNeverAnswers: a JWKS endpoint that never answers holds up nothing:
// NewVerifier returns, a token is refused with 503 keys_unavailable after keysWait while
// the fetch hangs, each fetch ends at JWKSFetchTimeout even with a client that has no timeout
// of its own (http.DefaultClient), and Close returns (issue 13 item 8).
func TestJWKSEndpointThatNeverAnswers(t *testing.T) {
	k := testKeys()
	srv, hits := hangingJWKS(t)
	o := jwksOptions(t, time.Hour)
	o.HTTPClient = http.DefaultClient
	o.JWKSFetchTimeout = 5 * time.Second
	v, err := NewVerifier(Key{Source: "jwks", JWKSURI: srv.URL}, o)
	if err != nil {
		t.Fatal(err)
	}
	v.Start(t.Context())
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no fetch started")
		}
		time.Sleep(time.Millisecond)
	}
	tok := mint(t, "RS256", k.rsa, MintClaims{Subject: "u", TTL: time.Hour, Kid: "a"})
	done := make(chan error, 1)
	go func() { _, err := v.Verify(tok); done <- err }()
	select {
	case err := <-done:
		if ae := wantAuthError(t, err, CodeKeysUnavailable); ae.Status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", ae.Status)
		}
	case <-v.jwks.attempted:
		t.Fatal("Verify waited for the hanging fetch instead of answering keys_unavailable")
	case <-time.After(10 * time.Second):
		t.Fatal("Verify blocked on the hanging fetch")
	}
	select {
	case <-v.jwks.attempted: // the fetch timed out
	case <-time.After(10 * time.Second):
		t.Fatal("the fetch outlived JWKSFetchTimeout")
	}
	closed := make(chan struct{})
	go func() { v.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on the hanging endpoint")
	}
}
