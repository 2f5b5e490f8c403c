package server

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server/auth"
)

func TestConnectRefusedBeforeUpgrade(t *testing.T) {
	disabled := testApp("off", secretA)
	disabled.Enabled = false
	denied := testApp("denied", secretA)
	denied.ClientSourceAddress = []string{"10.0.0.0/8"}
	origins := testApp("origins", secretA)
	origins.AllowedOrigins = []string{"https://good.example"}
	full := testApp("full", secretA)
	full.MaxConnections = 1
	reject := testApp("reject", secretA)
	reject.OneConnectionPerUser = OnePerUserReject
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA), testApp("b", secretB), disabled, denied, origins, full, reject}})

	good := mint(t, secretA, "alice", time.Hour)
	connect(t, hs, "full", good)   // takes the only slot
	connect(t, hs, "reject", good) // alice is now connected to "reject"

	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		code   string
	}{
		{"unknown app", "/apps/nope?access_token=" + good, nil, 404, "app_not_found"},
		{"disabled app", "/apps/off?access_token=" + good, nil, 403, "app_disabled"},
		{"source address denied", "/apps/denied?access_token=" + good, nil, 403, "source_denied"},
		{"origin not allowed", "/apps/origins?access_token=" + good, http.Header{"Origin": {"https://evil.example"}}, 403, "origin_denied"},
		{"missing token", "/apps/a", nil, 401, "token_missing"},
		{"garbage token", "/apps/a?access_token=not.a.jwt", nil, 401, "token_malformed"},
		{"token of another app", "/apps/a?access_token=" + mint(t, secretB, "bob", time.Hour), nil, 401, "token_invalid"},
		{"expired token", "/apps/a?access_token=" + mintExpired(t, secretA, "alice"), nil, 401, "token_expired"},
		{"app at maxConnections", "/apps/full?access_token=" + good, nil, 503, "too_many_connections"},
		{"second connection of a subject (reject)", "/apps/reject?access_token=" + good, nil, 409, "already_connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := wstest.Dial(t, wsURL(hs, tt.path), wstest.Options{Header: tt.header})
			if err == nil {
				t.Fatalf("upgrade succeeded, want %d", tt.status)
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			b, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(b, &body); err != nil || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Fatalf("body %q, want JSON error code %q", b, tt.code)
			}
		})
	}

	t.Run("allowed origin connects", func(t *testing.T) {
		tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/origins?access_token="+good), wstest.Options{Header: http.Header{"Origin": {"https://good.example"}}})
		if err != nil {
			t.Fatal(err)
		}
		tc.WaitFor("main", "welcome")
	})
	t.Run("token in Authorization header", func(t *testing.T) {
		tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/a"), wstest.Options{Header: http.Header{"Authorization": {"Bearer " + good}}})
		if err != nil {
			t.Fatal(err)
		}
		tc.WaitFor("main", "welcome")
	})
}

func TestOneConnectionPerUserReplace(t *testing.T) {
	app := testApp("a", secretA)
	app.OneConnectionPerUser = OnePerUserReplace
	_, hs := startServer(t, Options{Apps: []App{app}})
	tok := mint(t, secretA, "alice", time.Hour)
	first := connect(t, hs, "a", tok)
	connect(t, hs, "a", tok)
	ce := first.WaitClosed()
	if ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonReplaced {
		t.Fatalf("first connection closed with %d %q, want %d %q", ce.Code, ce.Reason, ClosePolicyViolation, ReasonReplaced)
	}
}

func TestWelcomeAndAutoSubscriptions(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	for _, topic := range []string{"main", "priv/" + tc.ID(), "priv/alice"} {
		st, body := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": topic, "message": map[string]string{"to": topic}})
		if st != 200 {
			t.Fatalf("publish to %s: %d %v", topic, st, body)
		}
		f := tc.WaitFor(topic, "broadcast")
		if string(f.Data) != `{"to":"`+topic+`"}` {
			t.Fatalf("%s: data %s", topic, f.Data)
		}
	}
}

