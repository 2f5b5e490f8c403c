package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server/auth"
)

// Test keys: HMAC secrets long enough for HS256.
const (
	secretA     = "app-a-client-secret-0123456789abcdef"
	secretAdmin = "app-a-admin-secret-0123456789abcdef!"
	secretB     = "app-b-client-secret-0123456789abcdef"
)

const waitLimit = 10 * time.Second

func hsKey(secret string) auth.Key {
	return auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}}
}

// testApp returns an enabled app "a" with client and admin keys.
func testApp(id, secret string) App {
	return App{
		AppID: id, Name: "test " + id, Enabled: true,
		AuthKey:  hsKey(secret),
		AdminKey: hsKey(secretAdmin),
	}
}

// mint signs an HS256 token with secret.
func mint(t testing.TB, secret, sub string, ttl time.Duration, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: ttl, Permissions: perms})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// mintAt signs an HS256 token issued at clock's now, for servers that run on that clock.
func mintAt(t testing.TB, clock *fakeClock, secret, sub string, ttl time.Duration, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: ttl, Permissions: perms, IssuedAt: clock.Now()})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// mintExpired signs a token that expired an hour ago.
func mintExpired(t testing.TB, secret, sub string) string {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: sub, TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// startServer runs a Server for apps behind httptest on 127.0.0.1.
func startServer(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = -1
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return s, hs
}

func wsURL(hs *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(hs.URL, "http") + path
}

// tframe is one frame a test client received.
type tframe struct {
	Binary      bool
	Raw         []byte
	Topic       string          `json:"topic"`
	MessageType string          `json:"messageType"`
	Data        json.RawMessage `json:"data"`
}

// testClient is a gws client that records frames on a channel and its close on another.
type testClient struct {
	t      testing.TB
	c      *gws.Conn
	frames chan tframe
	done   chan struct{}
	mu     sync.Mutex
	err    error
	gate   chan struct{} // when set, OnMessage waits until it is closed
	id     string        // connection id from the welcome frame
	pings  atomic.Int64
}

func (tc *testClient) OnOpen(*gws.Conn)             {}
func (tc *testClient) OnPing(c *gws.Conn, p []byte) { tc.pings.Add(1); _ = c.WritePong(p) }
func (tc *testClient) OnPong(*gws.Conn, []byte)     {}
func (tc *testClient) OnClose(_ *gws.Conn, err error) {
	tc.mu.Lock()
	tc.err = err
	tc.mu.Unlock()
	close(tc.done)
}
func (tc *testClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	if tc.gate != nil {
		<-tc.gate
	}
	f := tframe{Binary: m.Opcode == gws.OpcodeBinary, Raw: append([]byte(nil), m.Bytes()...)}
	_ = json.Unmarshal(f.Raw, &f)
	select {
	case tc.frames <- f:
	default:
		tc.t.Errorf("test client: frame buffer full, dropping %s", f.Raw)
	}
}

// dialOpts tune dial.
type dialOpts struct {
	header http.Header
	gate   chan struct{}
	rcvBuf int
}

// dial connects to url; it returns the HTTP response on a refused upgrade.
func dial(t testing.TB, url string, o dialOpts) (*testClient, *http.Response, error) {
	t.Helper()
	tc := &testClient{t: t, frames: make(chan tframe, 8192), done: make(chan struct{}), gate: o.gate}
	c, resp, err := gws.NewClient(tc, clientOption(url, o))
	if err != nil {
		return nil, resp, err
	}
	tc.c = c
	go c.ReadLoop()
	closeAtCleanup(t, c, tc.gate, tc.done)
	return tc, resp, nil
}

// clientOption is the gws client option of url with o's header and receive buffer.
func clientOption(url string, o dialOpts) *gws.ClientOption {
	copt := &gws.ClientOption{Addr: url, RequestHeader: o.header}
	if o.rcvBuf > 0 {
		size := o.rcvBuf
		copt.NewDialer = func() (gws.Dialer, error) {
			return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
				})
				return errors.Join(err, serr)
			}}, nil
		}
	}
	return copt
}

// closeAtCleanup opens gate (a client held from reading), closes c and waits until done
// says its read loop ended, when the test ends.
func closeAtCleanup(t testing.TB, c *gws.Conn, gate chan struct{}, done <-chan struct{}) {
	t.Cleanup(func() {
		if gate != nil {
			select {
			case <-gate:
			default:
				close(gate)
			}
		}
		_ = c.WriteClose(1000, nil)
		select {
		case <-done:
		case <-time.After(waitLimit):
		}
	})
}

