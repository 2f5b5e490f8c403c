package destination

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/testcerts"
	"github.com/kete-dev/kete/pool"
	"github.com/kete-dev/kete/template"
	"github.com/lxzan/gws"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newDestination compiles url and starts a destination closed at the end of the test.
func newDestination(t testing.TB, url string, o WebSocketOptions) *WebSocket {
	t.Helper()
	tmpl, err := template.Compile(url)
	if err != nil {
		t.Fatalf("compile %q: %v", url, err)
	}
	o.URL = tmpl
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	d, err := NewWebSocket(o)
	if err != nil {
		t.Fatalf("NewWebSocket: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func login(realm string) *kete.Event {
	return &kete.Event{Kind: kete.KindEvent, ID: "ev-" + realm, Type: "LOGIN", RealmName: realm}
}

// sendAsync runs Send in a goroutine and hands back its result.
func sendAsync(ctx context.Context, d kete.Destination, e *kete.Event, body []byte) <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.Send(ctx, e, body) }()
	return done
}

// result waits for an asynchronous Send, failing the test after within.
func result(t testing.TB, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("Send did not return within %s", within)
		return nil
	}
}

// fakeTokens hands out tokens in order, moving to the next one on Invalidate.
type fakeTokens struct {
	mu            sync.Mutex
	tokens        []string
	next          int
	calls         int
	invalidations int
}

func (f *fakeTokens) Token(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.tokens[min(f.next, len(f.tokens)-1)], nil
}

func (f *fakeTokens) Invalidate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidations++
	f.next++
}

func (f *fakeTokens) counts() (calls, invalidations int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.invalidations
}

func TestSendRendersURLPerEvent(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events/${realmLowerCase}/${eventTypeKebabCase}?realm=${realmUpperCase}", WebSocketOptions{})
	tests := []struct {
		event *kete.Event
		path  string
	}{
		{login("master"), "/events/master/login?realm=MASTER"},
		{&kete.Event{Kind: kete.KindAdminEvent, ID: "a1", RealmName: "Acme Corp", ResourceType: "USER", OperationType: "CREATE"},
			"/events/acme%20corp/user-create?realm=ACME+CORP"},
		{login("a/b&c"), "/events/a%2Fb&c/login?realm=A%2FB%26C"},
		{login("master"), "/events/master/login?realm=MASTER"},
	}
	ctx := testContext(t)
	for _, tt := range tests {
		body := fmt.Sprintf(`{"id":%q}`, tt.event.ID)
		if err := d.Send(ctx, tt.event, []byte(body)); err != nil {
			t.Fatalf("send %s: %v", tt.event.ID, err)
		}
		f := srv.next(t)
		if f.path != tt.path || f.data != body || f.op != gws.OpcodeText {
			t.Errorf("event %s arrived as %+v, want path %s, text %s", tt.event.ID, f, tt.path, body)
		}
	}
	d.mu.Lock()
	pools := len(d.endpoints)
	d.mu.Unlock()
	if pools != 3 {
		t.Errorf("%d pools, want one per rendered URL (3)", pools)
	}
	if _, _, opened, _ := srv.stats(); opened != 3 {
		t.Errorf("server saw %d connections, want 3", opened)
	}
}

func TestHandshakeHeadersAndToken(t *testing.T) {
	srv := newTestServer(t, serverOptions{subprotocols: []string{"kete.v1"}})
	tokens := &fakeTokens{tokens: []string{"tok-1"}}
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		Headers:      http.Header{"X-Tenant": {"acme"}},
		Subprotocols: []string{"other", "kete.v1"},
		Token:        tokens,
	})
	if err := d.Send(testContext(t), login("master"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	h := srv.handshake(0)
	for name, want := range map[string]string{
		"Authorization":          "Bearer tok-1",
		"X-Tenant":               "acme",
		"Sec-Websocket-Protocol": "other, kete.v1",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("first handshake %s = %q, want %q", name, got, want)
		}
	}
	d.mu.Lock()
	for c := range d.conns {
		if got := c.ws.SubProtocol(); got != "kete.v1" {
			t.Errorf("negotiated subprotocol %q, want kete.v1", got)
		}
	}
	d.mu.Unlock()
}

