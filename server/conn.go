package server

import (
	"bytes"
	"net"
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

// conn is one WebSocket connection on a hub: a Realtime client, an ingest publisher or
// a Drogue consumer. Its outbound path is the embedded wsWriter.
type conn struct {
	wsWriter
	id  string
	hub *hub
	ws  *gws.Conn

	sess     atomic.Pointer[session]
	lastSeen atomic.Int64 // server coarse clock, unix nanoseconds
	lastPing int64        // owned by the sweeper goroutine

	ingest  bool // set before the upgrade, then only read
	deflate bool // negotiated permessage-deflate (deflate.go); set before registration

	// topics is guarded by hub.mu.
	topics []string

	// in is an ingest connection's state, touched by its read loop alone; nil for clients.
	in *ingestState
	// publishes is a client's publish rate limit, touched by its read loop alone; nil
	// until its first publish.
	publishes *publishBucket
	// consumer is a Drogue consumer's state (consumer.go); nil for others.
	consumer *consumerState
}

// ingestState is what only an ingest connection keeps.
type ingestState struct {
	topic string
	ack   bool
	seq   uint64
}

func (c *conn) session() *session { return c.sess.Load() }

// reservedSubject is the subject c's reservation counted against one-per-user: none for
// an ingest connection.
func (c *conn) reservedSubject() string {
	if !c.isClient() {
		return ""
	}
	return c.session().subject
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
