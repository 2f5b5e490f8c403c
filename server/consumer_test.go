package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server/auth"
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
	return drogueDial(t, hs, app, channel, q, dialOpts{header: h})
}

// drogueDial is drogueConnect with a gate on reading and a small receive buffer.
func drogueDial(t testing.TB, hs *httptest.Server, app, channel string, q url.Values, o dialOpts) (*drogueConsumer, *http.Response, error) {
	t.Helper()
	u := wsURL(hs, "/drogue/"+app)
	if channel != "" {
		u += "/" + channel
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	d := &drogueConsumer{t: t, events: make(chan map[string]any, 4096), done: make(chan struct{}), gate: o.gate}
	c, resp, err := gws.NewClient(d, clientOption(u, o))
	if err != nil {
		return nil, resp, err
	}
	d.conn = c
	go c.ReadLoop()
	closeAtCleanup(t, c, d.gate, d.done)
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
		t.Fatalf("drogue connect %s/%s: %v (status %d)", app, channel, err, status(resp))
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
	tc.subscribe(topic)
	return func(n int) {
		t.Helper()
		for {
			f := tc.next()
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

func TestConsumerFramesAreCloudEvents(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour), "")
	rc := connect(t, hs, "a", mint(t, secretA, "web", time.Hour))
	rc.subscribe("events/login")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })

	apiPublish(t, hs, "events/login", map[string]any{"n": 1})
	ce := map[string]any{
		"specversion": "1.0", "id": "a-1", "source": "/realms/acme", "type": "keycloak.event.login",
		"time": "2026-01-02T03:04:05.678Z", "datacontenttype": "application/json", "data": map[string]any{"userId": "u1"},
	}
	apiPublish(t, hs, "events/login", ce)

	wrapped := d.next()
	checkCloudEvent(t, wrapped)
	if wrapped["source"] != "/apps/a/topics/events/login" || wrapped["subject"] != "events/login" || wrapped["type"] != "dev.kete.broadcast" || wrapped["datacontenttype"] != "application/json" {
		t.Errorf("wrapped event attributes: %v", wrapped)
	}
	if seq(wrapped) != 1 {
		t.Errorf("wrapped data %v, want the published {\"n\":1}", wrapped["data"])
	}
	for _, k := range []string{"topic", "messageType", "offset"} {
		if _, ok := wrapped[k]; ok {
			t.Errorf("the Realtime envelope's %q leaked into the CloudEvent %v", k, wrapped)
		}
	}
	passed := d.next()
	checkCloudEvent(t, passed)
	want, _ := json.Marshal(ce)
	got, _ := json.Marshal(passed)
	if string(got) != string(want) {
		t.Errorf("a CloudEvent must go as it is:\n got %s\nwant %s", got, want)
	}
	// The Realtime client on the same app still gets its own protocol.
	if f := rc.waitFor("events/login", "broadcast"); !strings.Contains(string(f.Data), `"n":1`) {
		t.Errorf("realtime frame %s", f.Raw)
	}
}

func TestConsumerGroupMembersShareEverything(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	tok := mint(t, secretA, "fraud", time.Hour)
	var ds []*drogueConsumer
	for range 3 {
		ds = append(ds, mustDrogue(t, hs, "a", "events/login", tok, "fraud"))
	}
	waitUntil(t, "three members", func() bool { return members(s, "events/login", "fraud") == 3 })
	const n = 60
	publishN(t, hs, "events/login", 1, n)
	apiPublish(t, hs, "events/other", map[string]any{"n": 999}) // not the group's channel

	seen := map[int]int{}
	var shares [3][]int
	for len(seen) < n {
		progressed := false
		for i, d := range ds {
			select {
			case ev := <-d.events:
				checkCloudEvent(t, ev)
				k := seq(ev)
				if prev, dup := seen[k]; dup {
					t.Fatalf("message %d went to member %d and member %d", k, prev, i)
				}
				seen[k] = i
				shares[i] = append(shares[i], k)
				progressed = true
			default:
			}
		}
		if !progressed {
			select {
			case <-time.After(time.Millisecond):
			case <-ds[0].done:
				t.Fatal("member closed")
			}
		}
	}
	for i, sh := range shares {
		if len(sh) == 0 {
			t.Errorf("member %d got no share", i)
		}
		if !slices.IsSorted(sh) {
			t.Errorf("member %d got its share out of order: %v", i, sh)
		}
	}
	for k := range seen {
		if k < 1 || k > n {
			t.Errorf("a member got %d, which is not of its channel", k)
		}
	}
}

