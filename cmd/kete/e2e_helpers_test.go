package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// testApp is one app on a bundled server running in the test process.
type testApp struct {
	srv    *server.Server
	hs     *httptest.Server
	hsURL  string // http://host:port, when hs is nil (a server started elsewhere)
	secret []byte
}

func (a *testApp) baseURL() string {
	if a.hs != nil {
		return a.hs.URL
	}
	return a.hsURL
}

func startTestServer(t *testing.T) *testApp {
	t.Helper()
	return startTestServerB(t)
}

func startTestServerB(t testing.TB) *testApp {
	t.Helper()
	secret := []byte(strings.Repeat("k", 32))
	key := auth.Key{Source: "raw", Key: string(secret), Algorithms: []string{"HS256"}}
	srv, err := server.New(server.Options{Apps: []server.App{{AppID: "demo", Enabled: true, AuthKey: key, AdminKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &testApp{srv: srv, hs: hs, secret: secret}
}

func (a *testApp) token(t testing.TB, sub string, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", a.secret, auth.MintClaims{Subject: sub, Permissions: perms, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (a *testApp) addr() string { return strings.TrimPrefix(a.baseURL(), "http://") }

// subscriber collects the ids of the events delivered on one topic.
type subscriber struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
	ready  chan struct{}
	once   sync.Once
	topic  string
	sub    string // the token's subject
}

// record counts f when it is an event on the subscriber's topic; a probe makes it ready.
func (s *subscriber) record(f wstest.Frame) {
	if f.Topic != s.topic {
		// The server answers a subscribe on priv/… or with an error frame; the first frame
		// on another topic after subscribing tells us nothing, so readiness is probed by
		// publishing (see waitReady).
		return
	}
	var e kete.Event
	if json.Unmarshal(f.Data, &e) != nil || e.ID == "" {
		return
	}
	if strings.HasPrefix(e.ID, "probe-") {
		s.once.Do(func() { close(s.ready) })
		return
	}
	s.mu.Lock()
	s.counts[e.ID]++
	s.total++
	s.mu.Unlock()
}

// subscriberSeq numbers subscribers' subjects.
var subscriberSeq atomic.Int64

func (a *testApp) subscribe(t testing.TB, topic string) *subscriber {
	t.Helper()
	return a.subscribeVia(t, a, topic)
}

// subscribeVia connects a subscriber to a and waits until a probe published through
// publisher's HTTP API arrives.
func (a *testApp) subscribeVia(t testing.TB, publisher *testApp, topic string) *subscriber {
	t.Helper()
	s := &subscriber{counts: map[string]int{}, ready: make(chan struct{}), topic: topic}
	// A subject of its own: under the default oneConnectionPerUser ("replace") a second
	// subscriber with the same sub would close the first.
	s.sub = fmt.Sprintf("test-subscriber-%d", subscriberSeq.Add(1))
	c := wstest.Connect(t, "ws://"+a.addr()+"/apps/demo?access_token="+a.token(t, s.sub, "realtime:subscriber:read:topic:*"), wstest.Options{})
	c.Send(map[string]any{"type": "subscribe", "data": map[string]string{"topic": topic}})
	// Frames are counted as they come, not when the test looks: a benchmark's stream must
	// not wait in wstest's buffer. The loop ends with the connection (the test's cleanup).
	go func() {
		for {
			select {
			case f := <-c.Frames():
				s.record(f)
			case <-c.Done():
				return
			}
		}
	}()
	// Publish probes through the HTTP API until one arrives: then the subscription is live.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		publisher.publish(t, topic, fmt.Sprintf(`{"id":"probe-%d","kind":"EVENT","type":"PROBE"}`, i))
		select {
		case <-s.ready:
			return s
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("subscriber never saw a probe")
		}
	}
}

func (a *testApp) publish(t testing.TB, topic, message string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"topic": topic, "message": json.RawMessage(message)})
	req, _ := http.NewRequest(http.MethodPost, a.baseURL()+"/api/topics/demo/publish", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token(t, "test-admin", "realtime:publisher:write:topic:*"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("publish probe: %s", resp.Status)
	}
}

// waitFor waits until the subscriber has every id in want, or fails after timeout.
func (s *subscriber) waitFor(t testing.TB, want map[string]bool, timeout time.Duration) (duplicates int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		missing := 0
		for id := range want {
			if s.counts[id] == 0 {
				missing++
			}
		}
		dups := s.total - len(s.counts)
		s.mu.Unlock()
		if missing == 0 {
			return dups
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the subscriber", missing, len(want))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// postEvents posts events to the webhook and reports whether it answered 202.
func postEvents(ctx context.Context, url string, events []kete.Event) (int, error) {
	body, _ := json.Marshal(events)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func makeEvents(prefix string, from, n int) []kete.Event {
	out := make([]kete.Event, n)
	for i := range out {
		out[i] = kete.Event{Kind: kete.KindEvent, ID: fmt.Sprintf("%s-%d", prefix, from+i), Type: "LOGIN", RealmID: "acme", RealmName: "acme",
			UserID: hex.EncodeToString([]byte{byte(i)}), Time: time.Now().UnixMilli()}
	}
	return out
}

// routeConfig is a daemon configuration with one route into the test server's acked
// ingest and the webhook on webhookAddr.
func routeConfig(a *testApp, t testing.TB, webhookAddr, spoolDir string) string {
	return fmt.Sprintf(`
kete.routes.all.destination.kind=websocket
kete.routes.all.destination.url=ws://%s/apps/demo/publish/events?ack=1
kete.routes.all.destination.headers.Authorization=Bearer %s
kete.routes.all.destination.connection-timeout-seconds=2
kete.routes.all.retry.wait-duration=50ms
kete.routes.all.retry.max-wait=500ms
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=%s
kete.spool.dir=%s
`, a.addr(), a.token(t, "daemon", "realtime:publisher:write:topic:*"), webhookAddr, spoolDir)
}

// startTestServerAt runs a bundled server on addr with the given broker (nil: its own),
// so a test can stop it and start another in its place.
func startTestServerAt(t *testing.T, addr string, broker server.Broker) *testApp {
	t.Helper()
	secret := []byte(strings.Repeat("k", 32))
	key := auth.Key{Source: "raw", Key: string(secret), Algorithms: []string{"HS256"}}
	srv, err := server.New(server.Options{Broker: broker, Apps: []server.App{{AppID: "demo", Enabled: true, AuthKey: key, AdminKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		t.Fatal(err)
	}
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	a := &testApp{srv: srv, hs: hs, secret: secret}
	t.Cleanup(a.stop)
	return a
}

func (a *testApp) stop() {
	a.srv.Close()
	a.hs.CloseClientConnections()
	a.hs.Close()
}

// brokerTap counts every publication on a topic as the broker carries it: what the
// server took in, whoever is subscribed.
type brokerTap struct {
	mu     sync.Mutex
	counts map[string]int
}

func tapBroker(t *testing.T, b server.Broker, topic string) *brokerTap {
	tap := &brokerTap{counts: map[string]int{}}
	unsub, err := b.Subscribe(func(_ context.Context, _, tp string, msg server.Message) error {
		if tp != topic {
			return nil
		}
		var e kete.Event
		if json.Unmarshal(msg.Data, &e) == nil && e.ID != "" {
			tap.mu.Lock()
			tap.counts[e.ID]++
			tap.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	return tap
}

func (tap *brokerTap) waitFor(t *testing.T, want map[string]bool, timeout time.Duration) (duplicates int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tap.mu.Lock()
		missing, dups := 0, 0
		for id := range want {
			if tap.counts[id] == 0 {
				missing++
			}
		}
		for _, n := range tap.counts {
			dups += n - 1
		}
		tap.mu.Unlock()
		if missing == 0 {
			return dups
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the server", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startTestDaemon starts the daemon of a properties configuration, stopped at cleanup,
// and returns it with its webhook URL.
func startTestDaemon(t testing.TB, props string, o daemonOptions) (*runningDaemon, string) {
	t.Helper()
	cfg, err := config.Parse([]byte(props), "properties", nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	d, err := startDaemon(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop() })
	return d, "http://" + d.opsAddr.String() + "/events"
}
