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
	secret = NewSecret()
	srv, err := server.New(server.Options{Apps: []server.App{BenchApp("bench", secret)}})
	if err != nil {
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
	tok, err := MintToken(secret, "bench", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []PublishMode{PublishHTTP, PublishWS} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := RunFanout(ctx, Target{Name: "server", Kind: KindServer, URL: url, App: "bench", Token: tok}, FanoutOptions{
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
	tok, err := MintToken(NewSecret(), "bench", time.Hour) // signed with another secret
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = RunFanout(ctx, Target{Name: "server", Kind: KindServer, URL: url, App: "bench", Token: tok}, FanoutOptions{Subscribers: 2})
	if err == nil {
		t.Fatal("no error with a token the server refuses")
	}
	t.Log(err)
}
