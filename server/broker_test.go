package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMemoryBroker(t *testing.T) {
	b := NewMemoryBroker()
	var mu sync.Mutex
	var got []string
	unsub, err := b.Subscribe(func(_ context.Context, app, topic string, m Message) error {
		mu.Lock()
		got = append(got, app+"/"+topic+"="+string(m.Data))
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	busy := errors.New("busy")
	unsub2, _ := b.Subscribe(func(context.Context, string, string, Message) error { return busy })
	if err := b.Publish(context.Background(), "a", "t", Message{Data: []byte("1")}); !errors.Is(err, busy) {
		t.Fatalf("handler error not returned: %v", err)
	}
	unsub2()
	if err := b.Publish(context.Background(), "a", "t", Message{Data: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	unsub()
	_ = b.Publish(context.Background(), "a", "t", Message{Data: []byte("3")})
	mu.Lock()
	if strings.Join(got, ",") != "a/t=1,a/t=2" {
		t.Fatalf("got %v", got)
	}
	mu.Unlock()
	_ = b.Close()
	if err := b.Publish(context.Background(), "a", "t", Message{}); !errors.Is(err, ErrBrokerClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	// Message is plain data: it round-trips through JSON for brokers across nodes.
	m := Message{MessageType: "x", Data: []byte(`{"a":1}`), Binary: true}
	j, _ := json.Marshal(m)
	var back Message
	if err := json.Unmarshal(j, &back); err != nil || string(back.Data) != `{"a":1}` || !back.Binary {
		t.Fatalf("round trip %s → %+v %v", j, back, err)
	}
}

// recordingBroker is a Broker that is not the memory one, to show the hub works on any.
type recordingBroker struct {
	*MemoryBroker
	mu     sync.Mutex
	topics []string
}

func (r *recordingBroker) Publish(ctx context.Context, app, topic string, m Message) error {
	r.mu.Lock()
	r.topics = append(r.topics, app+"/"+topic)
	r.mu.Unlock()
	return r.MemoryBroker.Publish(ctx, app, topic, m)
}

func TestServerUsesGivenBroker(t *testing.T) {
	rb := &recordingBroker{MemoryBroker: NewMemoryBroker()}
	defer rb.Close()
	app := testApp("a", secretA)
	// Under the default ("replace") a connection also tells the other nodes, through the
	// broker, to close the subject's older connections: not what this test counts.
	app.OneConnectionPerUser = OnePerUserOff
	_, hs := startServer(t, Options{Apps: []App{app}, Broker: rb})
	tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "main", "message": 1})
	tc.WaitFor("main", "broadcast")
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.topics) != 1 || rb.topics[0] != "a/main" {
		t.Fatalf("broker saw %v", rb.topics)
	}
}
