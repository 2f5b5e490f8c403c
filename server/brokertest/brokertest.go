// Package brokertest is the conformance suite every server.Broker passes: what the hub
// may rely on, whatever carries the messages (one process, or many nodes over NATS).
//
// A broker that gives several nodes must also be a server.Controller (the control cases,
// control.go); a single-node broker skips them. A broker package runs the suite from its
// tests:
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T, n int) []server.Broker { … n nodes of one cluster … })
//	}
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
)

// Factory returns n brokers that act as n nodes of one cluster, ready to publish (a broker
// with a Start step, like natsbroker's, is started), or fewer when the broker cannot span
// nodes (the memory broker returns one); cases that need more nodes than it returns are
// skipped. The factory closes the brokers at the test's cleanup; Close must
// be safe to call again.
type Factory func(t *testing.T, n int) []server.Broker

// Wait bounds every wait of the suite for a delivery.
const Wait = 10 * time.Second

// Run runs every case of the suite as a subtest of t.
func Run(t *testing.T, newBrokers Factory) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, f Factory)
	}{
		{"DeliversEveryFieldToEveryNode", testFields},
		{"OncePerHandlerInPublishOrder", testOrder},
		{"UnsubscribeStopsDelivery", testUnsubscribe},
		{"HandlerErrorDoesNotStopDelivery", testHandlerError},
		{"CloseRefusesPublishAndSubscribe", testClose},
		{"ClosedNodeLeavesOthersWorking", testClosedNode},
		{"NilHandlerRefused", testNilHandler},
		{"ControlReachesOtherNodesInOrder", testControlOrder},
		{"ControlApartFromPublications", testControlApart},
		{"ControlUnsubscribeStopsDelivery", testControlUnsubscribe},
		{"ControlCloseRefuses", testControlClose},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newBrokers) })
	}
}

// delivery is one handler call as a recorder saw it.
type delivery struct {
	appID, topic string
	msg          server.Message
}

// recorder is a Handler that keeps what it got and wakes waiters.
type recorder struct {
	mu     sync.Mutex
	got    []delivery
	change chan struct{}
	fail   func(d delivery) error // when set, its error is returned to the broker
}

func newRecorder() *recorder { return &recorder{change: make(chan struct{}, 1)} }

func (r *recorder) handle(ctx context.Context, appID, topic string, msg server.Message) error {
	if ctx == nil {
		panic("brokertest: handler called with a nil context")
	}
	d := delivery{appID: appID, topic: topic, msg: server.Message{
		MessageType: msg.MessageType, Data: append([]byte(nil), msg.Data...), Binary: msg.Binary, Origin: msg.Origin,
	}}
	r.mu.Lock()
	r.got = append(r.got, d)
	fail := r.fail
	r.mu.Unlock()
	select {
	case r.change <- struct{}{}:
	default:
	}
	if fail != nil {
		return fail(d)
	}
	return nil
}

func (r *recorder) snapshot() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waitFor waits until cond holds for what r got, or fails t after Wait.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]delivery) bool) []delivery {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		got := r.snapshot()
		if cond(got) {
			return got
		}
		select {
		case <-r.change:
		case <-deadline.C:
			t.Fatalf("waited %v for %s; got %d deliveries: %s", Wait, what, len(got), summarize(got))
		}
	}
}

func summarize(got []delivery) string {
	const max = 5
	s := ""
	for i, d := range got {
		if i == max {
			return s + fmt.Sprintf(" … (%d more)", len(got)-max)
		}
		s += fmt.Sprintf(" [%s %q %s %q]", d.appID, d.topic, d.msg.Origin, d.msg.Data)
	}
	return s
}

func countOrigin(got []delivery, origin string) int {
	n := 0
	for _, d := range got {
		if d.msg.Origin == origin {
			n++
		}
	}
	return n
}

func subscribe(t *testing.T, b server.Broker, r *recorder) func() {
	t.Helper()
	unsub, err := b.Subscribe(r.handle)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return unsub
}

func publish(t *testing.T, b server.Broker, appID, topic string, msg server.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := b.Publish(ctx, appID, topic, msg); err != nil {
		t.Fatalf("Publish(%q, %q, origin %q): %v", appID, topic, msg.Origin, err)
	}
}

func brokers(t *testing.T, f Factory, want, need int) []server.Broker {
	t.Helper()
	bs := f(t, want)
	if len(bs) == 0 {
		t.Fatalf("factory returned no broker")
	}
	if len(bs) < need {
		t.Skipf("needs %d nodes; this broker gives %d", need, len(bs))
	}
	return bs
}