func TestConsumerGroupMemberRestartMissesNothing(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(100)}})
	tok := mint(t, secretA, "fraud", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	waitUntil(t, "member joined", func() bool { return members(s, "events/login", "fraud") == 1 })
	publishN(t, hs, "events/login", 1, 10)
	ids := map[int]any{}
	for i := 1; i <= 10; i++ {
		ev := d.next()
		checkCloudEvent(t, ev)
		if seq(ev) != i {
			t.Fatalf("before the kill: %v, want n=%d", ev, i)
		}
		ids[i] = ev["id"]
	}
	d.kill()
	waitUntil(t, "member gone", func() bool { return members(s, "events/login", "fraud") == 0 })
	publishN(t, hs, "events/login", 11, 20)
	seen(20)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	publishN(t, hs, "events/login", 21, 25)
	// At-least-once: what the killed member was handed but not known to have written may
	// come again first, with the id it had.
	var got []int
	for len(got) < 15 {
		ev := d2.next()
		checkCloudEvent(t, ev)
		if n := seq(ev); n <= 10 && len(got) == 0 {
			if ev["id"] != ids[n] {
				t.Errorf("redelivery of %d has id %v, first delivery had %v", n, ev["id"], ids[n])
			}
			continue
		}
		got = append(got, seq(ev))
	}
	if !slices.Equal(got, span(11, 25)) {
		t.Fatalf("after the restart got %v, want 11..25 in order", got)
	}
}

func TestConsumerGroupGapIsTold(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(5)}})
	tok := mint(t, secretA, "fraud", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	waitUntil(t, "member joined", func() bool { return members(s, "events/login", "fraud") == 1 })
	publishN(t, hs, "events/login", 1, 3)
	d.collect(3)
	_ = d.conn.WriteClose(1000, nil)
	<-d.done
	waitUntil(t, "member gone", func() bool { return members(s, "events/login", "fraud") == 0 })
	publishN(t, hs, "events/login", 4, 13) // history keeps 9..13 only
	seen(13)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	gap := d2.next()
	for n := seq(gap); n >= 1 && n <= 3; n = seq(gap) {
		gap = d2.next() // a redelivery of what the first member may not have written (at-least-once)
	}
	checkCloudEvent(t, gap)
	if gap["type"] != GapEventType {
		t.Fatalf("first event after the gap: %v, want a %s", gap, GapEventType)
	}
	data, _ := gap["data"].(map[string]any)
	if data["topic"] != "events/login" || data["after"] != float64(3) || data["next"] != float64(9) {
		t.Errorf("gap notice data %v, want topic events/login, after 3, next 9", data)
	}
	if got := d2.collect(5); !slices.Equal(got, span(9, 13)) {
		t.Errorf("after the gap got %v, want 9..13", got)
	}
}

func TestConsumerTwoGroupsEachGetEverything(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	tok := mint(t, secretA, "svc", time.Hour)
	g1 := mustDrogue(t, hs, "a", "events/login", tok, "audit")
	g2 := mustDrogue(t, hs, "a", "events/login", tok, "fraud")
	waitUntil(t, "members", func() bool {
		return members(s, "events/login", "audit") == 1 && members(s, "events/login", "fraud") == 1
	})
	publishN(t, hs, "events/login", 1, 20)
	for name, d := range map[string]*drogueConsumer{"audit": g1, "fraud": g2} {
		if got := d.collect(20); !slices.Equal(got, span(1, 20)) {
			t.Errorf("group %s got %v", name, got)
		}
	}
}

func TestConsumerWithoutGroupMissesWhileAway(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(100)}}) // history exists, but is not for it
	tok := mint(t, secretA, "svc", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "")
	waitUntil(t, "joined", func() bool { return members(s, "events/login", "") == 1 })
	publishN(t, hs, "events/login", 1, 5)
	d.collect(5)
	d.kill()
	waitUntil(t, "gone", func() bool { return members(s, "events/login", "") == 0 })
	publishN(t, hs, "events/login", 6, 10)
	seen(10)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "")
	waitUntil(t, "rejoined", func() bool { return members(s, "events/login", "") == 1 })
	publishN(t, hs, "events/login", 11, 12)
	if got := d2.collect(2); !slices.Equal(got, []int{11, 12}) {
		t.Errorf("a consumer without a group got %v after its reconnect, want only 11, 12", got)
	}
}

