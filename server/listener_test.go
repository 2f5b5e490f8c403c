package server

import (
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/httpguard"
)

// TestWebSocketOutlivesHTTPDeadlines: the listener's HTTP deadlines (internal/httpguard,
// as `kete server` runs it) cut off a silent client, but a WebSocket, taken over from
// net/http, lives on under its own ping and idle rules and still gets messages.
func TestWebSocketOutlivesHTTPDeadlines(t *testing.T) {
	s, err := New(Options{Apps: []App{testApp("a", secretA)}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	short := 200 * time.Millisecond
	o := httpguard.Options{ReadHeaderTimeout: short, ReadTimeout: short, WriteTimeout: short, IdleTimeout: short}
	hs := httptest.NewUnstartedServer(s)
	hs.Listener = httpguard.Wrap(hs.Listener, nil, o)
	hs.Config = httpguard.Server(s, o, nil)
	hs.Start()
	t.Cleanup(func() { hs.Close(); _ = s.Close() })

	tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))

	// A client that sends nothing is closed: every deadline above has passed by then.
	silent, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.ReadAll(silent); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("a silent connection is still open after %v", waitLimit)
		}
	}

	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	if st, body := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "main", "message": "still here"}); st != 200 {
		t.Fatalf("publish: %d %v", st, body)
	}
	tc.WaitFor("main", "broadcast")
	select {
	case <-tc.Done():
		t.Fatalf("the WebSocket was closed: %v", tc.CloseErr())
	default:
	}
}
