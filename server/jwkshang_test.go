package server

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server/auth"
)

// TestJWKSThatNeverAnswersHoldsUpNothing: an app whose JWKS endpoint accepts the request
// and never answers does not stop the server from starting, from applying a reload (an app
// disabled) or from closing; the other apps serve as usual, the JWKS app answers 503
// keys_unavailable, and once the endpoint answers its tokens are taken (issue 13 item 8).
// The server's HTTP client is the default one, with no timeout of its own.
func TestJWKSThatNeverAnswersHoldsUpNothing(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := `{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"` + b64(priv.N.Bytes()) +
		`","e":"` + b64(big.NewInt(int64(priv.E)).Bytes()) + `"}]}`
	answer := make(chan struct{}) // closed: the endpoint starts answering
	var hits atomic.Int64
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-answer:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwks))
	}))
	defer js.Close()
	defer func() {
		select {
		case <-answer:
		default:
			close(answer)
		}
	}()

	jApp := App{AppID: "j", Enabled: true, AuthKey: auth.Key{Source: "jwks", JWKSURI: js.URL, Algorithms: []string{"RS256"}}}
	apps := []App{testApp("a", secretA), jApp}
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { f(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Fatalf("%s: blocked on the JWKS endpoint for %v", what, waitLimit)
		}
	}
	var s *Server
	within("server.New", func() { s, err = New(Options{Apps: apps, ReloadInterval: -1}) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	waitUntil(t, "the JWKS fetch under way", func() bool { return hits.Load() > 0 })

	connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	tok, err := auth.Mint("RS256", priv, auth.MintClaims{Subject: "bob", TTL: time.Hour, Kid: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, resp, err := wstest.Dial(t, wsURL(hs, "/apps/j?access_token="+tok), wstest.Options{}); err == nil || wstest.Status(resp) != http.StatusServiceUnavailable {
		t.Fatalf("JWKS app while its endpoint hangs: %v, status %d, want 503 keys_unavailable", err, wstest.Status(resp))
	}

	disabled := testApp("a", secretA)
	disabled.Enabled = false
	within("a reload that disables app a", func() { err = s.SetApps([]App{disabled, jApp}) })
	if err != nil {
		t.Fatal(err)
	}
	if _, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "carol", time.Hour)), wstest.Options{}); err == nil || wstest.Status(resp) != http.StatusForbidden {
		t.Fatalf("disabled app: %v, status %d, want 403", err, wstest.Status(resp))
	}

	// SIGTERM: a server whose JWKS fetch hangs closes at once.
	var s2 *Server
	within("a second server.New", func() { s2, err = New(Options{Apps: []App{jApp}, ReloadInterval: -1}) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second server's JWKS fetch under way", func() bool { return hits.Load() > 2 })
	within("Close while the JWKS fetch hangs", func() { s2.Close() })

	close(answer)
	waitUntil(t, "the JWKS app taking its tokens once the endpoint answers", func() bool {
		tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/j?access_token="+tok), wstest.Options{})
		if err != nil {
			return false
		}
		tc.WaitFor("main", "welcome")
		return true
	})

	within("Close", func() { s.Close() })
	closed = true
}
