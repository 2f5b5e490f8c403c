package server

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// subscribeCounter is a memory broker that counts its subscribers.
type subscribeCounter struct {
	Broker
	n atomic.Int32
}

func (b *subscribeCounter) Subscribe(h Handler) (func(), error) {
	b.n.Add(1)
	return b.Broker.Subscribe(h)
}

// New builds and starts nothing: no broker subscription, and every request is refused
// with 503 not_started (Retry-After) until Start, which starts it once; Close works
// whether or not Start ran.
func TestNewStartsNothingUntilStart(t *testing.T) {
	b := &subscribeCounter{Broker: NewMemoryBroker()}
	s, err := New(Options{Apps: []App{testApp("a", secretA)}, Broker: b, CloseBroker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if n := b.n.Load(); n != 0 {
		t.Fatalf("New subscribed to the broker %d times, want 0 (Start subscribes)", n)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	get := func() *http.Response {
		t.Helper()
		resp, err := http.Get(hs.URL + "/api/health/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("before Start: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if n := b.n.Load(); n != 1 {
		t.Fatalf("after Start: %d broker subscriptions, want 1", n)
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("after Start: %d, want 200", resp.StatusCode)
	}
	if err := s.Start(); err == nil {
		t.Fatal("a second Start succeeded")
	}
}

// Close of a server that was never started returns (nothing to stop) and a later Start
// fails.
func TestCloseWithoutStart(t *testing.T) {
	s, err := New(Options{Apps: []App{testApp("a", secretA)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}