// connect dials app with token and waits for the welcome frame.
func connect(t testing.TB, hs *httptest.Server, app, token string) *testClient {
	t.Helper()
	tc, resp, err := dial(t, wsURL(hs, "/apps/"+app+"?access_token="+token), dialOpts{})
	if err != nil {
		t.Fatalf("connect %s: %v (status %v)", app, err, status(resp))
	}
	w := tc.waitFor("main", "welcome")
	var d struct {
		Connection struct{ ID, AppID, RemoteAddress string } `json:"connection"`
	}
	if err := json.Unmarshal(w.Data, &d); err != nil || d.Connection.ID == "" {
		t.Fatalf("welcome frame %s: %v", w.Raw, err)
	}
	tc.id = d.Connection.ID
	return tc
}

// mustBeRegistered checks that connection id is in app's hub: a client that has its
// welcome frame is registered (open sends the welcome and registers under one lock), so
// a sweep or a publish right after connect sees it.
func mustBeRegistered(t testing.TB, s *Server, app, id string) {
	t.Helper()
	_, h := s.app(app)
	if h == nil {
		t.Fatalf("no hub for app %s", app)
	}
	if h.connection(id) == nil {
		t.Fatalf("connection %s has its welcome but is not registered", id)
	}
}

func status(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

func (tc *testClient) send(v any) {
	tc.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tc.t.Fatal(err)
	}
	if err := tc.c.WriteMessage(gws.OpcodeText, b); err != nil {
		tc.t.Fatalf("send %s: %v", b, err)
	}
}

func (tc *testClient) sendRaw(b string) {
	tc.t.Helper()
	if err := tc.c.WriteMessage(gws.OpcodeText, []byte(b)); err != nil {
		tc.t.Fatalf("send %s: %v", b, err)
	}
}

// next returns the next frame, failing the test after waitLimit.
func (tc *testClient) next() tframe {
	tc.t.Helper()
	select {
	case f := <-tc.frames:
		return f
	case <-time.After(waitLimit):
		tc.t.Fatalf("no frame within %v", waitLimit)
	}
	return tframe{}
}

// waitFor skips frames until one on topic with messageType arrives.
func (tc *testClient) waitFor(topic, messageType string) tframe {
	tc.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case f := <-tc.frames:
			if f.Topic == topic && f.MessageType == messageType {
				return f
			}
		case <-tc.done:
			tc.t.Fatalf("closed (%v) while waiting for %s/%s", tc.closeErr(), topic, messageType)
		case <-deadline:
			tc.t.Fatalf("no %s/%s frame within %v", topic, messageType, waitLimit)
		}
	}
}

// subscribe subscribes and waits for the topic's welcome.
func (tc *testClient) subscribe(topic string) {
	tc.t.Helper()
	tc.send(map[string]any{"type": "subscribe", "data": map[string]any{"topic": topic}})
	tc.waitFor(topic, "welcome")
}

func (tc *testClient) closeErr() error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.err
}

// waitClosed waits for the connection to end and returns the close frame it got.
func (tc *testClient) waitClosed() *gws.CloseError {
	tc.t.Helper()
	select {
	case <-tc.done:
	case <-time.After(waitLimit):
		tc.t.Fatalf("connection not closed within %v", waitLimit)
	}
	var ce *gws.CloseError
	if errors.As(tc.closeErr(), &ce) {
		return ce
	}
	return &gws.CloseError{Code: 1006, Reason: []byte(fmt.Sprint(tc.closeErr()))}
}

// noFrame asserts that nothing but frames matching skip arrives before a marker frame
// (topic/messageType) that the test sends itself.
func (tc *testClient) untilMarker(topic, messageType string) []tframe {
	tc.t.Helper()
	var got []tframe
	deadline := time.After(waitLimit)
	for {
		select {
		case f := <-tc.frames:
			if f.Topic == topic && f.MessageType == messageType {
				return got
			}
			got = append(got, f)
		case <-deadline:
			tc.t.Fatalf("marker %s/%s not seen within %v", topic, messageType, waitLimit)
		}
	}
}

// apiCall makes an HTTP API request and decodes the JSON answer.
func apiCall(t testing.TB, hs *httptest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = strings.NewReader(string(j))
		}
	}
	req, _ := http.NewRequest(method, hs.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// waitUntil polls cond until it holds or waitLimit passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
