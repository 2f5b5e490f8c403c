package natsbroker_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/brokertest"
	"github.com/kete-dev/kete/server/natsbroker"
)

// startNATS runs an embedded NATS server on 127.0.0.1 (port 0 picks a free one) until
// the test ends.
func startNATS(t testing.TB, port int) *natsserver.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatalf("nats server on port %d not ready", port)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// freePort returns a loopback port that was free a moment ago, for a NATS server that
// must come back on the same address.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newBroker(t testing.TB, o natsbroker.Options) *natsbroker.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbroker.New(o)
	if err != nil {
		t.Fatalf("natsbroker.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Start(ctx); err != nil {
		t.Fatalf("natsbroker Start: %v", err)
	}
	return b
}

// TestConformance runs the broker suite on three brokers sharing one NATS server.
func TestConformance(t *testing.T) {
	ns := startNATS(t, 0)
	prefix := 0
	brokertest.Run(t, func(t *testing.T, n int) []server.Broker {
		prefix++ // every case its own subject space, so cases cannot see each other
		bs := make([]server.Broker, n)
		for i := range bs {
			bs[i] = newBroker(t, natsbroker.Options{URL: ns.ClientURL(), Name: "node-" + strconv.Itoa(i), SubjectPrefix: "case" + strconv.Itoa(prefix)})
		}
		return bs
	})
}

// TestRefusesBadOptions: New refuses what is wrong in the options themselves; Start what
// only the NATS server can tell.
func TestRefusesBadOptions(t *testing.T) {
	ns := startNATS(t, 0)
	tests := []struct {
		name    string
		o       natsbroker.Options
		atStart bool // the error comes from Start, New succeeds
	}{
		{"empty URL", natsbroker.Options{}, false},
		{"two credentials", natsbroker.Options{URL: ns.ClientURL(), Token: "t", User: "u", Password: "p"}, false},
		{"wildcard prefix", natsbroker.Options{URL: ns.ClientURL(), SubjectPrefix: "a.*"}, false},
		{"empty token in prefix", natsbroker.Options{URL: ns.ClientURL(), SubjectPrefix: "a..b"}, false},
		{"missing seed file", natsbroker.Options{URL: ns.ClientURL(), NKeySeedFile: t.TempDir() + "/none.nk"}, false},
		{"nothing listening", natsbroker.Options{URL: "nats://127.0.0.1:" + strconv.Itoa(freePort(t))}, true},
		{"history without JetStream", natsbroker.Options{URL: ns.ClientURL(), History: &natsbroker.HistoryOptions{}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b, err := natsbroker.New(tc.o)
			if (err != nil) == tc.atStart {
				t.Fatalf("New: %v, want an error: %v", err, !tc.atStart)
			}
			if err == nil {
				defer b.Close()
				if err = b.Start(ctx); err == nil {
					t.Fatalf("Start succeeded, want an error")
				}
			}
			t.Log(err)
		})
	}
}

// TestNewDoesNotConnect: New builds a broker without touching the network, so it succeeds
// with nothing listening; the broker is not ready and refuses to publish until Start.
func TestNewDoesNotConnect(t *testing.T) {
	b, err := natsbroker.New(natsbroker.Options{URL: "nats://127.0.0.1:" + strconv.Itoa(freePort(t))})
	if err != nil {
		t.Fatalf("New with nothing listening: %v, want no error (New must not connect)", err)
	}
	defer b.Close()
	if b.Ready() {
		t.Error("ready before Start")
	}
	if err := b.Publish(t.Context(), "a", "t", server.Message{Data: []byte(`1`)}); err == nil {
		t.Error("Publish before Start succeeded, want an error")
	}
	if err := b.PublishControl(t.Context(), []byte(`1`)); err == nil {
		t.Error("PublishControl before Start succeeded, want an error")
	}
}