func TestConsumerTokenRefreshOutlivesExpiry(t *testing.T) {
	clock := newFakeClock()
	for _, refresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("refresh=%v", refresh), func(t *testing.T) {
			a := consumerApp(0)
			a.Limits.IdleTimeout = Duration(time.Hour) // only the token may end it
			s, hs := startServer(t, Options{Apps: []App{a}, Now: clock.Now, SweepInterval: time.Hour})
			mintAt := func(ttl time.Duration) string {
				tok, err := auth.Mint("HS256", []byte(secretA), auth.MintClaims{Subject: "svc", TTL: ttl, IssuedAt: clock.Now()})
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			d := mustDrogue(t, hs, "a", "events/login", mintAt(time.Minute), "")
			waitUntil(t, "joined", func() bool { return members(s, "events/login", "") == 1 })
			clock.Advance(40 * time.Second)
			if refresh {
				fresh := mintAt(time.Minute) // expires at +100s
				b, _ := json.Marshal(map[string]string{"RefreshAccessToken": fresh})
				if err := d.conn.WriteMessage(gws.OpcodeText, b); err != nil {
					t.Fatal(err)
				}
				// Closed at the new token's exp plus the one leeway (Options.TokenLeeway).
				want := clock.Now().Add(time.Minute).Truncate(time.Second).Add(s.tokenLeeway()).UnixNano()
				waitUntil(t, "refresh taken", func() bool {
					_, h := s.app("a")
					for _, c := range h.snapshot(nil) {
						if _, consumer := c.kind.(*consumerState); consumer && c.session().expires == want {
							return true
						}
					}
					return false
				})
			}
			// +95s: past the first token and its 30s leeway (+90s), not the second (+130s).
			clock.Advance(55 * time.Second)
			s.sweep(nil)
			if !refresh {
				select {
				case <-d.done:
				case <-time.After(waitLimit):
					t.Fatal("consumer outlived its token without a refresh")
				}
				var ce *gws.CloseError
				if !errors.As(d.closeErr(), &ce) || ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonTokenExpired {
					t.Errorf("close %v, want 1008 %q", d.closeErr(), ReasonTokenExpired)
				}
				return
			}
			publishN(t, hs, "events/login", 1, 1)
			if got := d.collect(1); got[0] != 1 {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestConsumerAdmission(t *testing.T) {
	key, err := auth.GenerateAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	a := consumerApp(0)
	a.APIKeys = []auth.APIKey{{Name: "fraud", Hash: auth.HashAPIKey(key), Permissions: []string{"realtime:subscriber:read:topic:secure/*"}}}
	a.AllowedOrigins = []string{"https://ok.example"}
	_, hs := startServer(t, Options{Apps: []App{a}})
	plain := mint(t, secretA, "svc", time.Hour)
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+key))}}

	cases := []struct {
		name    string
		channel string
		q       url.Values
		h       http.Header
		want    int // 0: upgraded
	}{
		{"no credentials", "", nil, nil, 401},
		{"expired token", "", url.Values{"token": {mintExpired(t, secretA, "svc")}}, nil, 401},
		{"secure channel without permission", "secure/alerts", url.Values{"token": {plain}}, nil, 403},
		{"another subject's private topic", "priv/bob", url.Values{"token": {plain}}, nil, 403},
		{"origin not allowed", "", url.Values{"token": {plain}}, http.Header{"Origin": {"https://evil.example"}}, 403},
		{"unknown app", "", url.Values{"token": {plain}}, nil, 404},
		{"token query", "events/login", url.Values{"token": {plain}}, nil, 0},
		{"bearer header", "", nil, http.Header{"Authorization": {"Bearer " + plain}}, 0},
		{"username and api_key query", "secure/alerts", url.Values{"username": {"alice"}, "api_key": {key}}, nil, 0},
		{"basic auth with API key", "secure/alerts", nil, basic, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := "a"
			if tc.name == "unknown app" {
				app = "nope"
			}
			d, resp, err := drogueConnect(t, hs, app, tc.channel, tc.q, tc.h)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v (status %d)", err, status(resp))
				}
				_ = d
				return
			}
			if err == nil {
				t.Fatalf("upgraded, want %d", tc.want)
			}
			if status(resp) != tc.want {
				t.Errorf("status %d, want %d", status(resp), tc.want)
			}
		})
	}
}

