package destination

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/template"
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
