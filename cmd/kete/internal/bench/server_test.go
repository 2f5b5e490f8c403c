package bench

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
)

// startServer serves kete's server with one HS256 app on 127.0.0.1.
func startServer(t *testing.T) (url, secret string) {
	t.Helper()
	secret = newSecret()
	srv, err := server.New(server.Options{Apps: []server.App{benchApp("bench", secret)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
	})
	return "ws://" + hs.Listener.Addr().String(), secret
}

func TestFanoutAgainstServer(t *testing.T) {
	url, secret := startServer(t)
	tok, err := mintToken(secret, "bench", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []publishMode{publishHTTP, publishWS} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := runFanout(ctx, target{Name: "server", Kind: kindServer, URL: url, App: "bench", Token: tok}, fanoutOptions{
				Subscribers: 20, Rate: 8000, Duration: 500 * time.Millisecond, Publish: mode,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, res, 20, 200)
		})
	}
}

func TestFanoutServerBadToken(t *testing.T) {
	url, _ := startServer(t)
	tok, err := mintToken(newSecret(), "bench", time.Hour) // signed with another secret
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = runFanout(ctx, target{Name: "server", Kind: kindServer, URL: url, App: "bench", Token: tok}, fanoutOptions{Subscribers: 2})
	if err == nil {
		t.Fatal("no error with a token the server refuses")
	}
	t.Log(err)
}
