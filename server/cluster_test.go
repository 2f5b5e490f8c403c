package server

import (
	"context"
	"sync"
	"testing"
	"time"
)

// hiddenBroker is a memory broker seen only through the Broker interface: not the memory
// broker's type, and without Controller.
type hiddenBroker struct{ Broker }

// TestBrokerWithoutControllerSpansNoNodes: the server decides that its broker spans nodes
// from the Controller capability, not from the broker's type. A broker that is not a
// Controller carries publications only: a second connection of one subject under the
// default "replace" policy sends no cluster command through it, and /readyz is ready.
func TestBrokerWithoutControllerSpansNoNodes(t *testing.T) {
	mem := NewMemoryBroker()
	defer mem.Close()
	var mu sync.Mutex
	var topics []string
	fence := make(chan struct{}, 1)
	unsub, err := mem.Subscribe(func(_ context.Context, appID, topic string, _ Message) error {
		mu.Lock()
		topics = append(topics, appID+"/"+topic)
		mu.Unlock()
		if topic == "fence" {
			fence <- struct{}{}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	s, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}, Broker: hiddenBroker{mem}})
	if s.cluster.ctl != nil || s.roster != nil {
		t.Fatal("a broker without Controller was taken to span nodes")
	}
	connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	connect(t, hs, "a", mint(t, secretA, "alice", time.Hour)) // replaces the first, on this node only
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	if code, body := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "fence", "message": 1}); code != 200 && code != 202 {
		t.Fatalf("publish: %d %v", code, body)
	}
	select {
	case <-fence:
	case <-time.After(10 * time.Second):
		t.Fatal("the fence did not go through the broker")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(topics) != 1 || topics[0] != "a/fence" {
		t.Fatalf("broker carried %q, want only the fence (no cluster command)", topics)
	}
	if ready, reason := s.Ready(); !ready {
		t.Fatalf("not ready (%s) with a broker that does not report readiness", reason)
	}
}
