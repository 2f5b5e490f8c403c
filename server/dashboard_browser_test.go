package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// nodeTestDir is the npm project both Node-driven tests share (playwright-core,
// realtime-pubsub-client, ws); `npm ci` there installs what they need.
const nodeTestDir = "testdata/node"

// nodeTestsRequired says whether a missing tool fails the Node-driven tests rather than
// skipping them: in CI (CI=true, as CI services set it) it must be there.
func nodeTestsRequired() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// nodeToolsOrSkip returns the path of node and checks that the npm packages are installed
// (and, with browser, that Chromium is there). What is missing skips the test with the
// command that installs it, or fails it when nodeTestsRequired.
func nodeToolsOrSkip(t *testing.T, browser bool, packages ...string) (node, chromium string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20+) on PATH")
	}
	for _, p := range packages {
		if _, err := os.Stat(filepath.Join(nodeTestDir, "node_modules", p, "package.json")); err != nil {
			missing = append(missing, fmt.Sprintf("npm package %s (run: cd server/%s && npm ci)", p, nodeTestDir))
		}
	}
	if browser {
		chromium = os.Getenv("CHROMIUM")
		if chromium == "" {
			chromium = "/usr/bin/chromium"
		}
		if st, err := os.Stat(chromium); err != nil || st.IsDir() {
			missing = append(missing, fmt.Sprintf("Chromium at %s (apt-get install -y chromium, or set CHROMIUM)", chromium))
		}
	}
	if len(missing) == 0 {
		return node, chromium
	}
	msg := "missing: " + strings.Join(missing, "; ")
	if nodeTestsRequired() {
		t.Fatalf("%s (CI=%q, so this fails instead of skipping)", msg, os.Getenv("CI"))
	}
	t.Skip(msg)
	return "", ""
}

// nodeTestApp is one app with HS256 keys for clients and for the HTTP API, and the means
// to mint tokens for both.
type nodeTestApp struct {
	ID          string
	URL         string // http://127.0.0.1:port
	clientKey   []byte
	adminKey    []byte
	adminClient *http.Client
}

// startNodeTestServer runs the real server on 127.0.0.1 with one app, stopped when the
// test ends.
func startNodeTestServer(t *testing.T) *nodeTestApp {
	t.Helper()
	a := &nodeTestApp{ID: "demo", clientKey: randomSecret(t), adminKey: randomSecret(t)}
	srv, err := server.New(server.Options{Apps: []server.App{{
		AppID:                       a.ID,
		Name:                        "node tests",
		Enabled:                     true,
		AuthKey:                     auth.Key{Source: "raw", Key: string(a.clientKey), Algorithms: []string{"HS256"}},
		AdminKey:                    auth.Key{Source: "raw", Key: string(a.adminKey), Algorithms: []string{"HS256"}},
		EnableWebSocketInboundTopic: true,
		ClientInboundAckEnabled:     true,
	}}})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	// Cleanups run last-in first-out: the server closes its WebSockets, then the listener.
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	a.URL = ts.URL
	a.adminClient = ts.Client()
	return a
}

func randomSecret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte(hex.EncodeToString(b)) // 64 bytes of text: fine for HS256, easy to put in JSON
}

// clientToken mints a WebSocket client token for subject with permissions.
func (a *nodeTestApp) clientToken(t *testing.T, subject string, permissions ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", a.clientKey, auth.MintClaims{Subject: subject, Permissions: permissions, TTL: 10 * time.Minute})
	if err != nil {
		t.Fatalf("mint client token: %v", err)
	}
	return tok
}

// publish sends message to topic through POST /api/topics/{appId}/publish with an
// adminKey token, and fails the test unless the server says 200.
func (a *nodeTestApp) publish(t *testing.T, topic string, message []byte) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"topic": topic, "message": json.RawMessage(message)})
	if err != nil {
		t.Fatal(err)
	}
	a.admin(t, http.MethodPost, "/api/topics/"+a.ID+"/publish", body, "realtime:publisher:write:topic:*")
}

