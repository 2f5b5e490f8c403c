package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kete-dev/kete/server/auth"
)

func TestIngest(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	sub := connect(t, hs, "a", mint(t, secretA, "dash", time.Hour))
	sub.subscribe("events/master")
	tok := mint(t, secretA, "kete", time.Hour, "realtime:publisher:write:topic:events/*")

	t.Run("refused without permission for the topic", func(t *testing.T) {
		_, resp, err := dial(t, wsURL(hs, "/apps/a/publish/other?access_token="+tok), dialOpts{})
		if err == nil || status(resp) != 403 {
			t.Fatalf("got %v, status %d, want 403", err, status(resp))
		}
	})

	in, _, err := dial(t, wsURL(hs, "/apps/a/publish/events/master?ack=1&access_token="+tok), dialOpts{})
	if err != nil {
		t.Fatal(err)
	}
	frames := []struct {
		op       gws.Opcode
		body     string
		wantAck  string
		wantData string
	}{
		{gws.OpcodeText, `{"id":"e1","type":"LOGIN"}`, `{"type":"ack","seq":1,"id":"e1","status":"ok"}`, `{"id":"e1","type":"LOGIN"}`},
		{gws.OpcodeText, `{"id":"e1","type":"LOGIN"}`, `{"type":"ack","seq":2,"id":"e1","status":"duplicate"}`, ""},
		{gws.OpcodeText, `plain text`, `{"type":"ack","seq":3,"status":"ok"}`, `"plain text"`},
		{gws.OpcodeBinary, `{"id":7}`, `{"type":"ack","seq":4,"id":"7","status":"ok"}`, `{"id":7}`},
	}
	for _, f := range frames {
		if err := in.c.WriteMessage(f.op, []byte(f.body)); err != nil {
			t.Fatal(err)
		}
		ack := in.next()
		if string(ack.Raw) != f.wantAck {
			t.Fatalf("ack %s, want %s", ack.Raw, f.wantAck)
		}
		if f.wantData == "" {
			continue
		}
		got := sub.waitFor("events/master", "broadcast")
		if string(got.Data) != f.wantData || got.Binary != (f.op == gws.OpcodeBinary) {
			t.Fatalf("delivered %s (binary %v), want %s (binary %v)", got.Data, got.Binary, f.wantData, f.op == gws.OpcodeBinary)
		}
	}

	t.Run("a reconnecting destination does not deliver twice", func(t *testing.T) {
		again, _, err := dial(t, wsURL(hs, "/apps/a/publish/events/master?ack=1&access_token="+tok), dialOpts{})
		if err != nil {
			t.Fatal(err)
		}
		_ = again.c.WriteString(`{"id":"e1","type":"LOGIN"}`)
		if ack := again.next(); !strings.Contains(string(ack.Raw), `"duplicate"`) {
			t.Fatalf("ack %s", ack.Raw)
		}
	})
}

func TestDedupBounded(t *testing.T) {
	d := newDedup()
	now := time.Now().UnixNano()
	for i := range 1000 {
		if !d.firstSeen("t", fmt.Sprint(i), now, time.Minute, 100) {
			t.Fatalf("id %d seen twice", i)
		}
	}
	if n := d.len(); n > 101 {
		t.Fatalf("dedup holds %d ids, want at most 101", n)
	}
	if d.firstSeen("t", "999", now, time.Minute, 100) {
		t.Fatal("recent id not remembered")
	}
	if !d.firstSeen("t", "999", now+int64(2*time.Minute), time.Minute, 100) {
		t.Fatal("id remembered past its window")
	}
}

