// Command library shows kete used as a Go library: it loads a route from .properties text,
// builds the router, starts the bundled pub/sub server in-process, sends one Keycloak
// event through the route, and prints what a subscriber of the server received.
//
//	go run ./examples/library
//
// Everything listens on 127.0.0.1 with a port the system picks, and the program exits
// by itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// routes is the configuration a program would read from a file. ${env:…} values are
// resolved from the environ handed to config.Parse; ${realmLowerCase} and
// ${eventTypeLowerCase} are rendered per event.
const routes = `
kete.routes.pubsub.event-matchers.logins=glob:LOGIN*
kete.routes.pubsub.destination.url=ws://${env:SERVER_ADDR}/apps/demo/publish/events/${realmLowerCase}/${eventTypeLowerCase}
kete.routes.pubsub.destination.headers.Authorization=Bearer ${env:PUBLISHER_TOKEN}
kete.routes.pubsub.destination.pool.max-total=2
`

// secret signs the app's tokens; a real app keeps its key out of the source.
const secret = "library-example-secret-0123456789abcdef"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "library example:", err)
		os.Exit(1)
	}
}

// run is the whole example; the test calls it too.
func run(ctx context.Context, out io.Writer) error {
	// 1. The bundled server with one app whose tokens are HS256 with secret.
	key := auth.Key{Source: auth.SourceRaw, Key: secret, Algorithms: []string{"HS256"}}
	srv, err := server.New(server.Options{Apps: []server.App{{AppID: "demo", Enabled: true, AuthKey: key}}})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	addr := ln.Addr().String()

	publisher, err := mint("kete", "realtime:publisher:write:topic:events/*")
	if err != nil {
		return err
	}
	viewer, err := mint("viewer", "realtime:subscriber:read:topic:*")
	if err != nil {
		return err
	}

	// 2. A subscriber of topic events/acme/login.
	sub, err := subscribe(ctx, "ws://"+addr+"/apps/demo?access_token="+viewer, "events/acme/login")
	if err != nil {
		return err
	}
	defer sub.close()

	// 3. The router, from .properties text. config.Load(path, os.Environ()) reads a file.
	environ := []string{"SERVER_ADDR=" + addr, "PUBLISHER_TOKEN=" + publisher}
	cfg, err := config.Parse([]byte(routes), config.FormatProperties, environ)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	router, err := cfg.Router(ctx, config.Deps{Logger: quiet})
	if err != nil {
		return err
	}
	defer router.Close()

	// 4. One Keycloak user event through every route that matches it.
	event := &kete.Event{
		Kind: kete.KindEvent, ID: "6f1c1b7e-0d6a-4f5e-9d57-0c9a4a0e2b11", Time: 1767225600000,
		Type: "LOGIN", RealmID: "acme", RealmName: "acme", ClientID: "account",
		UserID: "alice", IPAddress: "127.0.0.1", Details: map[string]string{"username": "alice"},
	}
	matched, err := router.Send(ctx, event)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent %s in realm %s through %d route(s)\n", event.EventType(), event.Realm(), matched)

	// 5. What the subscriber got: a broadcast frame whose data is the event as JSON.
	frame, err := sub.next(ctx, "events/acme/login", "broadcast")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "subscriber received on %s: %s\n", frame.Topic, frame.Data)
	return nil
}

func mint(subject string, permissions ...string) (string, error) {
	return auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: subject, Permissions: permissions, TTL: time.Hour})
}

// frame is what the server sends a subscriber: {"topic","messageType","data"}.
type frame struct {
	Topic       string          `json:"topic"`
	MessageType string          `json:"messageType"`
	Data        json.RawMessage `json:"data"`
}

// subscriber is a minimal Realtime Pub/Sub client on gws.
type subscriber struct {
	gws.BuiltinEventHandler
	conn   *gws.Conn
	frames chan frame
	done   chan struct{}
}

func (s *subscriber) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	var f frame
	if json.Unmarshal(m.Bytes(), &f) == nil {
		select {
		case s.frames <- f:
		case <-s.done:
		}
	}
}

func (s *subscriber) OnClose(*gws.Conn, error) { close(s.done) }

// subscribe connects, waits for the welcome, subscribes to topic and waits until the
// server confirms, so that nothing published afterwards is missed.
func subscribe(ctx context.Context, url, topic string) (*subscriber, error) {
	s := &subscriber{frames: make(chan frame, 16), done: make(chan struct{})}
	conn, _, err := gws.NewClient(s, &gws.ClientOption{Addr: url})
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	s.conn = conn
	go conn.ReadLoop()
	if _, err := s.next(ctx, "main", "welcome"); err != nil {
		s.close()
		return nil, err
	}
	req, _ := json.Marshal(map[string]any{"type": "subscribe", "data": map[string]string{"topic": topic}})
	if err := conn.WriteMessage(gws.OpcodeText, req); err != nil {
		s.close()
		return nil, err
	}
	if _, err := s.next(ctx, topic, "welcome"); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// next waits for the first frame on topic with messageType, skipping others.
func (s *subscriber) next(ctx context.Context, topic, messageType string) (frame, error) {
	for {
		select {
		case f := <-s.frames:
			if f.Topic == topic && f.MessageType == messageType {
				return f, nil
			}
		case <-s.done:
			return frame{}, errors.New("subscriber: connection closed")
		case <-ctx.Done():
			return frame{}, fmt.Errorf("subscriber: waiting for %s on %s: %w", messageType, topic, ctx.Err())
		}
	}
}

func (s *subscriber) close() {
	_ = s.conn.WriteClose(1000, nil)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.conn.NetConn().Close()
	}
}
