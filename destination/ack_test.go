package destination_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/template"
)

// ackServer answers each frame of a connection with what answer says for its seq.
type ackServer struct {
	gws.BuiltinEventHandler
	mu     sync.Mutex
	seq    map[*gws.Conn]uint64
	answer func(seq uint64) string // "" sends nothing
}

func (s *ackServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	s.mu.Lock()
	s.seq[c]++
	n := s.seq[c]
	s.mu.Unlock()
	if a := s.answer(n); a != "" {
		c.WriteMessage(gws.OpcodeText, []byte(a))
	}
}

func startAckServer(t *testing.T, answer func(uint64) string) string {
	s := &ackServer{seq: map[*gws.Conn]uint64{}, answer: answer}
	up := gws.NewUpgrader(s, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err == nil {
			go c.ReadLoop()
		}
	}))
	t.Cleanup(hs.Close)
	return strings.Replace(hs.URL, "http://", "ws://", 1)
}

func newDest(t *testing.T, url string, header http.Header) *destination.WebSocket {
	t.Helper()
	tpl, err := template.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	d, err := destination.NewWebSocket(destination.WebSocketOptions{URL: tpl, Headers: header, Pool: destination.PoolOptions{MaxTotal: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestAckedSendWaitsForTheServersAck(t *testing.T) {
	silent := startAckServer(t, func(uint64) string { return "" })
	d := newDest(t, silent+"/ingest?ack=1", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := d.Send(ctx, &kete.Event{ID: "e1"}, []byte(`{"id":"e1"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a server that never acks = %v, want the deadline", err)
	}

	// Without ?ack=1 the same server takes the frame as written.
	plain := newDest(t, silent+"/ingest", nil)
	if err := plain.Send(context.Background(), &kete.Event{ID: "e1"}, []byte(`{"id":"e1"}`)); err != nil {
		t.Fatalf("unacked Send = %v", err)
	}
}

func TestAckedSendReportsANack(t *testing.T) {
	url := startAckServer(t, func(seq uint64) string {
		if seq == 2 {
			return fmt.Sprintf(`{"type":"nack","seq":%d,"error":"broker closed"}`, seq)
		}
		return fmt.Sprintf(`{"type":"ack","seq":%d,"status":"ok"}`, seq)
	})
	d := newDest(t, url+"/x?ack=true", nil)
	ctx := context.Background()
	if err := d.Send(ctx, &kete.Event{ID: "1"}, []byte(`{"id":"1"}`)); err != nil {
		t.Fatalf("first Send = %v", err)
	}
	err := d.Send(ctx, &kete.Event{ID: "2"}, []byte(`{"id":"2"}`))
	var nack *destination.NackError
	if !errors.As(err, &nack) || !strings.Contains(err.Error(), "broker closed") {
		t.Fatalf("second Send = %v, want the server's nack", err)
	}
	// The connection survives a nack: the next frame is seq 3 on it, and is acked.
	if err := d.Send(ctx, &kete.Event{ID: "3"}, []byte(`{"id":"3"}`)); err != nil {
		t.Fatalf("third Send = %v", err)
	}
}

// TestAckedSendIntoTheBundledServer: a Send that returns nil has been published, so a
// subscriber of the topic (here the broker itself) has it.
func TestAckedSendIntoTheBundledServer(t *testing.T) {
	secret := strings.Repeat("s", 32)
	key := auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}}
	broker := server.NewMemoryBroker()
	defer broker.Close()
	var mu sync.Mutex
	got := map[string]int{}
	unsub, _ := broker.Subscribe(func(_ context.Context, _, topic string, m server.Message) error {
		var e struct{ ID string }
		json.Unmarshal(m.Data, &e)
		mu.Lock()
		got[e.ID]++
		mu.Unlock()
		return nil
	})
	defer unsub()
	srv, err := server.New(server.Options{Broker: broker, Apps: []server.App{{AppID: "a", Enabled: true, AuthKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer func() { hs.Close(); srv.Close() }()
	tok, _ := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: "d", Permissions: []string{"realtime:publisher:write:topic:events"}, TTL: time.Hour})
	d := newDest(t, strings.Replace(hs.URL, "http", "ws", 1)+"/apps/a/publish/events?ack=1", http.Header{"Authorization": {"Bearer " + tok}})
	for i := range 50 {
		id := fmt.Sprintf("ev-%d", i)
		if err := d.Send(context.Background(), &kete.Event{ID: id}, fmt.Appendf(nil, `{"id":%q}`, id)); err != nil {
			t.Fatalf("Send %s = %v", id, err)
		}
		mu.Lock()
		n := got[id]
		mu.Unlock()
		if n != 1 {
			t.Fatalf("Send %s returned but the server published it %d times", id, n)
		}
	}
	// A resend of an event already taken is acked as a duplicate and not published again.
	if err := d.Send(context.Background(), &kete.Event{ID: "ev-0"}, []byte(`{"id":"ev-0"}`)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["ev-0"] != 1 {
		t.Fatalf("ev-0 published %d times", got["ev-0"])
	}
}

// Issue 13's poison event: a 70 KB event to the bundled server's ingest, whose frame limit
// is 64 KiB (maxIngestMessageSize). The server closes with 1009; the send says so, and
// the refusal is permanent, so that a route dead-letters the event instead of holding.
func TestAckedSendOverTheBundledServersFrameLimitIsPermanent(t *testing.T) {
	secret := strings.Repeat("s", 32)
	key := auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}}
	srv, err := server.New(server.Options{Apps: []server.App{{AppID: "a", Enabled: true, AuthKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer func() { hs.Close(); srv.Close() }()
	tok, _ := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: "d", Permissions: []string{"realtime:publisher:write:topic:events"}, TTL: time.Hour})
	d := newDest(t, strings.Replace(hs.URL, "http", "ws", 1)+"/apps/a/publish/events?ack=1", http.Header{"Authorization": {"Bearer " + tok}})

	big := fmt.Appendf(nil, `{"id":"big","representation":%q}`, strings.Repeat("x", 70<<10))
	err = d.Send(context.Background(), &kete.Event{ID: "big"}, big)
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), "1009 (message too big)") {
		t.Fatalf("Send of 70 KB = %v, want a permanent 1009 (message too big)", err)
	}
	if strings.Contains(err.Error(), "no ack") {
		t.Errorf("error %q blames a missing ack", err)
	}
	if err := d.Send(context.Background(), &kete.Event{ID: "small"}, []byte(`{"id":"small"}`)); err != nil {
		t.Fatalf("the next, small event: %v", err)
	}
}
