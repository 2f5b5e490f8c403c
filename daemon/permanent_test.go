package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/daemon"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/spool"
	"github.com/kete-dev/kete/template"
)

// ingestServer is a gws server on 127.0.0.1 that acks every frame as the bundled server's
// ingest does ({"type":"ack","seq":N}), refuses the handshake of forbidden paths with 403,
// and closes a connection with 1009 on a frame over maxPayload, as gws does.
type ingestServer struct {
	gws.BuiltinEventHandler
	url       string
	forbidden string // a path answered with 403
	got       chan string

	mu  sync.Mutex
	seq map[*gws.Conn]uint64
}

func newIngestServer(t *testing.T, maxPayload int, forbidden string) *ingestServer {
	t.Helper()
	s := &ingestServer{forbidden: forbidden, got: make(chan string, 1000), seq: map[*gws.Conn]uint64{}}
	up := gws.NewUpgrader(s, &gws.ServerOption{ReadMaxPayloadSize: maxPayload})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if forbidden != "" && r.URL.Path == forbidden {
			http.Error(w, `{"error":{"code":"forbidden","message":"token lacks realtime:publisher:write:topic:secret"}}`, http.StatusForbidden)
			return
		}
		if c, err := up.Upgrade(w, r); err == nil {
			go c.ReadLoop()
		}
	}))
	t.Cleanup(hs.Close)
	s.url = strings.Replace(hs.URL, "http://", "ws://", 1)
	return s
}

func (s *ingestServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	var body struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(m.Bytes(), &body)
	s.mu.Lock()
	s.seq[c]++
	n := s.seq[c]
	s.mu.Unlock()
	_ = c.WriteMessage(gws.OpcodeText, fmt.Appendf(nil, `{"type":"ack","seq":%d,"id":%q,"status":"ok"}`, n, body.ID))
	s.got <- body.ID
}

// waitFrame waits for the server to take the event with id.
func (s *ingestServer) waitFrame(t *testing.T, id string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case got := <-s.got:
			if got == id {
				return
			}
			t.Fatalf("server took %q while waiting for %q", got, id)
		case <-deadline:
			t.Fatalf("server did not take %q within 15s", id)
		}
	}
}

