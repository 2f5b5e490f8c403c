package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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
	if ok, reason := s.Ready(); ok || reason != "not started" {
		t.Fatalf("Ready before Start = %v %q, want false \"not started\"", ok, reason)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if ok, reason := s.Ready(); !ok {
		t.Fatalf("Ready after Start = false %q", reason)
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

// failingController is a broker that spans nodes and whose control subscription fails.
type failingController struct {
	*subscribeCounter
}

func (failingController) PublishControl(context.Context, []byte) error { return nil }
func (failingController) SubscribeControl(ControlHandler) (func(), error) {
	return nil, errors.New("control subscription refused")
}

// A Start that fails part-way (here at the cluster's control subscription, after the
// broker subscription and the dispatchers) is not retried: a second Start would subscribe
// and start dispatchers again and deliver every publication twice. Close stops what the
// failed Start left running.
func TestFailedStartIsNotRetried(t *testing.T) {
	b := failingController{&subscribeCounter{Broker: NewMemoryBroker()}}
	s, err := New(Options{Apps: []App{testApp("a", secretA)}, Broker: b, CloseBroker: true, HeartbeatInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "control subscription refused") {
		t.Fatalf("first Start: %v, want the control subscription's error", err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("a Start after a failed Start succeeded")
	}
	if n := b.n.Load(); n != 1 {
		t.Fatalf("%d broker subscriptions after a failed Start and a retry, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
