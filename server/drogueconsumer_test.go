package server

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/wstest"
)

// drogueConsumer is a consumer of Drogue Cloud's WebSocket integration written from its
// documentation (seed 001, "WebSocket integration"), not from kete's clients: it
// connects to {base}/{application}[/{channel}], authenticates with ?token= (or HTTP basic
// auth with username and API key), may set ?group_id=, reads events "encoded as
// CloudEvents", one per message, and refreshes its token by sending
// {"RefreshAccessToken": "<token>"}.
type drogueConsumer struct {
	t      testing.TB
	conn   *gws.Conn
	events chan map[string]any
	done   chan struct{}
	mu     sync.Mutex
	err    error
	gate   chan struct{} // when set, OnMessage waits until it is closed
}

func (d *drogueConsumer) OnOpen(*gws.Conn)             {}
func (d *drogueConsumer) OnPing(c *gws.Conn, p []byte) { _ = c.WritePong(p) }
func (d *drogueConsumer) OnPong(*gws.Conn, []byte)     {}
func (d *drogueConsumer) OnClose(_ *gws.Conn, err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	close(d.done)
}

func (d *drogueConsumer) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	if d.gate != nil {
		<-d.gate
	}
	if m.Opcode != gws.OpcodeText {
		d.t.Errorf("drogue consumer: a %v frame; CloudEvents structured mode is JSON text", m.Opcode)
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(m.Bytes(), &ev); err != nil {
		d.t.Errorf("drogue consumer: frame is not a JSON object: %v: %s", err, m.Bytes())
		return
	}
	select {
	case d.events <- ev:
	default:
		d.t.Errorf("drogue consumer: event buffer full")
	}
}

// drogueConnect opens a consumer of app (and channel, when not empty) with query
// parameters q (token, group_id, …) and header h.
func drogueConnect(t testing.TB, hs *httptest.Server, app, channel string, q url.Values, h http.Header) (*drogueConsumer, *http.Response, error) {
	t.Helper()
	return drogueDial(t, hs, app, channel, q, wstest.Options{Header: h})
}