// Each poison event is refused for a reason no retry can cure. The route, set to retry
// until delivered (kete run's default), dead-letters it at once with that reason and goes
// on: the 100 events behind it are delivered, and intake never pushes back, though the
// spool could not hold them behind a stuck cursor.
func TestPoisonEventIsDeadLetteredAtOnceAndTheRouteGoesOn(t *testing.T) {
	tests := []struct {
		name string
		// url is the destination URL; %s is the server's ws://127.0.0.1:port.
		url        string
		maxPayload int
		forbidden  string
		serializer string // a serializer.template, or "" for json
		good       func(*kete.Event)
		poison     func(*kete.Event)
		reason     []string
	}{{
		// One server per realm, picked by host name: a realm name with a space cannot be one.
		name:   "url template fails on the event",
		url:    "ws://${realmLowerCase}:%s/events?ack=1",
		good:   func(e *kete.Event) { e.RealmName = "localhost" },
		poison: func(e *kete.Event) { e.RealmName = "Acme Corp" },
		reason: []string{"websocket url", "invalid URL escape"},
	}, {
		// An admin event has no username detail; the template asks for it.
		name:       "serializer template fails on the event",
		url:        "%s/events?ack=1",
		serializer: `{"id":"{{.ID}}","user":"{{.Details.username}}"}`,
		good:       func(e *kete.Event) { e.Details["username"] = "alice" },
		poison: func(e *kete.Event) {
			e.Kind, e.Type, e.ResourceType, e.OperationType = kete.KindAdminEvent, "", "USER", "CREATE"
		},
		reason: []string{"serialize", "serializer.template", `map has no entry for key "username"`},
	}, {
		// The template cuts the user id after one byte: "é" is two.
		name:       "invalid UTF-8 in text mode",
		url:        "%s/events?ack=1",
		serializer: `{"id":"{{.ID}}","initial":"{{slice .UserID 0 1}}"}`,
		good:       func(e *kete.Event) { e.UserID = "u-1" },
		poison:     func(e *kete.Event) { e.UserID = "émile" },
		reason:     []string{"not valid UTF-8", "binary-mode"},
	}, {
		name:      "handshake refused with 403",
		url:       "%s/apps/demo/publish/${realmLowerCase}?ack=1",
		forbidden: "/apps/demo/publish/secret",
		good:      func(e *kete.Event) { e.RealmName = "acme" },
		poison:    func(e *kete.Event) { e.RealmName = "secret" },
		reason:    []string{"handshake refused: 403 Forbidden", "token lacks realtime:publisher:write:topic:secret"},
	}, {
		// Issue 13: one 70 KB admin event over the server's frame limit.
		name:       "frame closed with 1009",
		url:        "%s/events?ack=1",
		maxPayload: 64 << 10,
		poison: func(e *kete.Event) {
			e.Kind, e.Type, e.ResourceType, e.OperationType = kete.KindAdminEvent, "", "USER", "UPDATE"
			e.Representation = strings.Repeat("x", 70<<10)
		},
		reason: []string{"1009 (message too big)", "message too large"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIngestServer(t, tt.maxPayload, tt.forbidden)
			_, port, _ := strings.Cut(strings.TrimPrefix(srv.url, "ws://"), ":")
			rawURL := fmt.Sprintf(tt.url, srv.url)
			if strings.HasPrefix(tt.url, "ws://") {
				rawURL = fmt.Sprintf(tt.url, port)
			}
			var ser kete.Serializer = serializer.JSON{}
			if tt.serializer != "" {
				var err error
				if ser, err = serializer.NewGoTemplate(tt.serializer, ""); err != nil {
					t.Fatal(err)
				}
			}
			route := &kete.Route{Name: "ws", Serializer: ser, Destination: newWebSocket(t, rawURL)}

			dir := t.TempDir()
			// Room for the poison and a few dozen events: not for the hundred behind a
			// cursor held by the poison. Cursors are saved often, so that passed segments
			// are freed while the hundred go through.
			sp, err := spool.Open(spool.Options{Dir: dir, Routes: []string{"ws"}, MaxBytes: 256 << 10, CursorSyncInterval: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			p, err := daemon.New(daemon.Options{Spool: sp, Routes: []daemon.Route{{
				Route: route, WaitDuration: time.Millisecond, MaxWait: 10 * time.Millisecond,
			}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				<-done
				sp.Close()
			})

			event := func(id string, change func(*kete.Event)) kete.Event {
				e := kete.Event{Kind: kete.KindEvent, ID: id, Type: "LOGIN", RealmName: "acme", UserID: "u-1",
					Time: time.Now().UnixMilli(), Details: map[string]string{"pad": strings.Repeat("p", 3<<10)}}
				if change != nil {
					change(&e)
				}
				return e
			}
			if err := p.Ingest(ctx, "test", []kete.Event{event("poison", tt.poison)}); err != nil {
				t.Fatalf("ingest the poison event: %v", err)
			}
			for i := range 100 {
				id := fmt.Sprintf("good-%d", i)
				if err := p.Ingest(ctx, "test", []kete.Event{event(id, tt.good)}); err != nil {
					t.Fatalf("ingest event %d of 100 behind the poison: %v (full: %v)", i, err, errors.Is(err, spool.ErrFull))
				}
				srv.waitFrame(t, id)
			}

			waitFor(t, "the route's backlog to drain", func() bool { return sp.Stats().Backlog["ws"] == 0 })
			letters, err := spool.DeadLetters(dir, "ws")
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != 1 {
				t.Fatalf("%d dead letters, want the poison alone: %+v", len(letters), letters)
			}
			var dead kete.Event
			if err := json.Unmarshal(letters[0].Data, &dead); err != nil || dead.ID != "poison" {
				t.Errorf("dead letter holds %s (%v), want the poison event", letters[0].Data, err)
			}
			for _, want := range tt.reason {
				if !strings.Contains(letters[0].Reason, want) {
					t.Errorf("dead letter reason %q does not say %q", letters[0].Reason, want)
				}
			}
			if strings.Contains(letters[0].Reason, "no ack") {
				t.Errorf("dead letter reason %q blames a missing ack", letters[0].Reason)
			}
			select {
			case id := <-srv.got:
				t.Errorf("server took %q besides the hundred", id)
			default:
			}
		})
	}
}

func newWebSocket(t *testing.T, rawURL string) *destination.WebSocket {
	t.Helper()
	tpl, err := template.Compile(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	d, err := destination.NewWebSocket(destination.WebSocketOptions{URL: tpl, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// waitFor polls cond until it holds, failing the test after 15 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