// admin calls the HTTP API with an adminKey token holding permissions, and fails the test
// unless the server says 200.
func (a *nodeTestApp) admin(t *testing.T, method, path string, body []byte, permissions ...string) {
	t.Helper()
	tok, err := auth.Mint("HS256", a.adminKey, auth.MintClaims{Subject: "kete-test", Permissions: permissions, TTL: time.Minute})
	if err != nil {
		t.Fatalf("mint admin token: %v", err)
	}
	req, err := http.NewRequest(method, a.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.adminClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, res.StatusCode, reply)
	}
}

// serialize writes e the way a kete route with that serializer kind would send it.
func serialize(t *testing.T, kind string, e *kete.Event) []byte {
	t.Helper()
	s, err := serializer.New(kind, "")
	if err != nil {
		t.Fatalf("serializer %s: %v", kind, err)
	}
	b, err := s.Serialize(nil, e)
	if err != nil {
		t.Fatalf("serialize %s: %v", kind, err)
	}
	return b
}

// nodeScript is a running Node script that speaks JSON lines on stdio.
type nodeScript struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan map[string]any
	stderr *syncbuf.Buffer
}

// startNodeScript runs node script with env added to the test's environment; the
// script is killed when ctx ends and waited for when the test ends.
func startNodeScript(ctx context.Context, t *testing.T, node, script string, env ...string) *nodeScript {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	s := &nodeScript{cmd: cmd, lines: make(chan map[string]any, 16), stderr: &syncbuf.Buffer{}}
	cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", script, err)
	}
	done := make(chan struct{})
	go func() { // owned by this helper: ends when the script's stdout closes
		defer close(done)
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"text": sc.Text()}
			}
			s.lines <- m
		}
	}()
	t.Cleanup(func() {
		_ = s.stdin.Close()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		<-done
	})
	return s
}

// next returns the script's next JSON line, or fails the test when the script ends or
// ctx does first.
func (s *nodeScript) next(ctx context.Context, t *testing.T) map[string]any {
	t.Helper()
	select {
	case m, ok := <-s.lines:
		if !ok {
			t.Fatalf("node script ended early: %v\nstderr:\n%s", s.cmd.Wait(), s.stderr)
		}
		return m
	case <-ctx.Done():
		t.Fatalf("node script: no answer in time (%v)\nstderr:\n%s", ctx.Err(), s.stderr)
	}
	return nil
}

// expect reads lines until one with step == want; a "failed" step fails the test.
func (s *nodeScript) expect(ctx context.Context, t *testing.T, want string) map[string]any {
	t.Helper()
	for {
		m := s.next(ctx, t)
		switch m["step"] {
		case want:
			return m
		case "failed":
			t.Fatalf("node script failed: %v\nstderr:\n%s", m["error"], s.stderr)
		}
		t.Logf("node: %v", m)
	}
}

func (s *nodeScript) send(t *testing.T, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if _, err := s.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("write to node script: %v\nstderr:\n%s", err, s.stderr)
	}
}

