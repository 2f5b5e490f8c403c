package natsbroker_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server"
)

// A WebSocket client of a cluster node: wstest's client with the protocol steps these
// tests repeat.

// client is a wstest client connected to a node.
type client struct {
	*wstest.Client
	t testing.TB
}

// frameFields are the fields of a server frame that wstest.Frame leaves in Raw: a
// delivered message's stream offset, an ingest ack's type and status.
type frameFields struct {
	Offset uint64 `json:"offset"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

// fieldsOf decodes f's frameFields (zero values where f has none).
func fieldsOf(f wstest.Frame) frameFields {
	var ff frameFields
	_ = json.Unmarshal(f.Raw, &ff)
	return ff
}

// dial opens a connection to url and fails the test if the server refuses.
func dial(t testing.TB, url string) *client {
	t.Helper()
	c, resp, err := wstest.Dial(t, url, wstest.Options{})
	if err != nil {
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, wstest.Status(resp))
	}
	return &client{c, t}
}

func wsBase(n *node) string { return "ws" + strings.TrimPrefix(n.http.URL, "http") }

// connect opens a client connection of subject to app on n and waits for its welcome.
func connect(t testing.TB, n *node, app, subject string, perms ...string) *client {
	t.Helper()
	return &client{wstest.Connect(t, wsBase(n)+"/apps/"+app+"?access_token="+token(t, clientSecret, subject, perms...), wstest.Options{}), t}
}

// collect returns the next n frames on topic (skipping others).
func (c *client) collect(topic string, n int) []wstest.Frame {
	c.t.Helper()
	var got []wstest.Frame
	deadline := time.After(wstest.WaitLimit)
	for len(got) < n {
		select {
		case f := <-c.Frames():
			if f.Topic == topic {
				got = append(got, f)
			}
		case <-deadline:
			c.t.Fatalf("got %d of %d frames on %s within %v: %v", len(got), n, topic, wstest.WaitLimit, raws(got))
		}
	}
	return got
}

func raws(fs []wstest.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.Raw)
	}
	return out
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
	c.Send(map[string]any{"type": "subscribe", "data": data})
	f := c.WaitFor(topic, "welcome")
	var w welcome
	if err := json.Unmarshal(f.Data, &w); err != nil {
		c.t.Fatalf("welcome %s: %v", f.Raw, err)
	}
	return w
}

func (c *client) publish(topic string, payload any) {
	c.t.Helper()
	c.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": topic, "payload": payload}})
}

// receivesBefore reads frames up to the next broadcast on fence and reports whether one
// on topic came first.
func (c *client) receivesBefore(topic, fence string) bool {
	c.t.Helper()
	seen := false
	deadline := time.After(wstest.WaitLimit)
	for {
		select {
		case f := <-c.Frames():
			if f.Topic == topic {
				seen = true
			}
			if f.Topic == fence && f.MessageType == "broadcast" {
				return seen
			}
		case <-deadline:
			c.t.Fatalf("fence on %s not received within %v", fence, wstest.WaitLimit)
		}
	}
}

// wantCount checks that frames carry the payloads first, first+1, … with growing offsets:
// a recovered gap, in order, replayed before live messages and none twice.
func wantCount(t testing.TB, frames []wstest.Frame, first int) {
	t.Helper()
	for i, f := range frames {
		if want := strconv.Itoa(first + i); payloadOf(f) != want {
			t.Fatalf("frame %d after recovery is %s, want payload %s (in order, replay before live, once)", i, f.Raw, want)
		}
		if i > 0 && fieldsOf(f).Offset <= fieldsOf(frames[i-1]).Offset {
			t.Errorf("offsets not increasing: %d after %d", fieldsOf(f).Offset, fieldsOf(frames[i-1]).Offset)
		}
	}
}

// payloadOf returns a WebSocket publish's payload (data.payload) or the data itself.
func payloadOf(f wstest.Frame) string {
	var d struct {
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(f.Data, &d) == nil && d.Payload != nil {
		return string(d.Payload)
	}
	return string(f.Data)
}