// TestTokenAuth connects to a NATS server that requires a token.
func TestTokenAuth(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, Authorization: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(ns.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := natsbroker.New(natsbroker.Options{URL: ns.ClientURL(), Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(ctx); err == nil {
		t.Fatal("wrong token accepted")
	}
	b = newBroker(t, natsbroker.Options{URL: ns.ClientURL(), Token: "s3cret"})
	if !b.Ready() {
		t.Fatal("not ready after New")
	}
}

// readiness records OnReadyChange calls.
type readiness struct {
	ch chan bool
}

func (r *readiness) wait(t *testing.T, b *natsbroker.Broker, want bool) {
	t.Helper()
	deadline := time.After(brokertest.Wait)
	for {
		select {
		case got := <-r.ch:
			if got == want {
				if b.Ready() != want {
					t.Fatalf("OnReadyChange(%v) but Ready() = %v", want, b.Ready())
				}
				return
			}
		case <-deadline:
			t.Fatalf("readiness did not become %v within %v (Ready()=%v)", want, brokertest.Wait, b.Ready())
		}
	}
}

// TestReconnect stops NATS and starts it again on the same port: both brokers report
// not-ready, then ready, and publications after the return reach every node; what a
// node published to itself during the outage is delivered from its reconnect buffer.
func TestReconnect(t *testing.T) {
	port := freePort(t)
	ns := startNATS(t, port)
	url := ns.ClientURL()
	var brokers [2]*natsbroker.Broker
	var ready [2]*readiness
	got := make(chan string, 100)
	for i := range brokers {
		ready[i] = &readiness{ch: make(chan bool, 16)}
		r := ready[i]
		brokers[i] = newBroker(t, natsbroker.Options{URL: url, Name: "node-" + strconv.Itoa(i), ReconnectWait: 20 * time.Millisecond,
			OnReadyChange: func(v bool) { r.ch <- v }})
		r.wait(t, brokers[i], true) // New reports the first connection
		node := strconv.Itoa(i)
		if _, err := brokers[i].Subscribe(func(_ context.Context, _, topic string, m server.Message) error {
			got <- node + ":" + m.Origin
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want ...string) {
		t.Helper()
		need := map[string]bool{}
		for _, w := range want {
			need[w] = true
		}
		deadline := time.After(brokertest.Wait)
		for len(need) > 0 {
			select {
			case g := <-got:
				delete(need, g)
			case <-deadline:
				t.Fatalf("still waiting for %v", need)
			}
		}
	}
	ctx := context.Background()
	if err := brokers[0].Publish(ctx, "a", "t", server.Message{Data: []byte(`1`), Origin: "before"}); err != nil {
		t.Fatal(err)
	}
	expect("0:before", "1:before")

	ns.Shutdown()
	ns.WaitForShutdown()
	for i := range brokers {
		ready[i].wait(t, brokers[i], false)
	}
	if err := brokers[1].Publish(ctx, "a", "t", server.Message{Data: []byte(`2`), Origin: "during"}); err != nil {
		t.Fatalf("Publish while disconnected (buffered): %v", err)
	}

	startNATS(t, port)
	for i := range brokers {
		ready[i].wait(t, brokers[i], true)
	}
	expect("1:during")
	for i, b := range brokers {
		if err := b.Publish(ctx, "a", "t", server.Message{Data: []byte(`3`), Origin: "after" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	expect("0:after0", "1:after0", "0:after1", "1:after1")
}

// TestSubjectEscapes shows the subjects topics travel on.
func TestSubjectEscapes(t *testing.T) {
	ns := startNATS(t, 0)
	b := newBroker(t, natsbroker.Options{URL: ns.ClientURL()})
	tests := []struct{ app, topic, want string }{
		{"demo", "main", "kete.pub.demo.main"},
		{"demo", "events/acme/LOGIN", "kete.pub.demo.events/acme/LOGIN"},
		{"a.b", "x.y*z>", "kete.pub.a%2Eb.x%2Ey%2Az%3E"},
		{"demo", "50%", "kete.pub.demo.50%25"},
		{"demo", "é", "kete.pub.demo.%C3%A9"},
		{"", "", "kete.pub.%.%"},
	}
	for _, tc := range tests {
		if got := b.Subject(tc.app, tc.topic); got != tc.want {
			t.Errorf("Subject(%q, %q) = %q, want %q", tc.app, tc.topic, got, tc.want)
		}
	}
}