// TestDashboardInBrowser opens the dashboard in headless Chromium with a token in the URL
// fragment, publishes Keycloak events through the HTTP API (JSON, a CloudEvent and an admin
// event) while the script publishes one over a WebSocket, and has the script check the
// feed, the counts per type, the filters, the inspector and the rate chart; then the
// server drops the page's connection and the page must reconnect, resubscribe and show the
// next event; last the script takes a screenshot (its path is logged; KETE_SCREENSHOT_DIR picks the folder).
func TestDashboardInBrowser(t *testing.T) {
	node, chromium := nodeToolsOrSkip(t, true, "playwright-core", "ws")
	app := startNodeTestServer(t)

	shots := os.Getenv("KETE_SCREENSHOT_DIR")
	if shots == "" {
		dir, err := os.MkdirTemp("", "kete-dashboard-")
		if err != nil {
			t.Fatal(err)
		}
		shots = dir // kept after the test, so that the screenshot can be looked at
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	script := startNodeScript(ctx, t, node, "testdata/browser/dashboard.mjs",
		"KETE_URL="+app.URL,
		"KETE_APP="+app.ID,
		"KETE_TOKEN="+app.clientToken(t, "dashboard"),
		"KETE_PUBLISHER_TOKEN="+app.clientToken(t, "publisher", "realtime:publisher:write:topic:events"),
		"KETE_SCREENSHOT_DIR="+shots,
		"CHROMIUM="+chromium,
	)
	script.expect(ctx, t, "connected")

	now := time.Now().UnixMilli()
	app.publish(t, "events", serialize(t, "json", &kete.Event{
		Kind: kete.KindEvent, ID: "evt-http-1", Time: now, Type: "LOGIN", RealmID: "r-acme", RealmName: "acme",
		ClientID: "account-console", UserID: "user-http", SessionID: "s-1", IPAddress: "198.51.100.7",
	}))
	app.publish(t, "audit", serialize(t, "cloudevents", &kete.Event{
		Kind: kete.KindEvent, ID: "evt-http-2", Time: now, Type: "LOGIN_ERROR", RealmID: "r-globex", RealmName: "globex",
		ClientID: "web-shop", UserID: "user-bad", IPAddress: "203.0.113.5", Error: "invalid_user_credentials",
	}))
	app.publish(t, "audit", serialize(t, "json", &kete.Event{
		Kind: kete.KindAdminEvent, ID: "evt-http-3", Time: now, RealmID: "r-master", RealmName: "master",
		OperationType: "CREATE", ResourceType: "USER", ResourcePath: "users/42",
		AuthDetails: &kete.AuthDetails{RealmID: "r-master", ClientID: "admin-cli", UserID: "admin-1", IPAddress: "192.0.2.1"},
	}))
	script.send(t, map[string]any{"step": "published"})

	// The server drops every connection; the page reconnects with backoff, subscribes
	// again and keeps receiving.
	script.expect(ctx, t, "kick")
	app.admin(t, http.MethodDelete, "/api/connections/"+app.ID, nil, "realtime:admin:manage:connections")
	script.send(t, map[string]any{"step": "kicked"})
	script.expect(ctx, t, "reconnected")
	app.publish(t, "events", serialize(t, "json", &kete.Event{
		Kind: kete.KindEvent, ID: "evt-http-4", Time: time.Now().UnixMilli(), Type: "LOGOUT", RealmID: "r-acme", RealmName: "acme",
		ClientID: "account-console", UserID: "user-http", IPAddress: "198.51.100.7",
	}))
	script.send(t, map[string]any{"step": "published-again"})

	done := script.expect(ctx, t, "done")
	if err := script.cmd.Wait(); err != nil {
		t.Fatalf("node script: %v\nstderr:\n%s", err, script.stderr)
	}
	shot, _ := done["screenshot"].(string)
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("screenshot %q not written: %v", shot, err)
	}
	t.Logf("dashboard screenshot: %s (dark: %v)", shot, done["dark"])
}