func TestSubscribePublishDeliver(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	sub := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	pubPerms := []string{"realtime:publisher:write:topic:chat"}
	pub := connect(t, hs, "a", mint(t, secretA, "bob", time.Hour, pubPerms...))
	sub.Subscribe("chat")

	pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "chat", "payload": map[string]any{"text": "hi"}, "id": "m1"}})
	f := sub.WaitFor("chat", "broadcast")
	var d struct {
		Payload map[string]string `json:"payload"`
		ID      string            `json:"id"`
		Client  struct {
			ConnectionID string   `json:"connectionId"`
			Subject      string   `json:"subject"`
			Permissions  []string `json:"permissions"`
		} `json:"client"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Payload["text"] != "hi" || d.ID != "m1" || d.Client.ConnectionID != pub.ID() || d.Client.Subject != "bob" || len(d.Client.Permissions) != 1 || d.Client.Permissions[0] != pubPerms[0] {
		t.Fatalf("delivered data %s", f.Data)
	}
	if f.Binary {
		t.Fatal("text publish delivered as binary")
	}

	pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "chat", "messageType": "typing", "payload": "x"}})
	f = sub.WaitFor("chat", "typing")
	var d2 struct{ ID string }
	if err := json.Unmarshal(f.Data, &d2); err != nil || d2.ID == "" {
		t.Fatalf("generated id missing: %s", f.Data)
	}

	t.Run("compress delivers a binary frame", func(t *testing.T) {
		pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "chat", "messageType": "zipped", "payload": "z", "compress": true}})
		if f := sub.WaitFor("chat", "zipped"); !f.Binary {
			t.Fatal("compress:true delivered as text")
		}
	})

	t.Run("unsubscribe stops delivery", func(t *testing.T) {
		sub.Send(map[string]any{"type": "unsubscribe", "data": map[string]any{"topic": "chat"}})
		sub.Subscribe("marker") // processed after the unsubscribe
		pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "chat", "payload": "gone"}})
		// bob may not publish to priv/… (that would close his connection): the API sends the marker.
		admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
		apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "marker", "message": "m", "messageType": "mark"})
		for _, f := range sub.UntilMarker("marker", "mark") {
			if f.Topic == "chat" && f.MessageType == "broadcast" {
				t.Fatalf("delivered after unsubscribe: %s", f.Raw)
			}
		}
	})
}

// TestSubscribeAndPublishPermissions checks which frames a token allows, under the
// errorFrame policy, where each refusal is an error frame and the connection stays;
// TestForbiddenCloses checks the default.
func TestSubscribeAndPublishPermissions(t *testing.T) {
	app := testApp("a", secretA)
	app.OnForbidden = ForbiddenErrorFrame
	_, hs := startServer(t, Options{Apps: []App{app}})
	plain := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	reader := connect(t, hs, "a", mint(t, secretA, "carol", time.Hour, "realtime:subscriber:read:topic:secure/logs/*"))

	tests := []struct {
		name  string
		c     *wstest.Client
		topic string
		ok    bool
	}{
		{"private topic refused", plain, "priv/someone", false},
		{"private own id refused", plain, "priv/" + plain.ID(), false},
		{"secure without permission", plain, "secure/logs/x", false},
		{"secure with permission", reader, "secure/logs/x", true},
		{"secure outside pattern", reader, "secure/other", false},
		{"public topic", plain, "news", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Send(map[string]any{"type": "subscribe", "data": map[string]any{"topic": tt.topic}})
			want := "error"
			if tt.ok {
				want = "welcome"
			}
			f := tt.c.WaitFor(tt.topic, want)
			if !tt.ok && !strings.Contains(string(f.Data), `"forbidden"`) {
				t.Fatalf("error frame %s", f.Raw)
			}
		})
	}

	t.Run("publish needs write permission", func(t *testing.T) {
		plain.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "news", "payload": "x", "id": "p1"}})
		f := plain.WaitFor("news", "error")
		if !strings.Contains(string(f.Data), `"p1"`) {
			t.Fatalf("error frame lacks the id: %s", f.Raw)
		}
	})
}

func TestAcksAndReplies(t *testing.T) {
	app := testApp("a", secretA)
	app.ClientInboundAckEnabled = true
	_, hs := startServer(t, Options{Apps: []App{app}})
	service := connect(t, hs, "a", mint(t, secretA, "svc", time.Hour, "realtime:publisher:write:topic:priv/*"))
	client := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour, "realtime:publisher:write:topic:rpc"))
	service.Subscribe("rpc")

	client.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "rpc", "payload": map[string]any{"q": 1}, "id": "req-1"}})
	ack := client.WaitFor("priv/acks", "ack")
	if string(ack.Data) != `{"data":"req-1"}` {
		t.Fatalf("ack data %s, want {\"data\":\"req-1\"}", ack.Data)
	}
	req := service.WaitFor("rpc", "broadcast")
	var rd struct {
		ID     string
		Client struct{ ConnectionID string }
	}
	_ = json.Unmarshal(req.Data, &rd)
	if rd.Client.ConnectionID != client.ID() {
		t.Fatalf("request client %+v", rd)
	}
	// What the npm client's reply() sends.
	service.Send(map[string]any{"type": "publish", "data": map[string]any{
		"topic": "priv/" + rd.Client.ConnectionID, "messageType": "response",
		"payload": map[string]any{"data": "pong", "status": "ok", "id": rd.ID},
	}})
	resp := client.WaitFor("priv/"+client.ID(), "response")
	var rp struct {
		Payload struct{ Data, Status, ID string }
	}
	_ = json.Unmarshal(resp.Data, &rp)
	if rp.Payload.ID != "req-1" || rp.Payload.Data != "pong" || rp.Payload.Status != "ok" {
		t.Fatalf("reply %s", resp.Data)
	}
	service.WaitFor("priv/acks", "ack") // the reply was acked too
}

func TestPresenceAndInbound(t *testing.T) {
	app := testApp("a", secretA)
	app.EnableWebSocketInboundTopic = true
	app.ClientInboundAckEnabled = true
	_, hs := startServer(t, Options{Apps: []App{app}})
	watcher := connect(t, hs, "a", mint(t, secretA, "backend", time.Hour, "realtime:subscriber:read:topic:secure/inbound"))
	watcher.Subscribe("secure/inbound")

	tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "alice", time.Hour)), wstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	welcome := tc.WaitFor("main", "welcome")
	var w struct{ Connection struct{ ID string } }
	_ = json.Unmarshal(welcome.Data, &w)

	type presence struct {
		Client struct {
			ConnectionID string `json:"connectionId"`
			Subject      string `json:"subject"`
		} `json:"client"`
		SubProtocol int `json:"subProtocol"`
		Payload     struct {
			Code   int    `json:"code"`
			Status string `json:"status"`
		} `json:"payload"`
	}
	// The watcher may see its own arrival first: wait for alice's.
	var p presence
	var f wstest.Frame
	for p.Client.ConnectionID != w.Connection.ID {
		f = watcher.WaitFor("secure/inbound", "presence")
		p = presence{}
		if err := json.Unmarshal(f.Data, &p); err != nil {
			t.Fatal(err)
		}
	}
	if p.Client.Subject != "alice" || p.Payload.Code != 0 || p.Payload.Status != "connected" || p.SubProtocol != 1 {
		t.Fatalf("connect presence %s", f.Data)
	}

	tc.Send(map[string]any{"type": "message", "data": map[string]any{"payload": "hello", "id": "in-1"}})
	if ack := tc.WaitFor("priv/acks", "ack"); string(ack.Data) != `{"data":"in-1"}` {
		t.Fatalf("message ack %s", ack.Data)
	}
	in := watcher.WaitFor("secure/inbound", "broadcast")
	if !strings.Contains(string(in.Data), `"payload":"hello"`) || !strings.Contains(string(in.Data), `"subject":"alice"`) {
		t.Fatalf("inbound %s", in.Data)
	}

	_ = tc.Conn().WriteClose(1000, nil)
	f = watcher.WaitFor("secure/inbound", "presence")
	p = presence{}
	if err := json.Unmarshal(f.Data, &p); err != nil || p.Client.ConnectionID != w.Connection.ID || p.Payload.Code != -1 || p.Payload.Status != "disconnected" {
		t.Fatalf("disconnect presence %s", f.Data)
	}
}

func TestInvalidFrameCloses(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	tok := mint(t, secretA, "alice", time.Hour)
	for _, bad := range []string{
		`not json`,
		`{"type":"dance","data":{}}`,
		`{"type":"subscribe"}`,
		`{"type":"subscribe","data":{"topic":""}}`,
		`{"type":"publish","data":{"topic":"x"}}`,
		`{"type":"subscribe","data":{"topic":"has space"}}`,
		`[1,2,3]`,
	} {
		t.Run(bad, func(t *testing.T) {
			tc := connect(t, hs, "a", tok)
			tc.SendText(bad)
			ce := tc.WaitClosed()
			if ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonInvalidFormat {
				t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, ClosePolicyViolation, ReasonInvalidFormat)
			}
		})
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	app := testApp("a", secretA)
	app.Limits.MaxMessageSize = 512
	_, hs := startServer(t, Options{Apps: []App{app}})
	tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour, "realtime:publisher:write:topic:*"))
	tc.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "x", "payload": strings.Repeat("a", 600)}})
	if ce := tc.WaitClosed(); ce.Code != CloseMessageTooBig {
		t.Fatalf("closed with %d %q, want 1009", ce.Code, ce.Reason)
	}
}

// TestTokenExpiryAndRefresh runs the "close" token lifetime policy: the connection lives
// until exp plus the leeway, unless refreshed.
func TestTokenExpiryAndRefresh(t *testing.T) {
	clock := newFakeClock()
	app := testApp("a", secretA)
	app.TokenExpiry = TokenExpiryClose
	const leeway = 5 * time.Second
	s, hs := startServer(t, Options{Apps: []App{app}, Now: clock.Now, SweepInterval: time.Hour, TokenLeeway: leeway})

	t.Run("expired token closes the connection", func(t *testing.T) {
		tc := connect(t, hs, "a", mintAt(t, clock, secretA, "alice", 2*time.Second))
		mustBeRegistered(t, s, "a", tc.ID())
		s.sweep(nil)
		clock.Advance(3*time.Second + leeway)
		s.sweep(nil)
		ce := tc.WaitClosed()
		if ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonTokenExpired {
			t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
		}
	})
	for _, form := range []string{"RefreshAccessToken", "typed"} {
		t.Run("refresh extends ("+form+")", func(t *testing.T) {
			tc := connect(t, hs, "a", mintAt(t, clock, secretA, "alice", 2*time.Second))
			fresh := mintAt(t, clock, secretA, "alice", time.Hour)
			if form == "typed" {
				tc.Send(map[string]any{"type": "refresh", "data": map[string]any{"token": fresh}})
			} else {
				tc.Send(map[string]any{"RefreshAccessToken": fresh})
			}
			tc.WaitFor("priv/"+tc.ID(), "refreshed")
			clock.Advance(3*time.Second + leeway)
			s.sweep(nil)
			// Still open: a publish to it arrives.
			admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
			apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "priv/" + tc.ID(), "message": 1, "messageType": "alive"})
			tc.WaitFor("priv/"+tc.ID(), "alive")
		})
	}
	t.Run("refresh with another subject closes", func(t *testing.T) {
		tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
		tc.Send(map[string]any{"RefreshAccessToken": mint(t, secretA, "mallory", time.Hour)})
		if ce := tc.WaitClosed(); string(ce.Reason) != ReasonTokenInvalid {
			t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
		}
	})
	t.Run("refresh with garbage closes", func(t *testing.T) {
		tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
		tc.Send(map[string]any{"RefreshAccessToken": "x.y.z"})
		if ce := tc.WaitClosed(); string(ce.Reason) != ReasonTokenInvalid {
			t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
		}
	})
	t.Run("idle connection is pinged and a pong keeps it open", func(t *testing.T) {
		tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
		mustBeRegistered(t, s, "a", tc.ID())
		s.sweep(nil)
		clock.Advance(DefaultPingInterval + time.Second)
		s.sweep(nil)
		waitUntil(t, "ping received", func() bool { return tc.Pings() >= 1 })
		_, h := s.app("a")
		c := h.connection(tc.ID())
		waitUntil(t, "pong seen", func() bool { return c.lastSeen.Load() >= clock.Now().UnixNano() })
		clock.Advance(DefaultIdleTimeout - time.Second)
		s.sweep(nil)
		admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
		apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "priv/" + tc.ID(), "message": 1, "messageType": "alive"})
		tc.WaitFor("priv/"+tc.ID(), "alive")
	})
	t.Run("idle connection closes", func(t *testing.T) {
		tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
		mustBeRegistered(t, s, "a", tc.ID())
		s.sweep(nil)
		clock.Advance(DefaultIdleTimeout + time.Second)
		s.sweep(nil)
		if ce := tc.WaitClosed(); string(ce.Reason) != ReasonIdle {
			t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
		}
	})
}

func TestAppIsolation(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA), testApp("b", secretB)}})
	all := []string{"realtime:publisher:write:topic:*", "realtime:subscriber:read:topic:*"}
	inA := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour, all...))
	inB := connect(t, hs, "b", mint(t, secretB, "alice", time.Hour, all...))
	inA.Subscribe("shared")
	inB.Subscribe("shared")

	inA.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "shared", "payload": "from-a"}})
	inA.WaitFor("shared", "broadcast")
	// priv/alice in app a must not reach alice in app b.
	inA.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "priv/alice", "payload": "private-a"}})
	inA.WaitFor("priv/alice", "broadcast")
	inB.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "shared", "payload": "from-b", "messageType": "mark"}})
	for _, f := range inB.UntilMarker("shared", "mark") {
		if strings.Contains(string(f.Raw), "-a") {
			t.Fatalf("app b got app a's frame %s", f.Raw)
		}
	}

	adminA := mint(t, secretAdmin, "ops", time.Hour, PermManageConnections)
	if st, _ := apiCall(t, hs, "DELETE", "/api/connections/b/"+inA.ID(), adminA, nil); st != 404 {
		t.Fatalf("closing app a's connection through app b: %d, want 404", st)
	}
	// App a's client token on app b.
	if _, resp, err := wstest.Dial(t, wsURL(hs, "/apps/b?access_token="+mint(t, secretA, "alice", time.Hour)), wstest.Options{}); err == nil || wstest.Status(resp) != 401 {
		t.Fatalf("app a token on app b: %v %d", err, wstest.Status(resp))
	}
}

func TestDeliveryCarriesNoTokenOrKey(t *testing.T) {
	// The client info in deliveries must not leak the token.
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	tok := mint(t, secretA, "alice", time.Hour, "realtime:publisher:write:topic:t")
	tc := connect(t, hs, "a", tok)
	tc.Subscribe("t")
	tc.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "t", "payload": 1}})
	f := tc.WaitFor("t", "broadcast")
	if strings.Contains(string(f.Raw), tok) {
		t.Fatal("delivered frame contains the token")
	}
}

func TestAPIKeyConnect(t *testing.T) {
	app := testApp("a", secretA)
	app.APIKeys = []auth.APIKey{{Name: "gw", Hash: auth.HashAPIKey("key-one"), Permissions: []string{"realtime:publisher:write:topic:*"}}}
	_, hs := startServer(t, Options{Apps: []App{app}})
	tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/a"), wstest.Options{Header: http.Header{"X-API-Key": {"key-one"}}})
	if err != nil {
		t.Fatal(err)
	}
	tc.WaitFor("main", "welcome")
	if _, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a?api_key=wrong"), wstest.Options{}); err == nil || wstest.Status(resp) != 401 {
		t.Fatalf("wrong API key: %v %d", err, wstest.Status(resp))
	}
}

// TestTLSConnections runs the protocol over wss://, where writes cannot be non-blocking and
// every burst goes through a connection's writer goroutine.
func TestTLSConnections(t *testing.T) {
	s, err := New(Options{Apps: []App{testApp("a", secretA)}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(s)
	t.Cleanup(func() { hs.Close(); _ = s.Close() })
	url := "wss" + strings.TrimPrefix(hs.URL, "https") + "/apps/a?access_token=" + mint(t, secretA, "alice", time.Hour, "realtime:publisher:write:topic:*")
	tc, _, err := wstest.Dial(t, url, wstest.Options{TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	tc.WaitFor("main", "welcome")
	tc.Subscribe("t")
	for i := range 200 {
		tc.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "t", "payload": i}})
	}
	for range 200 {
		tc.WaitFor("t", "broadcast")
	}
}

func TestPlainGETAfterAuthGets426AndKeepsTheLiveConnection(t *testing.T) {
	app := testApp("a1", strings.Repeat("s", 32))
	app.OneConnectionPerUser = OnePerUserReplace
	_, hs := startServer(t, Options{Apps: []App{app}})
	tok := mint(t, strings.Repeat("s", 32), "alice", time.Hour, "realtime:subscriber:read:topic:*", "realtime:publisher:write:topic:*")
	live := connect(t, hs, "a1", tok)
	resp, err := http.Get(hs.URL + "/apps/a1?access_token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET = %d, want 426", resp.StatusCode)
	}
	// The live connection was not replaced: it still gets what is published to it.
	live.Subscribe("news")
	live.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "news", "payload": "hi", "id": "1"}})
	live.WaitFor("news", "broadcast")
	bad, err := http.Get(hs.URL + "/apps/a1?access_token=garbage")
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusUnauthorized {
		t.Fatalf("plain GET with a bad token = %d, want 401 (the dashboard reads the reason)", bad.StatusCode)
	}
}

func TestDisabledAppRefusesTheHTTPAPI(t *testing.T) {
	secret := strings.Repeat("s", 32)
	app := testApp("off", secret)
	app.Enabled = false
	_, hs := startServer(t, Options{Apps: []App{app}})
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/topics/off/publish", strings.NewReader(`{"topic":"t","message":"x"}`))
	req.Header.Set("Authorization", "Bearer "+mint(t, secret, "admin", time.Hour, "realtime:publisher:write:topic:*"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("publish to a disabled app = %d, want 403", resp.StatusCode)
	}
}
