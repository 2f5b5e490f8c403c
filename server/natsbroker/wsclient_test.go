package natsbroker_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server"
)

// A WebSocket client of a cluster node that records what it receives.

// frame is one frame a client received.
type frame struct {
	Raw         []byte
	Topic       string          `json:"topic"`
	MessageType string          `json:"messageType"`
	Data        json.RawMessage `json:"data"`
	Offset      uint64          `json:"offset"`
	Type        string          `json:"type"`   // ingest acks
	Status      string          `json:"status"` // ingest acks
}

// client is a WebSocket client recording what it receives.
type client struct {
	t      testing.TB
	c      *gws.Conn
	id     string
	frames chan frame
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

func (c *client) OnOpen(*gws.Conn) {}

func (c *client) OnPing(s *gws.Conn, p []byte) { _ = s.WritePong(p) }

func (c *client) OnPong(*gws.Conn, []byte) {}

func (c *client) OnClose(_ *gws.Conn, err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

func (c *client) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	f := frame{Raw: append([]byte(nil), m.Bytes()...)}
	_ = json.Unmarshal(f.Raw, &f)
	select {
	case c.frames <- f:
	default:
		c.t.Errorf("client: frame buffer full, dropping %s", f.Raw)
	}
}

func dialWS(t testing.TB, url string) *client {
	t.Helper()
	c, code, err := tryDial(t, url)
	if err != nil || c == nil {
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, code)
	}
	return c
}

// tryDial opens a client connection without failing the test: the client, or the
// refusal's HTTP status. It may run on any goroutine.
func tryDial(t testing.TB, url string) (*client, int, error) {
	c := &client{t: t, frames: make(chan frame, 4096), done: make(chan struct{})}
	conn, resp, err := gws.NewClient(c, &gws.ClientOption{Addr: url})
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode, nil
		}
		return nil, 0, fmt.Errorf("dial %s: %w", url, err)
	}
	c.c = conn
	go conn.ReadLoop()
	t.Cleanup(func() {
		_ = conn.WriteClose(1000, nil)
		select {
		case <-c.done:
		case <-time.After(waitLimit):
		}
	})
	return c, http.StatusSwitchingProtocols, nil
}

func wsBase(n *node) string { return "ws" + strings.TrimPrefix(n.http.URL, "http") }

// connect opens a client connection of subject to app on n and waits for its welcome.
func connect(t testing.TB, n *node, app, subject string, perms ...string) *client {
	t.Helper()
	c := dialWS(t, wsBase(n)+"/apps/"+app+"?access_token="+token(t, clientSecret, subject, perms...))
	w := c.waitFor("main", "welcome")
	var d struct {
		Connection struct{ ID string } `json:"connection"`
	}
	if err := json.Unmarshal(w.Data, &d); err != nil || d.Connection.ID == "" {
		t.Fatalf("welcome %s: %v", w.Raw, err)
	}
	c.id = d.Connection.ID
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.c.WriteMessage(gws.OpcodeText, b); err != nil {
		c.t.Fatalf("send %s: %v", b, err)
	}
}

func (c *client) waitFor(topic, messageType string) frame {
	c.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case f := <-c.frames:
			if f.Topic == topic && f.MessageType == messageType {
				return f
			}
		case <-c.done:
			c.t.Fatalf("closed (%v) while waiting for %s/%s", c.closeErr(), topic, messageType)
		case <-deadline:
			c.t.Fatalf("no %s/%s frame within %v", topic, messageType, waitLimit)
		}
	}
}

// collect returns the next n frames on topic (skipping others).
func (c *client) collect(topic string, n int) []frame {
	c.t.Helper()
	var got []frame
	deadline := time.After(waitLimit)
	for len(got) < n {
		select {
		case f := <-c.frames:
			if f.Topic == topic {
				got = append(got, f)
			}
		case <-deadline:
			c.t.Fatalf("got %d of %d frames on %s within %v: %v", len(got), n, topic, waitLimit, raws(got))
		}
	}
	return got
}

func raws(fs []frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.Raw)
	}
	return out
}

func (c *client) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// waitClosed waits for the connection to end and returns its close code and reason.
func (c *client) waitClosed() (uint16, string) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		c.t.Fatalf("connection not closed within %v", waitLimit)
	}
	var ce *gws.CloseError
	if errors.As(c.closeErr(), &ce) {
		return ce.Code, string(ce.Reason)
	}
	return 1006, fmt.Sprint(c.closeErr())
}

// welcome is a subscribe confirmation's data.
type welcome struct {
	Topic     string `json:"topic"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Recovered *bool  `json:"recovered"`
	Replayed  int    `json:"replayed"`
}

// subscribe subscribes (from since, when not nil) and returns the welcome's data.
func (c *client) subscribe(topic string, since *server.StreamPosition) welcome {
	c.t.Helper()
	data := map[string]any{"topic": topic}
	if since != nil {
		data["since"] = since
	}
	c.send(map[string]any{"type": "subscribe", "data": data})
	f := c.waitFor(topic, "welcome")
	var w welcome
	if err := json.Unmarshal(f.Data, &w); err != nil {
		c.t.Fatalf("welcome %s: %v", f.Raw, err)
	}
	return w
}

func (c *client) publish(topic string, payload any) {
	c.t.Helper()
	c.send(map[string]any{"type": "publish", "data": map[string]any{"topic": topic, "payload": payload}})
}

// receivesBefore reads frames up to the next broadcast on fence and reports whether one
// on topic came first.
func (c *client) receivesBefore(topic, fence string) bool {
	c.t.Helper()
	seen := false
	deadline := time.After(waitLimit)
	for {
		select {
		case f := <-c.frames:
			if f.Topic == topic {
				seen = true
			}
			if f.Topic == fence && f.MessageType == "broadcast" {
				return seen
			}
		case <-deadline:
			c.t.Fatalf("fence on %s not received within %v", fence, waitLimit)
		}
	}
}

// wantCount checks that frames carry the payloads first, first+1, … with growing offsets:
// a recovered gap, in order, replayed before live messages and none twice.
func wantCount(t testing.TB, frames []frame, first int) {
	t.Helper()
	for i, f := range frames {
		if want := strconv.Itoa(first + i); payloadOf(f) != want {
			t.Fatalf("frame %d after recovery is %s, want payload %s (in order, replay before live, once)", i, f.Raw, want)
		}
		if i > 0 && f.Offset <= frames[i-1].Offset {
			t.Errorf("offsets not increasing: %d after %d", f.Offset, frames[i-1].Offset)
		}
	}
}

// payloadOf returns a WebSocket publish's payload (data.payload) or the data itself.
func payloadOf(f frame) string {
	var d struct {
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(f.Data, &d) == nil && d.Payload != nil {
		return string(d.Payload)
	}
	return string(f.Data)
}