// TestSlowConsumer: one subscriber reads nothing while thousands of messages go out; it
// is closed with 1008 and the server's heap stays bounded, while another subscriber
// gets every message.
func TestSlowConsumer(t *testing.T) {
	app := testApp("a", secretA)
	app.Limits.MaxBacklog = 64 << 10
	app.Limits.MaxMessageSize = 8 << 10
	app.OneConnectionPerUser = OnePerUserOff // the slow and the fast subscriber share a token
	// The close frame waits behind the write in flight until the client reads, which it
	// does only after the whole stream is published: under -race on a busy machine that
	// took longer than a 5s grace, and the server rightly cut the socket without it.
	s, hs := startServer(t, Options{Apps: []App{app}, SocketWriteBuffer: 16 << 10, CloseGrace: time.Minute})
	tok := mint(t, secretA, "sub", time.Hour)
	gate := make(chan struct{})
	slow, _, err := dial(t, wsURL(hs, "/apps/a?access_token="+tok), dialOpts{gate: gate, rcvBuf: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	fast := connect(t, hs, "a", tok)
	in, _, err := dial(t, wsURL(hs, "/apps/a/publish/main?access_token="+mint(t, secretA, "pub", time.Hour, "realtime:publisher:write:topic:*")), dialOpts{})
	if err != nil {
		t.Fatal(err)
	}

	const n, window = 3000, 8

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Publish in windows the fast subscriber keeps up with (it reads everything), while
	// the slow one reads nothing at all.
	payload := `{"pad":"` + strings.Repeat("x", 4000) + `"}`
	for sent := 0; sent < n; sent += window {
		for range window {
			if err := in.c.WriteString(payload); err != nil {
				t.Fatal(err)
			}
		}
		for range window {
			fast.waitFor("main", "broadcast")
		}
	}
	waitUntil(t, "slow consumer closed", func() bool { return counterValue(s.metrics.slowConsumers) >= 1 })

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 8<<20 {
		t.Errorf("heap grew %d bytes while a subscriber read nothing (want < 8 MiB; %d MiB were published)", grow, n*len(payload)>>20)
	}
	close(gate)
	ce := slow.waitClosed()
	if ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonSlowConsumer {
		t.Fatalf("slow subscriber closed with %d %q, want 1008 %q", ce.Code, ce.Reason, ReasonSlowConsumer)
	}
}

func TestHTTPAPI(t *testing.T) {
	app := testApp("a", secretA)
	locked := testApp("locked", secretA)
	locked.AdminSourceAddress = []string{"10.0.0.0/8"}
	_, hs := startServer(t, Options{Apps: []App{app, locked}})
	adminTok := func(perms ...string) string { return mint(t, secretAdmin, "ops", time.Hour, perms...) }
	all := adminTok("realtime:publisher:write:topic:*", PermManageConnections, PermManageSubscribers, PermManageApplication)

	if st, body := apiCall(t, hs, "GET", "/api/health/status", "", nil); st != 200 || body["status"] != "ok" {
		t.Fatalf("health: %d %v", st, body)
	}

	errTests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "POST", "/api/topics/a/publish", "", map[string]any{"topic": "t", "message": 1}, 401, "token_missing"},
		{"client key token", "POST", "/api/topics/a/publish", mint(t, secretA, "x", time.Hour, "realtime:publisher:write:topic:*"), map[string]any{"topic": "t", "message": 1}, 401, "token_invalid"},
		{"unknown app", "POST", "/api/topics/zz/publish", all, map[string]any{"topic": "t", "message": 1}, 404, "app_not_found"},
		{"admin source denied", "POST", "/api/topics/locked/publish", all, map[string]any{"topic": "t", "message": 1}, 403, "source_denied"},
		{"publish without permission", "POST", "/api/topics/a/publish", adminTok(PermManageConnections), map[string]any{"topic": "t", "message": 1}, 403, "forbidden"},
		{"publish too large", "POST", "/api/topics/a/publish", all, map[string]any{"topic": "t", "message": strings.Repeat("x", 70<<10)}, 413, "payload_too_large"},
		{"publish bad json", "POST", "/api/topics/a/publish", all, "{", 400, "invalid_body"},
		{"publish without message", "POST", "/api/topics/a/publish", all, map[string]any{"topic": "t"}, 400, "invalid_body"},
		{"unsubscribe too many patterns", "POST", "/api/topics/a/unsubscribe", all, map[string]any{"topicPatterns": make([]string, 51), "subject": "x"}, 400, "invalid_body"},
		{"unsubscribe without permission", "POST", "/api/topics/a/unsubscribe", adminTok("realtime:publisher:write:topic:*"), map[string]any{"topicPatterns": []string{"*"}}, 403, "forbidden"},
		{"close unknown connection", "DELETE", "/api/connections/a/nope", all, nil, 404, "connection_not_found"},
		{"close without permission", "DELETE", "/api/connections/a", adminTok(PermManageSubscribers), nil, 403, "forbidden"},
		{"telemetry bad days", "GET", "/api/telemetry/aggregates/a/0", all, nil, 400, "invalid_days"},
		{"telemetry without permission", "GET", "/api/telemetry/aggregates/a/1", adminTok(PermManageConnections), nil, 403, "forbidden"},
		{"unknown endpoint", "GET", "/api/nothing", "", nil, 404, "not_found"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := apiCall(t, hs, tt.method, tt.path, tt.token, tt.body)
			e, _ := body["error"].(map[string]any)
			if st != tt.status || e == nil || e["code"] != tt.code || e["message"] == "" {
				t.Fatalf("got %d %v, want %d with code %q", st, body, tt.status, tt.code)
			}
		})
	}

	alice := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	bob := connect(t, hs, "a", mint(t, secretA, "bob", time.Hour))
	alice.subscribe("secure-ish/logs/1")
	alice.subscribe("news")

	t.Run("publish", func(t *testing.T) {
		st, _ := apiCall(t, hs, "POST", "/api/topics/a/publish", all, map[string]any{"topic": "news", "message": map[string]any{"hello": "world"}, "messageType": "note", "compress": true})
		if st != 200 {
			t.Fatalf("status %d", st)
		}
		f := alice.waitFor("news", "note")
		if string(f.Data) != `{"hello":"world"}` || !f.Binary {
			t.Fatalf("delivered %s binary=%v", f.Data, f.Binary)
		}
	})
	t.Run("unsubscribe by pattern and subject", func(t *testing.T) {
		st, body := apiCall(t, hs, "POST", "/api/topics/a/unsubscribe", all, map[string]any{"topicPatterns": []string{"secure-ish/logs/*"}, "subject": "alice"})
		if st != 200 || body["unsubscribed"] != float64(1) {
			t.Fatalf("got %d %v", st, body)
		}
		apiCall(t, hs, "POST", "/api/topics/a/publish", all, map[string]any{"topic": "secure-ish/logs/1", "message": 1})
		apiCall(t, hs, "POST", "/api/topics/a/publish", all, map[string]any{"topic": "news", "message": 2, "messageType": "mark"})
		for _, f := range alice.untilMarker("news", "mark") {
			if f.Topic == "secure-ish/logs/1" {
				t.Fatal("delivered after the API unsubscribed it")
			}
		}
	})
	t.Run("telemetry", func(t *testing.T) {
		st, body := apiCall(t, hs, "GET", "/api/telemetry/aggregates/a/1", all, nil)
		recs, _ := body["records"].([]any)
		if st != 200 || len(recs) == 0 || body["ops"].(float64) < 3 || body["subscribers"].(float64) < 2 {
			t.Fatalf("telemetry %d %v", st, body)
		}
		r := recs[0].(map[string]any)
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", r["_id"].(string)); err != nil {
			t.Fatalf("record _id %v: %v", r["_id"], err)
		}
	})
	t.Run("close one connection", func(t *testing.T) {
		if st, _ := apiCall(t, hs, "DELETE", "/api/connections/a/"+bob.id, all, nil); st != 200 {
			t.Fatalf("status %d", st)
		}
		if ce := bob.waitClosed(); ce.Code != CloseNormal || string(ce.Reason) != ReasonClosedByAdmin {
			t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
		}
	})
	t.Run("close all connections", func(t *testing.T) {
		st, body := apiCall(t, hs, "DELETE", "/api/connections/a", all, nil)
		if st != 200 || body["closed"].(float64) < 1 {
			t.Fatalf("got %d %v", st, body)
		}
		alice.waitClosed()
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := hs.Client().Get(hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, "")
		buf := make([]byte, 1<<20)
		n, _ := resp.Body.Read(buf)
		text := string(buf[:n])
		for _, name := range []string{"kete_server_connections", "kete_server_frames_out_total", "kete_server_auth_failures_total{reason=\"token_missing\"}", "kete_server_slow_consumer_closes_total"} {
			if !strings.Contains(text, name) {
				t.Errorf("metrics lack %s", name)
			}
		}
	})
}

func TestAppsFileReloadRotatesAPIKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apps.yaml")
	write := func(key string) {
		t.Helper()
		y := fmt.Sprintf(`
- appId: a
  enabled: true
  authKey: {source: raw, key: %q, algorithms: [HS256]}
  apiKeys:
    - name: gateway
      hash: %q
      permissions: ["realtime:publisher:write:topic:*"]
`, secretA, auth.HashAPIKey(key))
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("old-key")
	_, hs := startServer(t, Options{AppsFile: path, ReloadInterval: 20 * time.Millisecond})
	rotate(t, hs, write, func() {
		// Make sure the modification time moves even on coarse file systems.
		future := time.Now().Add(2 * time.Second)
		_ = os.Chtimes(path, future, future)
	})
}

// rotate checks that old-key works, rewrites the file with new-key, triggers a reload and
// checks that only new-key works then.
func rotate(t *testing.T, hs *httptest.Server, write func(string), trigger func()) {
	t.Helper()
	canConnect := func(key string) bool {
		tc, _, err := dial(t, wsURL(hs, "/apps/a?api_key="+key), dialOpts{})
		if err != nil {
			return false
		}
		_ = tc.c.WriteClose(1000, nil)
		return true
	}
	if !canConnect("old-key") {
		t.Fatal("old key refused before rotation")
	}
	write("new-key")
	trigger()
	waitUntil(t, "new key accepted", func() bool { return canConnect("new-key") })
	if canConnect("old-key") {
		t.Fatal("old key still accepted after rotation")
	}
}