// testFields: every field and every awkward app id and topic arrives unchanged on every node.
func testFields(t *testing.T, f Factory) {
	bs := brokers(t, f, 3, 1)
	recs := make([]*recorder, len(bs))
	for i, b := range bs {
		recs[i] = newRecorder()
		subscribe(t, b, recs[i])
	}
	tests := []struct {
		appID, topic string
		msg          server.Message
	}{
		{"demo", "main", server.Message{Data: []byte(`{"a":1}`)}},
		{"demo", "events/acme/login", server.Message{MessageType: "login", Data: []byte(`"text"`), Origin: "api"}},
		{"app.with.dots", "a.b*c>d%e", server.Message{Data: []byte(`[1,2,3]`), Binary: true, Origin: "conn-1"}},
		{"demo", "ünïcødé/topic", server.Message{MessageType: "x y", Data: []byte(`null`)}},
		{"demo", "priv/user@example.com", server.Message{Data: []byte(`{}`), Origin: "ingest:abc"}},
		{"", "%", server.Message{Data: []byte{}}},
	}
	for i, tc := range tests {
		tc.msg.Origin += "#" + strconv.Itoa(i) // tells the deliveries apart
		publish(t, bs[i%len(bs)], tc.appID, tc.topic, tc.msg)
	}
	for node, r := range recs {
		got := r.waitFor(t, fmt.Sprintf("node %d to get %d messages", node, len(tests)), func(g []delivery) bool { return len(g) >= len(tests) })
		for i, tc := range tests {
			origin := tc.msg.Origin + "#" + strconv.Itoa(i)
			var found *delivery
			for j := range got {
				if got[j].msg.Origin == origin {
					found = &got[j]
				}
			}
			if found == nil {
				t.Errorf("node %d: message %d (%q %q) not delivered", node, i, tc.appID, tc.topic)
				continue
			}
			if found.appID != tc.appID || found.topic != tc.topic || found.msg.MessageType != tc.msg.MessageType ||
				string(found.msg.Data) != string(tc.msg.Data) || found.msg.Binary != tc.msg.Binary {
				t.Errorf("node %d: message %d arrived as app %q topic %q %+v; published app %q topic %q %+v",
					node, i, found.appID, found.topic, found.msg, tc.appID, tc.topic, tc.msg)
			}
		}
	}
}

// testOrder: several publishers on every node, several topics; every handler on every
// node gets each message exactly once, in publish order per publisher and topic.
func testOrder(t *testing.T, f Factory) {
	bs := brokers(t, f, 3, 1)
	const perPublisher = 300
	const publishersPerNode = 2
	topics := []string{"t1", "t.2", "t/3"}
	var recs []*recorder
	for _, b := range bs {
		for range 2 { // two handlers per node
			r := newRecorder()
			subscribe(t, b, r)
			recs = append(recs, r)
		}
	}
	publishConcurrently(t, bs, publishersPerNode, perPublisher, topics)
	total := len(bs) * publishersPerNode * perPublisher
	// A fence per publishing node, published after everything else: once a handler has
	// every fence, a duplicate of an earlier message would already be there.
	for n, b := range bs {
		for _, topic := range topics {
			publish(t, b, "order", topic, server.Message{Data: []byte(`"fence"`), Origin: fmt.Sprintf("fence-%d", n)})
		}
	}
	for i, r := range recs {
		got := r.waitFor(t, fmt.Sprintf("handler %d to get all %d messages and fences", i, total), func(g []delivery) bool {
			for n := range bs {
				if countOrigin(g, fmt.Sprintf("fence-%d", n)) < len(topics) {
					return false
				}
			}
			return len(g) >= total+len(bs)*len(topics)
		})
		if want := total + len(bs)*len(topics); len(got) != want {
			t.Errorf("handler %d got %d deliveries, want %d (duplicates)", i, len(got), want)
		}
		checkOrder(t, i, got, topics)
	}
}