// drogueDial is drogueConnect with a gate on reading and a small receive buffer.
func drogueDial(t testing.TB, hs *httptest.Server, app, channel string, q url.Values, o wstest.Options) (*drogueConsumer, *http.Response, error) {
	t.Helper()
	u := wsURL(hs, "/drogue/"+app)
	if channel != "" {
		u += "/" + channel
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	d := &drogueConsumer{t: t, events: make(chan map[string]any, 4096), done: make(chan struct{}), gate: o.Gate}
	c, resp, err := wstest.Open(t, u, d, d.done, o)
	if err != nil {
		return nil, resp, err
	}
	d.conn = c
	return d, resp, nil
}

func mustDrogue(t testing.TB, hs *httptest.Server, app, channel, token, group string) *drogueConsumer {
	t.Helper()
	q := url.Values{"token": {token}}
	if group != "" {
		q.Set("group_id", group)
	}
	d, resp, err := drogueConnect(t, hs, app, channel, q, nil)
	if err != nil {
		t.Fatalf("drogue connect %s/%s: %v (status %d)", app, channel, err, wstest.Status(resp))
	}
	return d
}

// next returns the next event.
func (d *drogueConsumer) next() map[string]any {
	d.t.Helper()
	select {
	case ev := <-d.events:
		return ev
	case <-d.done:
		d.t.Fatalf("drogue consumer closed (%v) while waiting for an event", d.closeErr())
	case <-time.After(waitLimit):
		d.t.Fatalf("no event within %v", waitLimit)
	}
	return nil
}

func (d *drogueConsumer) closeErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// kill drops the TCP connection without a close frame, as a crashed process would.
func (d *drogueConsumer) kill() {
	_ = d.conn.NetConn().Close()
	<-d.done
}

// seq returns the "n" of a wrapped test message's data, or -1.
func seq(ev map[string]any) int {
	data, _ := ev["data"].(map[string]any)
	n, ok := data["n"].(float64)
	if !ok {
		return -1
	}
	return int(n)
}

// checkCloudEvent checks ev against the CloudEvents 1.0 spec text
// (github.com/cloudevents/spec, v1.0, spec.md, "Context Attributes"; json-format.md):
//   - REQUIRED attributes: id ("MUST be a non-empty string"), source ("MUST be a
//     non-empty URI-reference"), specversion ("MUST be a non-empty string"; "1.0" for
//     this version), type ("MUST be a non-empty string");
//   - time, when present, "MUST adhere to the format specified in RFC 3339";
//   - datacontenttype, when present, "MUST adhere to the format specified in RFC 2046";
//   - attribute names "MUST consist of lower-case letters ('a' to 'z') or digits ('0' to
//     '9') from the ASCII character set"; json-format.md adds "data" and "data_base64"
//     as the members that carry the data.
func checkCloudEvent(t testing.TB, ev map[string]any) {
	t.Helper()
	for _, name := range []string{"id", "source", "specversion", "type"} {
		s, ok := ev[name].(string)
		if !ok || s == "" {
			t.Errorf("CloudEvent %v: REQUIRED attribute %q missing or not a non-empty string", ev, name)
		}
	}
	if v := ev["specversion"]; v != "1.0" {
		t.Errorf("CloudEvent specversion %v, want 1.0", v)
	}
	if src, _ := ev["source"].(string); src != "" {
		if _, err := url.Parse(src); err != nil {
			t.Errorf("CloudEvent source %q is not a URI-reference: %v", src, err)
		}
	}
	if tm, ok := ev["time"]; ok {
		s, _ := tm.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("CloudEvent time %v is not RFC 3339: %v", tm, err)
		}
	}
	if ct, ok := ev["datacontenttype"]; ok {
		s, _ := ct.(string)
		if _, _, err := mime.ParseMediaType(s); err != nil {
			t.Errorf("CloudEvent datacontenttype %v is not an RFC 2046 media type: %v", ct, err)
		}
	}
	for name := range ev {
		if name == "data" || name == "data_base64" {
			continue
		}
		for _, r := range name {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
				t.Errorf("CloudEvent attribute name %q: only a-z and 0-9 are allowed", name)
				break
			}
		}
	}
}

// consumerApp is app "a" with history of size hist (0: none).
func consumerApp(hist int) App {
	a := testApp("a", secretA)
	a.HistorySize = hist
	return a
}

// members returns how many members group id of channel has on s's app "a".
func members(s *Server, channel, id string) int {
	_, h := s.app("a")
	h.consumers.mu.Lock()
	defer h.consumers.mu.Unlock()
	n := 0
	for k, g := range h.consumers.groups {
		if k.channel == channel && (k.id == id || id == "" && strings.HasPrefix(k.id, "\x00")) {
			n += len(g.members)
		}
	}
	return n
}

// publishN publishes {"n":i} for i in [from, to] to topic through the HTTP API.
func publishN(t *testing.T, hs *httptest.Server, topic string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		apiPublish(t, hs, topic, map[string]any{"n": i})
	}
}

// collect reads events until it has n broadcasts and returns their sequence numbers.
func (d *drogueConsumer) collect(n int) []int {
	d.t.Helper()
	var got []int
	for len(got) < n {
		ev := d.next()
		checkCloudEvent(d.t, ev)
		if ev["type"] == GapEventType {
			d.t.Fatalf("unexpected gap event %v", ev)
		}
		got = append(got, seq(ev))
	}
	return got
}

// witness is a Realtime subscriber of topic: once it has message n, the server has
// dispatched every message published before n, to the consumer groups too.
func witness(t *testing.T, hs *httptest.Server, topic string) func(n int) {
	t.Helper()
	tc := connect(t, hs, "a", mint(t, secretA, "witness", time.Hour))
	tc.Subscribe(topic)
	return func(n int) {
		t.Helper()
		for {
			f := tc.Next()
			var d struct{ N int }
			if f.MessageType == "broadcast" && json.Unmarshal(f.Data, &d) == nil && d.N == n {
				return
			}
		}
	}
}

func span(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}