func TestLoadApps(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ok.json":    `[{"appId":"a","enabled":true,"oneConnectionPerUser":true,"limits":{"idleTimeout":"45s","maxMessageSize":1024}}]`,
		"wrap.json":  `{"apps":[{"appId":"a","enabled":true}]}`,
		"ok.yaml":    "- appId: a\n  enabled: true\n  oneConnectionPerUser: reject\n  limits: {pingInterval: 5000}\n",
		"dup.json":   `[{"appId":"a"},{"appId":"a"}]`,
		"noid.yaml":  "- enabled: true\n",
		"cidr.json":  `[{"appId":"a","clientSourceAddress":["300.1.1.1"]}]`,
		"policy.yml": "- appId: a\n  oneConnectionPerUser: sometimes\n",
		"apps.txt":   "[]",
		// A misspelt field must not be dropped: maxConection would leave the app unlimited.
		"typo.json":      `[{"appId":"a","maxConection":5}]`,
		"limittypo.json": `[{"appId":"a","limits":{"maxMesageSize":10}}]`,
		"typo.yaml":      "- appId: a\n  adminSourceAdress: [10.0.0.0/8]\n",
		"limittypo.yaml": "apps:\n  - appId: a\n    limits: {maxMessagesize: 10}\n",
		"wraptypo.yaml":  "apps: []\napp: []\n",
		"trailing.json":  `[{"appId":"a"}] [{"appId":"b"}]`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file    string
		wantErr string
	}{
		{"ok.json", ""},
		{"wrap.json", ""},
		{"ok.yaml", ""},
		{"dup.json", "duplicate appId"},
		{"noid.yaml", "appId is empty"},
		{"cidr.json", "clientSourceAddress"},
		{"policy.yml", "sometimes"},
		{"apps.txt", "unknown extension"},
		{"missing.json", "no such file"},
		{"typo.json", `unknown field "maxConection"`},
		{"limittypo.json", `unknown field "maxMesageSize"`},
		{"typo.yaml", "field adminSourceAdress not found"},
		{"limittypo.yaml", "field maxMessagesize not found"},
		{"wraptypo.yaml", "field app not found"},
		{"trailing.json", "more after the apps"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			apps, err := LoadApps(filepath.Join(dir, tt.file))
			if tt.wantErr == "" {
				if err != nil || len(apps) != 1 {
					t.Fatalf("got %v, %v", apps, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.file) {
				t.Fatalf("error %v, want one naming %s and %q", err, tt.file, tt.wantErr)
			}
		})
	}
	apps, _ := LoadApps(filepath.Join(dir, "ok.json"))
	l := apps[0].Limits.withDefaults()
	if apps[0].OneConnectionPerUser != OnePerUserReplace || l.IdleTimeout.std() != 45*time.Second || l.MaxMessageSize != 1024 || l.MaxBacklog != DefaultMaxBacklog {
		t.Fatalf("decoded %+v limits %+v", apps[0], l)
	}
	apps, _ = LoadApps(filepath.Join(dir, "ok.yaml"))
	if apps[0].OneConnectionPerUser != OnePerUserReject || apps[0].Limits.PingInterval.std() != 5*time.Second {
		t.Fatalf("decoded %+v", apps[0])
	}
}

