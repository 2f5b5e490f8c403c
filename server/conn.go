package server

import (
	"bytes"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/lxzan/gws"
)

// session is what a connection's token granted; replaced whole on refresh. It is kept
// small: one lives as long as its connection (the "client" JSON that frames a connection
// publishes carry is built by appendClient when needed, not kept).
type session struct {
	subject     string
	permissions []string
	expires     int64 // unix nanoseconds; 0: never
}

// conn is what every WebSocket connection on a hub shares: its socket and writer (the
// embedded wsWriter), its identity and session, its liveness and its subscriptions. Its
// kind — a Realtime client (clientConn), an ingest publisher (ingestConn) or a Drogue
// consumer (consumerState) — holds what only that kind keeps and does, so that no code
// asks which kind a connection is.
type conn struct {
	wsWriter
	id  string
	hub *hub
	ws  *gws.Conn

	sess     atomic.Pointer[session]
	lastSeen atomic.Int64 // server coarse clock, unix nanoseconds
	lastPing int64        // owned by the sweeper goroutine

	kind    connKind // set before the upgrade, then only read
	deflate bool     // negotiated permessage-deflate (deflate.go); set before registration

	// topics is guarded by hub.mu.
	topics []string
}

// connKind is what differs between the kinds of connection, from the upgrade to the
// close. Its methods run on the connection's own goroutines: the upgrading request's,
// then its read loop's.
type connKind interface {
	// upgrade returns the read buffer size for a default of readBuffer, and whether
	// permessage-deflate is offered.
	upgrade(readBuffer int) (size int, deflate bool)
	// reservedSubject is the one-connection-per-user slot c's reservation holds ("": none).
	reservedSubject(c *conn) string
	// register turns c's reservation into a registered connection; r is its upgrade.
	register(s *Server, c *conn, r *http.Request)
	// unregister forgets c; it reports whether c was registered.
	unregister(c *conn) bool
	// opened runs when the read loop starts; closed after the socket went away.
	opened(s *Server, c *conn)
	closed(s *Server, c *conn)
	// frame runs one frame the peer sent.
	frame(s *Server, c *conn, binary bool, b []byte)
}

func (c *conn) session() *session { return c.sess.Load() }

// isClient reports whether c speaks the Realtime Pub/Sub protocol (the roster counts
// only those).
func (c *conn) isClient() bool {
	_, ok := c.kind.(*clientConn)
	return ok
}

// gwsConn is a client's socket as gws sees it. Once the upgrade is answered, gws writes
// only close frames of its own (answering a client's close, or after a protocol error)
// and then closes the socket; both go through the connection's send path here, after
// whatever the server has queued, so that gws's frame never lands inside a frame the
// server has partly written, and the socket closes once the queue is out.
type gwsConn struct {
	net.Conn
	c *conn // nil while the upgrade response is written
}

// Write queues a copy of gws's frame (gws reuses its buffer) behind the server's.
func (g *gwsConn) Write(b []byte) (int, error) {
	if g.c == nil {
		return g.Conn.Write(b)
	}
	g.c.send(bytes.Clone(b))
	return len(b), nil
}

// Close closes the socket once what is queued is written (within CloseGrace).
func (g *gwsConn) Close() error {
	if g.c == nil {
		return g.Conn.Close()
	}
	g.c.closeWhenWritten()
	return nil
}

// connSession is the gws SessionStorage of every connection: one slot holding our conn,
// far smaller than gws's default map.
type connSession struct{ c *conn }

func (s *connSession) Len() int {
	if s.c == nil {
		return 0
	}
	return 1
}

func (s *connSession) Load(key string) (any, bool) {
	if key != "conn" || s.c == nil {
		return nil, false
	}
	return s.c, true
}

func (s *connSession) Delete(key string) {
	if key == "conn" {
		s.c = nil
	}
}

func (s *connSession) Store(key string, value any) {
	if c, ok := value.(*conn); ok && key == "conn" {
		s.c = c
	}
}

func (s *connSession) Range(f func(key string, value any) bool) {
	if s.c != nil {
		f("conn", s.c)
	}
}