func TestPoolNeverExceedsMaxTotal(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	const maxTotal, senders, each = 4, 50, 20
	d := newDestination(t, srv.url+"/events", WebSocketOptions{Pool: PoolOptions{MaxTotal: maxTotal, MaxIdle: maxTotal}})
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				if err := d.Send(ctx, login("master"), fmt.Appendf(nil, `{"n":"%d-%d"}`, i, j)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}
	waitFor(t, "every frame", func() bool { return srv.count.Load() == senders*each })
	if _, maxOpen, opened, _ := srv.stats(); maxOpen > maxTotal || opened > maxTotal {
		t.Errorf("server saw %d connections open at once (%d in all), max-total %d", maxOpen, opened, maxTotal)
	}
}

func TestUnreachableServer(t *testing.T) {
	url := "ws://" + closedPort(t) + "/events"
	d := newDestination(t, url, WebSocketOptions{ConnectTimeout: time.Minute})
	err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), url) {
		t.Errorf("send to a closed port: %v, want connection refused naming %s", err, url)
	}
}

func TestHandshakeNeverCompletes(t *testing.T) {
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			d := newDestination(t, scheme+"://"+silentListener(t)+"/events", WebSocketOptions{ConnectTimeout: 200 * time.Millisecond})
			// The caller's ctx is far off: only ConnectTimeout can end this within 3s.
			err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 3*time.Second)
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("send: %v, want a timeout", err)
			}
		})
	}
}

func TestServerClosesMidStream(t *testing.T) {
	srv := newTestServer(t, serverOptions{closeAfter: 1})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{})
	ctx := testContext(t)
	for i := range 5 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		if err := d.Send(ctx, login("master"), []byte(body)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if f := srv.next(t); f.data != body {
			t.Fatalf("frame %q, want %q", f.data, body)
		}
		// The server closes after each frame; once the client has seen the close, the
		// next event must go out on a new connection.
		waitFor(t, "the client to see the close", func() bool { return d.openConns() == 0 })
	}
	if _, _, opened, _ := srv.stats(); opened != 5 {
		t.Errorf("server saw %d connections, want 5", opened)
	}
}

func TestWriteErrorRetriesOnFreshConnection(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{Pool: PoolOptions{MaxTotal: 1}})
	ctx := testContext(t)
	if err := d.Send(ctx, login("master"), []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	// Break the idle connection so that its next write fails, as a peer reset would.
	var old *conn
	d.mu.Lock()
	for c := range d.conns {
		old = c
	}
	d.mu.Unlock()
	_ = old.ws.NetConn().Close()
	if err := d.Send(ctx, login("master"), []byte(`{"n":2}`)); err != nil {
		t.Fatalf("send after the connection broke: %v", err)
	}
	if f := srv.next(t); f.data != `{"n":2}` {
		t.Errorf("frame %q", f.data)
	}
	if _, _, opened, _ := srv.stats(); opened != 2 {
		t.Errorf("server saw %d connections, want 2", opened)
	}
}

func TestLostPeerDetectedAndReplaced(t *testing.T) {
	const lost = 300 * time.Millisecond
	for _, tt := range []struct {
		name string
		o    serverOptions
	}{
		{"no pong", serverOptions{noPong: true}},
		{"stopped reading", serverOptions{stall: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, tt.o)
			d := newDestination(t, srv.url+"/events", WebSocketOptions{
				ConnectionLostTimeout: lost,
				Pool:                  PoolOptions{MinIdle: 1},
			})
			waitFor(t, "the min-idle connection", func() bool { return d.openConns() == 1 })
			var first *conn
			d.mu.Lock()
			for c := range d.conns {
				first = c
			}
			d.mu.Unlock()
			// Detected within the lost timeout plus one ping interval; allow 10x for a busy host.
			deadline := time.Now().Add(10 * lost)
			for !first.closed.Load() {
				if time.Now().After(deadline) {
					t.Fatalf("dead peer not detected within %s", 10*lost)
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("dead peer detected %s after connecting (lost timeout %s)", time.Since(first.born).Round(time.Millisecond), lost)
			waitFor(t, "a replacement connection", func() bool {
				_, _, opened, _ := srv.stats()
				return opened >= 2
			})
			if !tt.o.stall {
				if err := d.Send(testContext(t), login("master"), []byte(`{"after":"loss"}`)); err != nil {
					t.Fatalf("send after the loss: %v", err)
				}
				if f := srv.next(t); f.data != `{"after":"loss"}` {
					t.Errorf("frame %q", f.data)
				}
			}
		})
	}
}

// A peer that stops reading while a large frame is being written blocks that write, and
// with it gws's close path; the heartbeat must still cut the connection.
func TestLostPeerCutsStuckWrite(t *testing.T) {
	srv := newTestServer(t, serverOptions{stall: true})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		BinaryMode:            true,
		ConnectionLostTimeout: 300 * time.Millisecond,
	})
	big := bytes.Repeat([]byte("x"), 15<<20)
	err := result(t, sendAsync(context.Background(), d, login("master"), big), 10*time.Second)
	if err == nil {
		t.Fatal("a write to a peer that stopped reading succeeded")
	}
	t.Logf("stuck write ended with: %v", err)
	if _, _, opened, _ := srv.stats(); opened != 2 {
		t.Errorf("server saw %d connections, want 2 (the write is retried once)", opened)
	}
}