func TestMemoryBroker(t *testing.T) {
	b := NewMemoryBroker()
	var mu sync.Mutex
	var got []string
	unsub, err := b.Subscribe(func(_ context.Context, app, topic string, m Message) error {
		mu.Lock()
		got = append(got, app+"/"+topic+"="+string(m.Data))
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	busy := errors.New("busy")
	unsub2, _ := b.Subscribe(func(context.Context, string, string, Message) error { return busy })
	if err := b.Publish(context.Background(), "a", "t", Message{Data: []byte("1")}); !errors.Is(err, busy) {
		t.Fatalf("handler error not returned: %v", err)
	}
	unsub2()
	if err := b.Publish(context.Background(), "a", "t", Message{Data: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	unsub()
	_ = b.Publish(context.Background(), "a", "t", Message{Data: []byte("3")})
	mu.Lock()
	if strings.Join(got, ",") != "a/t=1,a/t=2" {
		t.Fatalf("got %v", got)
	}
	mu.Unlock()
	_ = b.Close()
	if err := b.Publish(context.Background(), "a", "t", Message{}); !errors.Is(err, ErrBrokerClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	// Message is plain data: it round-trips through JSON for brokers across nodes.
	m := Message{MessageType: "x", Data: []byte(`{"a":1}`), Binary: true}
	j, _ := json.Marshal(m)
	var back Message
	if err := json.Unmarshal(j, &back); err != nil || string(back.Data) != `{"a":1}` || !back.Binary {
		t.Fatalf("round trip %s → %+v %v", j, back, err)
	}
}

// recordingBroker is a Broker that is not the memory one, to show the hub works on any.
type recordingBroker struct {
	*MemoryBroker
	mu     sync.Mutex
	topics []string
}

func (r *recordingBroker) Publish(ctx context.Context, app, topic string, m Message) error {
	r.mu.Lock()
	r.topics = append(r.topics, app+"/"+topic)
	r.mu.Unlock()
	return r.MemoryBroker.Publish(ctx, app, topic, m)
}

func TestServerUsesGivenBroker(t *testing.T) {
	rb := &recordingBroker{MemoryBroker: NewMemoryBroker()}
	defer rb.Close()
	app := testApp("a", secretA)
	// Under the default ("replace") a connection also tells the other nodes, through the
	// broker, to close the subject's older connections: not what this test counts.
	app.OneConnectionPerUser = OnePerUserOff
	_, hs := startServer(t, Options{Apps: []App{app}, Broker: rb})
	tc := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "main", "message": 1})
	tc.waitFor("main", "broadcast")
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.topics) != 1 || rb.topics[0] != "a/main" {
		t.Fatalf("broker saw %v", rb.topics)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
