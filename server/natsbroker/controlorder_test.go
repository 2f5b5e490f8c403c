package natsbroker_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/natsbroker"
)

// TestControlStaysInOrderWithPublications: a node's control messages and publications
// reach another node in the order it sent them. An HTTP API unsubscribe or disconnect is
// a control message; the publication sent right after it must not reach the removed
// connection first. (With control on a second NATS subscription, nats.go ran it on a
// goroutine of its own and publications overtook it.)
func TestControlStaysInOrderWithPublications(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	from := startNodeBroker(t, "from", ns.ClientURL(), natsbroker.HistoryOptions{})
	to := startNodeBroker(t, "to", ns.ClientURL(), natsbroker.HistoryOptions{})
	t.Cleanup(func() { _ = from.Close(); _ = to.Close() })

	var mu sync.Mutex
	var got []string
	record := func(s string) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	unsubCtl, err := to.SubscribeControl(func(_ context.Context, data []byte) {
		runtime.Gosched() // a control handler that takes a moment, as applying a command does
		record(string(data))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsubCtl()
	unsubPub, err := to.Subscribe(func(_ context.Context, _, _ string, m server.Message) error {
		record(string(m.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsubPub()

	const pairs = 200
	var want []string
	ctx := context.Background()
	for i := range pairs {
		c, p := fmt.Sprintf("c%d", i), fmt.Sprintf("p%d", i)
		if err := from.PublishControl(ctx, []byte(c)); err != nil {
			t.Fatal(err)
		}
		if err := from.Publish(ctx, "app", "topic", server.Message{Data: []byte(p)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, c, p)
	}
	waitUntil(t, "every control message and publication arrives", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("got %d messages; first out of order at %d: %q, want %q", len(got), i, got[i], want[i])
			}
		}
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
}