func TestHeartbeatKeepsHealthyConnection(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	const lost = 150 * time.Millisecond
	d := newDestination(t, srv.url+"/events", WebSocketOptions{ConnectionLostTimeout: lost, Pool: PoolOptions{MinIdle: 1}})
	waitFor(t, "the min-idle connection", func() bool { return d.openConns() == 1 })
	var c *conn
	d.mu.Lock()
	for x := range d.conns {
		c = x
	}
	d.mu.Unlock()
	// Several lost timeouts pass; pongs keep the connection alive.
	waitFor(t, "pongs across 4 lost timeouts", func() bool {
		return time.Duration(c.lastSeen.Load()) > 4*lost
	})
	if c.closed.Load() {
		t.Fatal("a healthy connection was closed")
	}
	if _, _, opened, _ := srv.stats(); opened != 1 {
		t.Errorf("server saw %d connections, want 1", opened)
	}
}

func TestHandshake401RetriesWithFreshToken(t *testing.T) {
	const stale, fresh = "tok-stale-3f9a", "tok-fresh-7c21"
	tests := []struct {
		name                     string
		tokens                   []string
		wantErr                  bool
		wantCalls, wantHandshake int
	}{
		{"stale then fresh", []string{stale, fresh}, false, 2, 2},
		{"fresh one refused too", []string{stale, "tok-also-stale-91b0"}, true, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, serverOptions{refuse: func(r *http.Request) int {
				if r.Header.Get("Authorization") != "Bearer "+fresh {
					return http.StatusUnauthorized
				}
				return 0
			}})
			tokens := &fakeTokens{tokens: tt.tokens}
			var logs bytes.Buffer
			d := newDestination(t, srv.url+"/events", WebSocketOptions{
				Token:  tokens,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			err := d.Send(testContext(t), login("master"), []byte("{}"))
			if tt.wantErr != (err != nil) {
				t.Fatalf("send: %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "401") {
				t.Errorf("error %q does not name the status", err)
			}
			if !tt.wantErr {
				srv.next(t)
			}
			calls, invalidations := tokens.counts()
			if calls != tt.wantCalls || invalidations != 1 {
				t.Errorf("Token called %d times, Invalidate %d; want %d and 1", calls, invalidations, tt.wantCalls)
			}
			srv.mu.Lock()
			n := len(srv.handshakes)
			srv.mu.Unlock()
			if n != tt.wantHandshake {
				t.Errorf("%d handshakes, want %d", n, tt.wantHandshake)
			}
			if got := srv.handshake(0).Get("Authorization"); got != "Bearer "+stale {
				t.Errorf("first handshake Authorization %q", got)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			for _, tok := range tt.tokens {
				if strings.Contains(logs.String(), tok) || (err != nil && strings.Contains(err.Error(), tok)) {
					t.Errorf("token %s appears in the logs or the error", tok)
				}
			}
			if !strings.Contains(logs.String(), "401") {
				t.Errorf("the 401 retry was not logged:\n%s", logs.String())
			}
		})
	}
}

func TestTLS(t *testing.T) {
	certs := testcerts.New(t)
	other := testcerts.New(t)
	tests := []struct {
		name       string
		clientAuth tls.ClientAuthType
		client     *tls.Config
		wantErr    string
	}{
		{"trusted", tls.NoClientCert, certs.ClientConfig(false), ""},
		{"untrusted certificate", tls.NoClientCert, other.ClientConfig(false), "certificate"},
		{"nil config uses system roots", tls.NoClientCert, nil, "certificate"},
		{"mtls without client certificate", tls.RequireAndVerifyClientCert, certs.ClientConfig(false), "certificate"},
		{"mtls with client certificate", tls.RequireAndVerifyClientCert, certs.ClientConfig(true), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, serverOptions{tls: certs.ServerConfig(tt.clientAuth)})
			d := newDestination(t, srv.url+"/secure", WebSocketOptions{TLS: tt.client})
			err := d.Send(testContext(t), login("master"), []byte(`{"tls":true}`))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if f := srv.next(t); f.data != `{"tls":true}` {
					t.Errorf("frame %q", f.data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("send: %v, want an error about %q", err, tt.wantErr)
			}
			srv.noFrame(t)
		})
	}
}

func TestTLSConfigNotShared(t *testing.T) {
	certs := testcerts.New(t)
	srv := newTestServer(t, serverOptions{tls: certs.ServerConfig(tls.NoClientCert)})
	cfg := certs.ClientConfig(false)
	d := newDestination(t, srv.url+"/secure", WebSocketOptions{TLS: cfg})
	if err := d.Send(testContext(t), login("master"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "" {
		t.Errorf("Send wrote ServerName %q into the caller's tls.Config", cfg.ServerName)
	}
}

// stuckSend starts a Send of a body too big for the socket buffers to a server that does
// not read, and waits until its connection is open: the send then holds that connection.
func stuckSend(t *testing.T, d *WebSocket, srv *testServer) <-chan error {
	t.Helper()
	big := bytes.Repeat([]byte("x"), 15<<20)
	done := sendAsync(context.Background(), d, login("master"), big)
	waitFor(t, "the stuck send's connection", func() bool {
		open, _, _, _ := srv.stats()
		return open == 1 && d.static.pool.Stats().Idle == 0
	})
	return done
}

func TestPoolExhausted(t *testing.T) {
	srv := newTestServer(t, serverOptions{stall: true})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{
		BinaryMode: true,
		Pool:       PoolOptions{MaxTotal: 1, MaxWait: 100 * time.Millisecond},
	})
	stuck := stuckSend(t, d, srv)
	err := result(t, sendAsync(testContext(t), d, login("master"), []byte("{}")), 5*time.Second)
	if !errors.Is(err, pool.ErrExhausted) || !strings.Contains(err.Error(), "max-total 1") {
		t.Errorf("send to an exhausted pool: %v, want ErrExhausted naming max-total", err)
	}
	if err := d.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if err := result(t, stuck, 10*time.Second); err == nil {
		t.Error("the stuck send succeeded after Close cut its connection")
	}
}

func TestContextEndsMidSend(t *testing.T) {
	t.Run("write cancelled", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		big := bytes.Repeat([]byte("x"), 15<<20)
		done := sendAsync(ctx, d, login("master"), big)
		waitFor(t, "the connection", func() bool { open, _, _, _ := srv.stats(); return open == 1 })
		cancel()
		if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
	})
	t.Run("write cancelled after sends under the same ctx", func(t *testing.T) {
		// The connection keeps one watch on a ctx its sends share: it must still cut
		// the write under way when that ctx ends.
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for range 3 {
			if err := d.Send(ctx, login("master"), []byte("{}")); err != nil {
				t.Fatalf("small send: %v", err)
			}
		}
		d.mu.Lock()
		var w *cancelWatch
		for c := range d.conns {
			w = c.watch // set by the sends above, kept by the next one (same ctx)
		}
		d.mu.Unlock()
		if w == nil {
			t.Fatal("the connection keeps no watch on the sends' ctx")
		}
		big := bytes.Repeat([]byte("x"), 15<<20)
		done := sendAsync(ctx, d, login("master"), big)
		waitFor(t, "the big write to start", func() bool { return w.state.Load() == watchWriting })
		cancel()
		if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
	})
	t.Run("write deadline", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		big := bytes.Repeat([]byte("x"), 15<<20)
		err := result(t, sendAsync(ctx, d, login("master"), big), 5*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("send: %v, want a deadline error", err)
		}
	})
	t.Run("waiting for a connection", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{stall: true})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{
			BinaryMode: true,
			Pool:       PoolOptions{MaxTotal: 1, MaxWait: time.Minute},
		})
		stuck := stuckSend(t, d, srv)
		ctx, cancel := context.WithCancel(context.Background())
		done := sendAsync(ctx, d, login("master"), []byte("{}"))
		cancel()
		if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
		_ = d.Close()
		_ = result(t, stuck, 10*time.Second)
	})
	t.Run("already cancelled", func(t *testing.T) {
		srv := newTestServer(t, serverOptions{})
		d := newDestination(t, srv.url+"/events", WebSocketOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.Send(ctx, login("master"), []byte("{}")); !errors.Is(err, context.Canceled) {
			t.Errorf("send: %v, want context.Canceled", err)
		}
		if _, _, opened, _ := srv.stats(); opened != 0 {
			t.Errorf("a cancelled send opened %d connections", opened)
		}
	})
}

