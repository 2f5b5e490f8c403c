package destination

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// frame is one message a testServer received.
type frame struct {
	path string // request URI of the connection, escaped as sent
	op   gws.Opcode
	data string
}

// serverOptions change how a testServer behaves.
type serverOptions struct {
	tls *tls.Config
	// subprotocols the server accepts.
	subprotocols []string
	// refuse, when set, answers a handshake with that status instead of upgrading.
	refuse func(r *http.Request) int
	// noPong makes the server ignore pings (a peer that stopped answering).
	noPong bool
	// stall makes the server stop reading after the handshake (a peer that hangs).
	stall bool
	// closeAfter closes each connection after it has received that many frames.
	closeAfter int
	// maxPayload is gws's ReadMaxPayloadSize: a bigger frame is answered with close 1009.
	maxPayload int
	// ack answers every frame with the bundled server's ingest ack, for ?ack=1 URLs.
	ack bool
	// addr, when set, is the host:port to listen on (a server restarted where it was).
	addr string
}

// testServer is a gws server on 127.0.0.1 that records handshakes and frames and counts
// open connections, so tests can check what a destination did from the server's side.
type testServer struct {
	t    testing.TB
	o    serverOptions
	http *httptest.Server
	up   *gws.Upgrader
	url  string // ws://127.0.0.1:port or wss://…

	frames chan frame // every frame, in arrival order per connection
	count  atomic.Int64

	mu         sync.Mutex
	handshakes []http.Header
	open       int
	maxOpen    int
	opened     int
	closed     int
	conns      map[*gws.Conn]bool
	unstall    chan struct{}
}

func newTestServer(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	s := &testServer{
		t:       t,
		o:       o,
		frames:  make(chan frame, 1<<16),
		conns:   map[*gws.Conn]bool{},
		unstall: make(chan struct{}),
	}
	s.up = gws.NewUpgrader(s, &gws.ServerOption{SubProtocols: o.subprotocols, ReadMaxPayloadSize: o.maxPayload})
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	if o.addr != "" {
		ln, err := net.Listen("tcp", o.addr)
		if err != nil {
			t.Fatalf("listen on %s again: %v", o.addr, err)
		}
		_ = s.http.Listener.Close()
		s.http.Listener = ln
	}
	if o.tls != nil {
		s.http.TLS = o.tls
		s.http.StartTLS()
		s.url = "wss://" + s.http.Listener.Addr().String()
	} else {
		s.http.Start()
		s.url = "ws://" + s.http.Listener.Addr().String()
	}
	t.Cleanup(s.close)
	return s
}

func (s *testServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.handshakes = append(s.handshakes, r.Header.Clone())
	s.mu.Unlock()
	if s.o.refuse != nil {
		if status := s.o.refuse(r); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	c, err := s.up.Upgrade(w, r)
	if err != nil {
		return
	}
	c.Session().Store("path", r.RequestURI)
	c.Session().Store("frames", new(int))
	go c.ReadLoop()
}

func (s *testServer) OnOpen(c *gws.Conn) {
	s.mu.Lock()
	s.open++
	s.opened++
	s.maxOpen = max(s.maxOpen, s.open)
	s.conns[c] = true
	s.mu.Unlock()
	if s.o.stall {
		<-s.unstall // ReadLoop runs OnOpen first: nothing is read until cleanup
	}
}

func (s *testServer) OnClose(c *gws.Conn, err error) {
	s.mu.Lock()
	s.open--
	s.closed++
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *testServer) OnPing(c *gws.Conn, p []byte) {
	if !s.o.noPong {
		_ = c.WritePong(p)
	}
}

func (s *testServer) OnPong(*gws.Conn, []byte) {}

func (s *testServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	path, _ := c.Session().Load("path")
	s.frames <- frame{path: path.(string), op: m.Opcode, data: m.Data.String()}
	s.count.Add(1)
	n, _ := c.Session().Load("frames")
	*n.(*int)++
	if s.o.ack {
		_ = c.WriteMessage(gws.OpcodeText, fmt.Appendf(nil, `{"type":"ack","seq":%d,"status":"ok"}`, *n.(*int)))
	}
	if s.o.closeAfter > 0 && *n.(*int) >= s.o.closeAfter {
		_ = c.WriteClose(1000, []byte("enough"))
	}
}

func (s *testServer) close() {
	select {
	case <-s.unstall:
	default:
		close(s.unstall)
	}
	s.http.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.NetConn().Close()
	}
	s.mu.Unlock()
}

// next waits for the next frame.
func (s *testServer) next(t testing.TB) frame {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame arrived within 10s")
		return frame{}
	}
}

// noFrame checks that no frame is waiting to be read.
func (s *testServer) noFrame(t testing.TB) {
	t.Helper()
	select {
	case f := <-s.frames:
		t.Errorf("unexpected frame %+v", f)
	default:
	}
}

func (s *testServer) stats() (open, maxOpen, opened, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.maxOpen, s.opened, s.closed
}

func (s *testServer) handshake(i int) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.handshakes) {
		s.t.Fatalf("handshake %d: only %d seen", i, len(s.handshakes))
	}
	return s.handshakes[i]
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// silentListener accepts TCP connections and never answers: a server that hangs in the
// handshake.
func silentListener(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}