// TestDashboardAnalystViews checks, in headless Chromium, what a security desk reads on the
// dashboard, fed with events as kete's json serializer writes them (KETE's shape): the
// token leaves the address bar once read and a reload still connects; the User column
// shows usernames (details.username, an admin event's target from its representation)
// and search finds them; "Errors only" filters the feed; failed logins are counted by user
// and by IP over a stated window; the by-type panel lists every type sent with none cut
// off; and the Topic column stays on screen at 1280, 1024 and 800 px. Screenshots at
// 1280 and 800 px are logged (KETE_SCREENSHOT_DIR picks the folder).
func TestDashboardAnalystViews(t *testing.T) {
	node, chromium := nodeToolsOrSkip(t, true, "playwright-core")
	app := startNodeTestServer(t)

	shots := os.Getenv("KETE_SCREENSHOT_DIR")
	if shots == "" {
		dir, err := os.MkdirTemp("", "kete-dashboard-")
		if err != nil {
			t.Fatal(err)
		}
		shots = dir // kept after the test, so that the screenshots can be looked at
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	script := startNodeScript(ctx, t, node, "testdata/browser/dashboard_analyst.mjs",
		"KETE_URL="+app.URL,
		"KETE_APP="+app.ID,
		"KETE_TOKEN="+app.clientToken(t, "security-desk"),
		"KETE_SCREENSHOT_DIR="+shots,
		"CHROMIUM="+chromium,
	)
	script.expect(ctx, t, "connected")

	now := time.Now().UnixMilli()
	seq := 0
	userEvent := func(typ, username, userID, ip, errCode string) *kete.Event {
		seq++
		return &kete.Event{
			Kind: kete.KindEvent, ID: fmt.Sprintf("evt-%d", seq), Time: now, Type: typ,
			RealmID: "r-acme", RealmName: "acme", ClientID: "web-portal", UserID: userID,
			IPAddress: ip, Error: errCode,
			// Keycloak's EventBuilder.detail(Details.USERNAME, …) puts the login name here.
			Details: map[string]string{"username": username, "auth_method": "openid-connect"},
		}
	}
	var events []*kete.Event
	for range 3 {
		events = append(events, userEvent("LOGIN_ERROR", "alice", "u-alice", "203.0.113.10", "invalid_user_credentials"))
	}
	for range 2 {
		// An unknown user: Keycloak leaves userId null and keeps the name typed.
		events = append(events, userEvent("LOGIN_ERROR", "bob", "", "203.0.113.20", "user_not_found"))
	}
	events = append(events,
		userEvent("REGISTER_ERROR", "carol", "", "203.0.113.30", "invalid_registration"),
		userEvent("LOGIN", "alice", "u-alice", "203.0.113.10", ""))
	for _, typ := range []string{"CODE_TO_TOKEN", "REFRESH_TOKEN", "LOGOUT", "REGISTER", "UPDATE_PASSWORD",
		"CLIENT_LOGIN", "SEND_RESET_PASSWORD", "UPDATE_TOTP"} {
		events = append(events, userEvent(typ, "erin", "u-erin", "192.0.2.50", ""))
	}
	for _, a := range []struct{ resource, op, representation string }{
		{"USER", "CREATE", `{"id":"u-dave","username":"dave","enabled":true}`},
		{"USER", "UPDATE", `{"id":"u-erin","enabled":false}`},
		{"USER", "DELETE", ""},
		{"CLIENT", "UPDATE", `{"clientId":"web-portal"}`},
		{"GROUP_MEMBERSHIP", "CREATE", `{"name":"staff"}`},
		{"REALM_ROLE_MAPPING", "CREATE", `[{"name":"admin"}]`},
		{"CLIENT", "CREATE", `{"clientId":"billing-api"}`},
	} {
		seq++
		events = append(events, &kete.Event{
			Kind: kete.KindAdminEvent, ID: fmt.Sprintf("evt-%d", seq), Time: now, RealmID: "r-acme", RealmName: "acme",
			ResourceType: a.resource, OperationType: a.op, ResourcePath: "users/x", Representation: a.representation,
			AuthDetails: &kete.AuthDetails{RealmID: "r-master", ClientID: "admin-cli", UserID: "admin-uuid", IPAddress: "198.51.100.7"},
		})
	}

	types := map[string]bool{}
	errors := 0
	for _, e := range events {
		topic := "events"
		typ := e.Type
		if e.Kind == kete.KindAdminEvent {
			topic, typ = "audit", e.ResourceType+"_"+e.OperationType
		}
		types[typ] = true
		if e.Error != "" {
			errors++
		}
		app.publish(t, topic, serialize(t, "json", e))
	}
	typeList := make([]string, 0, len(types))
	for typ := range types {
		typeList = append(typeList, typ)
	}
	script.send(t, map[string]any{
		"step": "published", "total": len(events), "errors": errors, "types": typeList,
		"users":  map[string]int{"alice": 4, "bob": 2, "carol": 1, "erin": 8},
		"byUser": [][]any{{"alice", 3}, {"bob", 2}, {"carol", 1}},
		"byIP":   [][]any{{"203.0.113.10", 3}, {"203.0.113.20", 2}, {"203.0.113.30", 1}},
	})

	done := script.expect(ctx, t, "done")
	if err := script.cmd.Wait(); err != nil {
		t.Fatalf("node script: %v\nstderr:\n%s", err, script.stderr)
	}
	list, _ := done["screenshots"].([]any)
	if len(list) != 2 {
		t.Fatalf("want 2 screenshots, got %v", done["screenshots"])
	}
	for _, s := range list {
		shot, _ := s.(string)
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			t.Fatalf("screenshot %q not written: %v", shot, err)
		}
		t.Logf("dashboard screenshot: %s", shot)
	}
}
