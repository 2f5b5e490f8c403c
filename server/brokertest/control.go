package brokertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
)

// The control cases hold a broker that spans nodes to server.Controller: the channel the
// servers' own node-to-node messages travel on, apart from publications.

// controlRecorder is a ControlHandler that keeps what it got and wakes waiters.
type controlRecorder struct {
	mu     sync.Mutex
	got    []string
	change chan struct{}
}

func newControlRecorder() *controlRecorder {
	return &controlRecorder{change: make(chan struct{}, 1)}
}

func (r *controlRecorder) handle(ctx context.Context, data []byte) {
	if ctx == nil {
		panic("brokertest: control handler called with a nil context")
	}
	r.mu.Lock()
	r.got = append(r.got, string(data))
	r.mu.Unlock()
	select {
	case r.change <- struct{}{}:
	default:
	}
}

func (r *controlRecorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// waitFor waits until r has got n messages, or fails t after Wait.
func (r *controlRecorder) waitFor(t *testing.T, what string, n int) []string {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		got := r.snapshot()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.change:
		case <-deadline.C:
			t.Fatalf("waited %v for %s; got %d control messages: %q", Wait, what, len(got), got)
		}
	}
}

// controllers returns bs, nodes of one cluster, as Controllers. A broker that gives
// several nodes must be one: without it the servers' cluster commands and roster cannot
// reach the other nodes.
func controllers(t *testing.T, bs []server.Broker) []server.Controller {
	t.Helper()
	out := make([]server.Controller, len(bs))
	for i, b := range bs {
		c, ok := b.(server.Controller)
		if !ok {
			t.Fatalf("broker %T spans nodes but is not a server.Controller", b)
		}
		out[i] = c
	}
	return out
}

func subscribeControl(t *testing.T, c server.Controller, r *controlRecorder) func() {
	t.Helper()
	unsub, err := c.SubscribeControl(r.handle)
	if err != nil {
		t.Fatalf("SubscribeControl: %v", err)
	}
	return unsub
}

func publishControl(t *testing.T, c server.Controller, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := c.PublishControl(ctx, []byte(data)); err != nil {
		t.Fatalf("PublishControl(%q): %v", data, err)
	}
}

// testControlOrder: one node's control messages reach every other node's handlers once, in
// the order sent, and not its own.
func testControlOrder(t *testing.T, f Factory) {
	cs := controllers(t, brokers(t, f, 3, 2))
	recs := make([]*controlRecorder, len(cs))
	for i, c := range cs {
		recs[i] = newControlRecorder()
		subscribeControl(t, c, recs[i])
	}
	const n = 200
	for i := range n {
		publishControl(t, cs[0], strconv.Itoa(i))
	}
	for node := 1; node < len(cs); node++ {
		got := recs[node].waitFor(t, fmt.Sprintf("node %d to get %d control messages", node, n), n)
		for i, d := range got {
			if d != strconv.Itoa(i) {
				t.Fatalf("node %d: control message %d is %q, want %d (out of order, lost or duplicated)", node, i, d, i)
			}
		}
	}
	// A fence from node 1, sent once node 1 had everything: node 0 gets it after what
	// node 0 would have got of its own.
	publishControl(t, cs[1], "fence")
	got := recs[0].waitFor(t, "node 0 to get node 1's fence", 1)
	if len(got) != 1 || got[0] != "fence" {
		t.Errorf("node 0 got %d control messages %.5q…, want only node 1's fence (not its own)", len(got), got)
	}
}

// testControlApart: control messages and publications do not cross: a publication handler
// gets no control message and a control handler no publication.
func testControlApart(t *testing.T, f Factory) {
	bs := brokers(t, f, 2, 2)
	cs := controllers(t, bs)
	pubs, ctls := newRecorder(), newControlRecorder()
	subscribe(t, bs[1], pubs)
	subscribeControl(t, cs[1], ctls)
	publishControl(t, cs[0], "control-1")
	publish(t, bs[0], "apart", "t", server.Message{Data: []byte(`1`), Origin: "pub-1"})
	publishControl(t, cs[0], "control-2")
	publish(t, bs[0], "apart", "t", server.Message{Data: []byte(`2`), Origin: "pub-2"})
	ctls.waitFor(t, "both control messages", 2)
	pubs.waitFor(t, "both publications", func(g []delivery) bool { return countOrigin(g, "pub-2") == 1 })
	if got := pubs.snapshot(); len(got) != 2 {
		t.Errorf("publication handler got %d deliveries, want the 2 publications: %s", len(got), summarize(got))
	}
	if got := ctls.snapshot(); len(got) != 2 || got[0] != "control-1" || got[1] != "control-2" {
		t.Errorf("control handler got %q, want the 2 control messages", got)
	}
}

// testControlUnsubscribe: a removed control handler gets nothing sent after removal.
func testControlUnsubscribe(t *testing.T, f Factory) {
	cs := controllers(t, brokers(t, f, 2, 2))
	gone, stays := newControlRecorder(), newControlRecorder()
	unsub := subscribeControl(t, cs[1], gone)
	subscribeControl(t, cs[1], stays)
	publishControl(t, cs[0], "before")
	gone.waitFor(t, "the control message before unsubscribe", 1)
	unsub()
	unsub() // twice is harmless
	publishControl(t, cs[0], "after")
	stays.waitFor(t, "both control messages", 2)
	if got := gone.snapshot(); len(got) != 1 {
		t.Errorf("unsubscribed control handler got %q, want only the one before", got)
	}
}

// testControlClose: a closed node refuses PublishControl and SubscribeControl with
// ErrBrokerClosed; SubscribeControl(nil) is refused.
func testControlClose(t *testing.T, f Factory) {
	bs := brokers(t, f, 2, 2)
	c := controllers(t, bs)[0]
	if unsub, err := c.SubscribeControl(nil); err == nil {
		unsub()
		t.Errorf("SubscribeControl(nil) succeeded, want an error")
	}
	if err := bs[0].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.PublishControl(context.Background(), []byte("x")); !errors.Is(err, server.ErrBrokerClosed) {
		t.Errorf("PublishControl after Close: %v, want ErrBrokerClosed", err)
	}
	if _, err := c.SubscribeControl(newControlRecorder().handle); !errors.Is(err, server.ErrBrokerClosed) {
		t.Errorf("SubscribeControl after Close: %v, want ErrBrokerClosed", err)
	}
}
