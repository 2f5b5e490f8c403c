package natsbroker_test

import (
	"context"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/natsbroker"
)

// TestHistoryBeforeTheServerSubscribes: between the broker's Start and the server's Start
// (cmd/kete builds the server in between) the history consumer already runs. What it takes
// then reaches no handler, so it must count as not live: LiveFrom moves past it and the
// messages are read back, instead of a recovering client being told it recovered a gap
// whose messages never came.
func TestHistoryBeforeTheServerSubscribes(t *testing.T) {
	ns := startJetStream(t, 0, t.TempDir())
	h := natsbroker.HistoryOptions{Heartbeat: 200 * time.Millisecond}
	a := startNodeBroker(t, "a", ns.ClientURL(), h)
	b := startNodeBroker(t, "b", ns.ClientURL(), h)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ctx := context.Background()
	for _, d := range []string{`1`, `2`, `3`} {
		if err := a.Publish(ctx, "app", "t", server.Message{Data: []byte(d), History: true}); err != nil {
			t.Fatal(err)
		}
	}
	var read server.HistoryRead
	waitUntil(t, "LiveFrom moves past 3 messages that reached no handler (they must be read back)", func() bool {
		var err error
		if read, err = b.ReadHistory(ctx, "app", "t", 1, 100); err != nil {
			t.Fatal(err)
		}
		return read.LiveFrom == 4
	})
	if !read.Anchored || len(read.Messages) != 2 || read.Messages[0].Offset != 2 || read.Messages[1].Offset != 3 {
		t.Fatalf("read back after 1: anchored %v, %d messages %+v; want offsets 2 and 3", read.Anchored, len(read.Messages), read.Messages)
	}

	// Once the server subscribes, history arrives live again.
	got := make(chan uint64, 1)
	unsub, err := b.Subscribe(func(_ context.Context, _, _ string, m server.Message) error {
		got <- m.Offset
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	if err := a.Publish(ctx, "app", "t", server.Message{Data: []byte(`4`), History: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case off := <-got:
		if off != 4 {
			t.Fatalf("live offset %d, want 4", off)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message published after Subscribe did not arrive live")
	}
}
