package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// A server that is closing but whose listener still answers refuses upgrades with 503
// shutting_down and Retry-After, never 404 app_not_found: Close empties the app table
// first, and a destination takes 404 as "this URL will never work" and dead-letters.
func TestClosingServerRefusesWith503NotUnknownApp(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{testApp("a", "secret-a-0123456789abcdef0123456")}})
	tok := mint(t, "secret-a-0123456789abcdef0123456", "u", time.Minute)
	connect(t, hs, "a", tok) // the app is served
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+tok), wstest.Options{})
	if err == nil {
		t.Fatal("a closed server accepted an upgrade")
	}
	if got := wstest.Status(resp); got != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("upgrade to a closing server = %d (Retry-After %q), want 503 with Retry-After", got, resp.Header.Get("Retry-After"))
	}
}