func TestConsumerWithoutChannelGetsWhatItMayRead(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour, "realtime:subscriber:read:topic:secure/ok"), "")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })
	apiPublish(t, hs, "secure/denied", map[string]any{"n": 1})
	apiPublish(t, hs, "priv/bob", map[string]any{"n": 2})
	apiPublish(t, hs, "priv/svc", map[string]any{"n": 3})
	apiPublish(t, hs, "secure/ok", map[string]any{"n": 4})
	apiPublish(t, hs, "news", map[string]any{"n": 5})
	if got := d.collect(3); !slices.Equal(got, []int{3, 4, 5}) {
		t.Errorf("got %v, want 3 (its own priv/), 4 (secure/ok), 5 (news)", got)
	}
}

func TestConsumerOtherFramesClose(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour), "")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })
	if err := d.conn.WriteMessage(gws.OpcodeText, []byte(`{"type":"subscribe","data":{"topic":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(waitLimit):
		t.Fatal("not closed")
	}
	var ce *gws.CloseError
	if !errors.As(d.closeErr(), &ce) || ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonInvalidFormat {
		t.Errorf("close %v, want 1008 %q", d.closeErr(), ReasonInvalidFormat)
	}
}

// TestConsumerSlowMemberShareGoesToOthers: a member that reads nothing is closed as a
// slow consumer once its backlog is full, and what it was handed and had not written
// goes to the other member: together they have every message (at-least-once). The
// publisher keeps pace with the member that reads, so that only the other falls behind.
func TestConsumerSlowMemberShareGoesToOthers(t *testing.T) {
	a := consumerApp(0)
	a.Limits.MaxBacklog = 64 << 10
	s, hs := startServer(t, Options{Apps: []App{a}, SocketWriteBuffer: 16 << 10})
	tok := mint(t, secretA, "svc", time.Hour)
	seen := witness(t, hs, "bulk")
	fast := mustDrogue(t, hs, "a", "bulk", tok, "g")
	waitUntil(t, "the reading member", func() bool { return members(s, "bulk", "g") == 1 })
	_, h := s.app("a")
	var fastConn *conn
	for _, c := range h.snapshot(nil) {
		if _, consumer := c.kind.(*consumerState); consumer {
			fastConn = c
		}
	}
	gate := make(chan struct{})
	slow, resp, err := drogueDial(t, hs, "a", "bulk", url.Values{"token": {tok}, "group_id": {"g"}}, dialOpts{gate: gate, rcvBuf: 16 << 10})
	if err != nil {
		t.Fatalf("slow member: %v (status %d)", err, status(resp))
	}
	waitUntil(t, "two members", func() bool { return members(s, "bulk", "g") == 2 })

	var mu sync.Mutex
	got := map[int]bool{}
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			select {
			case ev := <-fast.events:
				checkCloudEvent(t, ev)
				mu.Lock()
				got[seq(ev)] = true
				mu.Unlock()
			case <-fast.done:
				return
			}
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	const n = 300
	pad := strings.Repeat("x", 4000)
	for i := range n {
		if err := s.publish(t.Context(), "a", "bulk", Message{Data: []byte(`{"n":` + strconv.Itoa(i) + `,"pad":"` + pad + `"}`)}); err != nil {
			t.Fatal(err)
		}
		seen(i) // dispatched
		waitUntil(t, "the reading member keeps up", func() bool { return fastConn.queued() < 8<<10 })
	}
	waitUntil(t, "the slow member closed as a slow consumer", func() bool { return counterValue(s.metrics.slowConsumers) >= 1 })
	close(gate)
	<-slow.done
	var ce *gws.CloseError
	if !errors.As(slow.closeErr(), &ce) || string(ce.Reason) != ReasonSlowConsumer {
		t.Fatalf("slow member closed with %v, want %q", slow.closeErr(), ReasonSlowConsumer)
	}
	fromSlow := 0
	for len(slow.events) > 0 {
		ev := <-slow.events
		mu.Lock()
		got[seq(ev)] = true
		mu.Unlock()
		fromSlow++
	}
	deadline := time.Now().Add(waitLimit)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if count() < n {
		mu.Lock()
		var missing []int
		for i := range n {
			if !got[i] {
				missing = append(missing, i)
			}
		}
		mu.Unlock()
		h.consumers.mu.Lock()
		for k, g := range h.consumers.groups {
			t.Logf("group %q: %d members, %d orphans", k.id, len(g.members), len(g.orphans))
			for _, m := range g.members {
				q, cl := m.outbound()
				t.Logf("  member %s queued %d closed %v pending %d fast %v", m.id, q, cl, len(m.consumer().pending), m == fastConn)
			}
		}
		h.consumers.mu.Unlock()
		t.Fatalf("missing %v; the slow member read %d; fast closed with %v", missing, fromSlow, fast.closeErr())
	}
	if fromSlow >= n/2 {
		t.Fatalf("the slow member read %d of its ~%d: it was not behind", fromSlow, n/2)
	}
	if counterValue(s.metrics.slowConsumers) != 1 {
		t.Errorf("%v slow consumers, want only the member that did not read", counterValue(s.metrics.slowConsumers))
	}
	_ = fast.conn.WriteClose(1000, nil)
	<-fastDone
}

// TestConsumerGroupWithoutHistoryIsToldWhatItMissed: an app that keeps no history cannot
// replay; a durable group's next member is told how many messages it missed.
func TestConsumerGroupWithoutHistoryIsToldWhatItMissed(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	tok := mint(t, secretA, "svc", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "audit")
	waitUntil(t, "joined", func() bool { return members(s, "events/login", "audit") == 1 })
	publishN(t, hs, "events/login", 1, 2)
	d.collect(2)
	_ = d.conn.WriteClose(1000, nil)
	<-d.done
	waitUntil(t, "gone", func() bool { return members(s, "events/login", "audit") == 0 })
	publishN(t, hs, "events/login", 3, 5)
	seen(5)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "audit")
	ev := d2.next()
	for n := seq(ev); n == 1 || n == 2; n = seq(ev) {
		ev = d2.next() // a redelivery (at-least-once)
	}
	checkCloudEvent(t, ev)
	data, _ := ev["data"].(map[string]any)
	if ev["type"] != GapEventType || data["missed"] != float64(3) || data["groupId"] != "audit" {
		t.Fatalf("first event %v, want a gap notice with missed 3", ev)
	}
	publishN(t, hs, "events/login", 6, 6)
	if got := d2.collect(1); got[0] != 6 {
		t.Errorf("after the gap notice got %v, want 6", got)
	}
}

// TestConsumerGroupForgetsPositionsOfForgottenTopics: a durable group on every topic of
// an app that writes to ever new topics keeps positions only for topics history still
// knows, once a sweep runs.
func TestConsumerGroupForgetsPositionsOfForgottenTopics(t *testing.T) {
	a := consumerApp(10)
	a.HistoryMaxTopics = 20
	s, hs := startServer(t, Options{Apps: []App{a}, SweepInterval: time.Hour})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour), "all")
	waitUntil(t, "joined", func() bool { return members(s, "", "all") == 1 })
	for i := range 300 {
		apiPublish(t, hs, "t/"+strconv.Itoa(i), map[string]any{"n": i})
	}
	d.collect(300)
	_, h := s.app("a")
	positions := func() int {
		h.consumers.mu.Lock()
		defer h.consumers.mu.Unlock()
		return len(h.consumers.groups[groupKey{id: "all"}].positions.(memoryPositions))
	}
	if n := positions(); n < 300 {
		t.Fatalf("%d positions before the sweep, want one per topic seen (300)", n)
	}
	s.sweep(nil)
	if n := positions(); n > 20 {
		t.Errorf("%d positions after the sweep, want at most historyMaxTopics (20)", n)
	}
}

// TestConsumerCountsAgainstMaxConnections: a consumer is a connection of its app like
// any other: maxConnections refuses the one past it with 503 before the upgrade, and the
// connections gauge counts it.
func TestConsumerCountsAgainstMaxConnections(t *testing.T) {
	a := consumerApp(0)
	a.MaxConnections = 1
	s, hs := startServer(t, Options{Apps: []App{a}})
	tok := mint(t, secretA, "svc", time.Hour)
	mustDrogue(t, hs, "a", "", tok, "")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })
	if _, resp, err := drogueConnect(t, hs, "a", "", url.Values{"token": {tok}}, nil); err == nil || status(resp) != http.StatusServiceUnavailable {
		t.Fatalf("second consumer: %v, status %d, want 503", err, status(resp))
	}
	if g := gaugeValue(t, s.reg, "kete_server_connections"); g != 1 {
		t.Errorf("kete_server_connections = %v, want 1", g)
	}
}