// publishConcurrently runs publishersPerNode publishers on every node at once, each
// publishing perPublisher messages (data 0, 1, …) to app "order", round robin over topics.
func publishConcurrently(t *testing.T, bs []server.Broker, publishersPerNode, perPublisher int, topics []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(bs)*publishersPerNode)
	for n, b := range bs {
		for p := range publishersPerNode {
			origin := fmt.Sprintf("n%d-p%d", n, p)
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), Wait)
				defer cancel()
				for i := range perPublisher {
					msg := server.Message{Data: []byte(strconv.Itoa(i)), Origin: origin}
					if err := b.Publish(ctx, "order", topics[i%len(topics)], msg); err != nil {
						errs <- fmt.Errorf("publisher %s message %d: %w", origin, i, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// checkOrder fails t unless handler i got each publisher's messages on each topic in the
// order publishConcurrently sent them, fences aside.
func checkOrder(t *testing.T, i int, got []delivery, topics []string) {
	t.Helper()
	next := map[string]int{} // origin + topic → next expected index
	for _, d := range got {
		if d.appID != "order" {
			t.Fatalf("handler %d: app %q, want order", i, d.appID)
		}
		if strings.HasPrefix(d.msg.Origin, "fence") {
			continue
		}
		seq, err := strconv.Atoi(string(d.msg.Data))
		if err != nil {
			t.Fatalf("handler %d: data %q: %v", i, d.msg.Data, err)
		}
		key := d.msg.Origin + "|" + d.topic
		want, ok := next[key]
		if !ok {
			want = slices.Index(topics, d.topic)
		}
		if seq != want {
			t.Fatalf("handler %d: publisher %s topic %q: got message %d, want %d (out of order, lost or duplicated)", i, d.msg.Origin, d.topic, seq, want)
		}
		next[key] = seq + len(topics)
	}
}

// testUnsubscribe: a removed handler gets nothing published after removal; the others do.
func testUnsubscribe(t *testing.T, f Factory) {
	bs := brokers(t, f, 2, 1)
	gone, stays := newRecorder(), newRecorder()
	unsub := subscribe(t, bs[0], gone)
	subscribe(t, bs[0], stays)
	publish(t, bs[len(bs)-1], "u", "before", server.Message{Data: []byte(`1`), Origin: "before"})
	gone.waitFor(t, "the message before unsubscribe", func(g []delivery) bool { return countOrigin(g, "before") == 1 })
	unsub()
	unsub() // twice is harmless
	for i, b := range bs {
		publish(t, b, "u", "after", server.Message{Data: []byte(`2`), Origin: "after-" + strconv.Itoa(i)})
	}
	stays.waitFor(t, "every message after unsubscribe", func(g []delivery) bool {
		for i := range bs {
			if countOrigin(g, "after-"+strconv.Itoa(i)) == 0 {
				return false
			}
		}
		return true
	})
	if got := gone.snapshot(); len(got) != 1 {
		t.Errorf("unsubscribed handler got %d deliveries, want only the one before: %s", len(got), summarize(got))
	}
}

var errBusy = errors.New("brokertest: handler busy")

// testHandlerError: a handler that refuses a message does not keep it from the other
// handlers nor stop later deliveries; a broker that reports handler errors to Publish
// (one node) returns that error, wrapped or not, and nothing else.
func testHandlerError(t *testing.T, f Factory) {
	bs := brokers(t, f, 2, 1)
	refusing, other := newRecorder(), newRecorder()
	refusing.fail = func(d delivery) error {
		if d.msg.Origin == "refused" {
			return errBusy
		}
		return nil
	}
	subscribe(t, bs[0], refusing)
	subscribe(t, bs[0], other)
	for _, b := range []server.Broker{bs[0], bs[len(bs)-1]} {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		err := b.Publish(ctx, "e", "t", server.Message{Data: []byte(`1`), Origin: "refused"})
		cancel()
		if err != nil && !errors.Is(err, errBusy) {
			t.Fatalf("Publish with a refusing handler: %v, want nil or %v", err, errBusy)
		}
	}
	publish(t, bs[len(bs)-1], "e", "t", server.Message{Data: []byte(`2`), Origin: "later"})
	for name, r := range map[string]*recorder{"refusing": refusing, "other": other} {
		r.waitFor(t, name+" handler to get the refused and the later message", func(g []delivery) bool {
			return countOrigin(g, "refused") == 2 && countOrigin(g, "later") == 1
		})
	}
}

// testClose: a closed broker refuses Publish and Subscribe with ErrBrokerClosed; Close
// again does no harm.
func testClose(t *testing.T, f Factory) {
	bs := brokers(t, f, 1, 1)
	b := bs[0]
	r := newRecorder()
	subscribe(t, b, r)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err := b.Publish(context.Background(), "c", "t", server.Message{Data: []byte(`1`)})
	if !errors.Is(err, server.ErrBrokerClosed) {
		t.Errorf("Publish after Close: %v, want ErrBrokerClosed", err)
	}
	if _, err := b.Subscribe(newRecorder().handle); !errors.Is(err, server.ErrBrokerClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrBrokerClosed", err)
	}
	if got := r.snapshot(); len(got) != 0 {
		t.Errorf("closed broker delivered %d messages", len(got))
	}
}

// testClosedNode: closing one node leaves the others delivering to each other, and the
// closed node's handlers get nothing more.
func testClosedNode(t *testing.T, f Factory) {
	bs := brokers(t, f, 3, 2)
	recs := make([]*recorder, len(bs))
	for i, b := range bs {
		recs[i] = newRecorder()
		subscribe(t, b, recs[i])
	}
	if err := bs[0].Close(); err != nil {
		t.Fatalf("Close node 0: %v", err)
	}
	last := bs[len(bs)-1]
	publish(t, last, "c", "t", server.Message{Data: []byte(`1`), Origin: "after-close"})
	for i := 1; i < len(bs); i++ {
		recs[i].waitFor(t, fmt.Sprintf("node %d to get the message", i), func(g []delivery) bool { return countOrigin(g, "after-close") == 1 })
	}
	if got := recs[0].snapshot(); len(got) != 0 {
		t.Errorf("closed node 0 delivered %d messages: %s", len(got), summarize(got))
	}
}

func testNilHandler(t *testing.T, f Factory) {
	bs := brokers(t, f, 1, 1)
	if unsub, err := bs[0].Subscribe(nil); err == nil {
		unsub()
		t.Errorf("Subscribe(nil) succeeded, want an error")
	}
}