func TestTextModeRejectsInvalidUTF8(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{})
	ctx := testContext(t)
	e := login("master")
	e.ID = "ev-42"
	err := d.Send(ctx, e, []byte("{\"x\":\"\xff\xfe\"}"))
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), "ev-42") || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("send of invalid UTF-8: %v, want a permanent error naming ev-42", err)
	}
	if err := d.Send(ctx, login("master"), []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	if f := srv.next(t); f.data != `{"ok":true}` {
		t.Errorf("first frame the server saw is %q: the invalid body was sent", f.data)
	}
}

func TestBinaryMode(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
	body := []byte{0xff, 0x00, 0xfe, 'k', 'e', 't', 'e'}
	if err := d.Send(testContext(t), login("master"), body); err != nil {
		t.Fatal(err)
	}
	if f := srv.next(t); f.op != gws.OpcodeBinary || f.data != string(body) {
		t.Errorf("frame %+v, want binary %q", f, body)
	}
}

func TestCloseThenSend(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events/${realmLowerCase}", WebSocketOptions{ConnectionLostTimeout: time.Minute, Pool: PoolOptions{MinIdle: 1}})
	ctx := testContext(t)
	for _, realm := range []string{"a", "b"} {
		if err := d.Send(ctx, login(realm), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if n := d.openConns(); n != 0 {
		t.Errorf("%d connections open after Close", n)
	}
	waitFor(t, "the server to see every connection closed", func() bool {
		open, _, _, _ := srv.stats()
		return open == 0
	})
	if err := d.Send(ctx, login("a"), []byte("{}")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestNewWebSocketRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name, url string
		o         WebSocketOptions
		want      string
	}{
		{"http scheme", "http://127.0.0.1/x", WebSocketOptions{}, "ws:// or wss://"},
		{"no host", "ws:///x", WebSocketOptions{}, "no host"},
		{"negative lost timeout", "ws://127.0.0.1/x", WebSocketOptions{ConnectionLostTimeout: -time.Second}, "negative"},
		{"password masked", "ftp://user:hunter2@127.0.0.1/x", WebSocketOptions{}, "ws://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := template.Compile(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			tt.o.URL = tmpl
			_, err = NewWebSocket(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("NewWebSocket(%s): %v, want an error about %q", tt.url, err, tt.want)
			}
		})
	}
	if _, err := NewWebSocket(WebSocketOptions{}); err == nil {
		t.Error("NewWebSocket without a URL succeeded")
	}
}

func TestRenderedURLWithoutHostIsPermanent(t *testing.T) {
	d := newDestination(t, "ws://${realmLowerCase}/x", WebSocketOptions{})
	err := d.Send(testContext(t), login(""), []byte("{}"))
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), "no host") {
		t.Errorf("send: %v, want a permanent error about the host", err)
	}
}

// An ended ctx, or the deadline of an earlier send, must not touch the next send on the
// same connection.
func TestEndedContextLeavesTheConnectionUsable(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{})
	send := func(ctx context.Context, body string) {
		t.Helper()
		if err := d.Send(ctx, login("master"), []byte(body)); err != nil {
			t.Fatalf("send %s: %v", body, err)
		}
		if f := srv.next(t); f.data != body {
			t.Fatalf("server got %q, want %q", f.data, body)
		}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	send(first, "1")
	second, cancelSecond := context.WithCancel(context.Background())
	defer cancelSecond()
	send(second, "2")
	cancelFirst() // the connection watched first; it now watches second
	send(second, "3")
	cancelSecond() // ends while the connection is idle
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	send(short, "4")
	<-short.Done() // its deadline is now in the past, and was the socket's
	send(context.Background(), "5")
	send(testContext(t), "6")
	if _, _, opened, _ := srv.stats(); opened != 1 {
		t.Errorf("%d connections opened, want the first one reused throughout", opened)
	}
}
