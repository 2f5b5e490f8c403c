package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// TestForbiddenCloses: under the default OnForbidden policy a frame the token does not
// allow closes the connection with the platform's reason, as the official client's
// test/onerror.test.ts expects ("Subscription to secure topic is forbidden!"), instead of
// an error frame that no official client reads.
func TestForbiddenCloses(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	tests := []struct {
		name   string
		frame  map[string]any
		reason string
	}{
		{"secure subscribe without permission",
			map[string]any{"type": "subscribe", "data": map[string]any{"topic": "secure/tasks"}}, ReasonSubscribeSecureForbidden},
		{"private subscribe",
			map[string]any{"type": "subscribe", "data": map[string]any{"topic": "priv/someone"}}, ReasonSubscribePrivateForbidden},
		{"publish without permission",
			map[string]any{"type": "publish", "data": map[string]any{"topic": "news", "payload": "x", "id": "p1"}}, ReasonPublishForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := connect(t, hs, "a", mint(t, secretA, "alice-"+tt.name, time.Hour))
			tc.Send(tt.frame)
			ce := tc.WaitClosed()
			if ce.Code != ClosePolicyViolation || string(ce.Reason) != tt.reason {
				t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, ClosePolicyViolation, tt.reason)
			}
		})
	}
}

// startClockServer runs app on a fake clock, with pings and the idle timeout out of the
// way of a clock that jumps minutes.
func startClockServer(t *testing.T, app App) (*Server, *httptest.Server, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	app.Limits.IdleTimeout = Duration(time.Hour)
	app.Limits.PingInterval = Duration(time.Hour)
	s, hs := startServer(t, Options{Apps: []App{app}, Now: clock.Now, SweepInterval: time.Hour})
	return s, hs, clock
}

// TestTokenLifetimeHandshakeOnly: under the default policy (the platform's) a subscriber
// whose token lived 5 seconds, as every official test and demo mints them, still gets
// messages a minute later.
func TestTokenLifetimeHandshakeOnly(t *testing.T) {
	s, hs, clock := startClockServer(t, testApp("a", secretA))
	sub := connect(t, hs, "a", mintAt(t, clock, secretA, "alice", 5*time.Second))
	sub.Subscribe("news")
	clock.Advance(time.Minute)
	s.sweep(nil)
	apiPublish(t, hs, "news", 1)
	sub.WaitFor("news", "broadcast")
}

// TestTokenLifetimeClose: under tokenExpiry "close" (Drogue Cloud's behaviour) the same
// subscriber is closed once exp plus the leeway has passed, and not before.
func TestTokenLifetimeClose(t *testing.T) {
	app := testApp("a", secretA)
	app.TokenExpiry = TokenExpiryClose
	s, hs, clock := startClockServer(t, app)
	sub := connect(t, hs, "a", mintAt(t, clock, secretA, "alice", 5*time.Second))
	sub.Subscribe("news")
	clock.Advance(5*time.Second + s.opts.TokenLeeway - time.Second) // within the leeway
	s.sweep(nil)
	apiPublish(t, hs, "news", 1)
	sub.WaitFor("news", "broadcast")
	clock.Advance(time.Second)
	s.sweep(nil)
	if ce := sub.WaitClosed(); ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonTokenExpired {
		t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, ClosePolicyViolation, ReasonTokenExpired)
	}
}

// TestNoAcceptThenClose: a token that expired within the leeway is accepted and kept
// (under either policy: under "close", until exp plus the same leeway), and one past the
// leeway is refused at the handshake, never welcomed and then closed by the next sweep.
func TestNoAcceptThenClose(t *testing.T) {
	for _, policy := range []TokenExpiryPolicy{TokenExpiryHandshake, TokenExpiryClose} {
		t.Run("policy "+string(policy), func(t *testing.T) {
			app := testApp("a", secretA)
			app.TokenExpiry = policy
			s, hs, clock := startClockServer(t, app)
			leeway := s.opts.TokenLeeway
			// Issued 15 s ago for 5 s: expired 10 s ago, within the leeway.
			issued := clock.Now().Add(-15 * time.Second)
			late := &fakeClock{}
			late.ns.Store(issued.UnixNano())
			sub := connect(t, hs, "a", mintAt(t, late, secretA, "alice", 5*time.Second))
			sub.Subscribe("news")
			s.sweep(nil)
			apiPublish(t, hs, "news", 1)
			sub.WaitFor("news", "broadcast")

			// Past the leeway: refused with 401 before any upgrade.
			late.ns.Store(clock.Now().Add(-leeway - 6*time.Second).UnixNano())
			_, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mintAt(t, late, secretA, "bob", 5*time.Second)), wstest.Options{})
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("token expired beyond the leeway: err %v, response %v; want 401", err, resp)
			}
		})
	}
}
