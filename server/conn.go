package server

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"

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

// conn is one WebSocket client (or ingest publisher). Its outbound path writes frames
// straight to the socket when the socket has room, and otherwise queues them (bounded by
// the app's MaxBacklog) for a writer goroutine that lives only while the queue is not
// empty. Every idle client holds one, so it carries nothing a client does not need.
type conn struct {
	id  string
	hub *hub
	ws  *gws.Conn
	nc  net.Conn
	raw rawWriter // not ok: always use the writer goroutine (TLS)

	sess     atomic.Pointer[session]
	lastSeen atomic.Int64 // server coarse clock, unix nanoseconds
	lastPing int64        // owned by the sweeper goroutine

	mu           sync.Mutex
	closed       bool // no more frames are accepted
	linger       bool // the server sent the close frame: wait for the client's (finishClose)
	writing      bool // a writer goroutine owns the socket
	ingest       bool // set before the upgrade, then only read
	deflate      bool // negotiated permessage-deflate (deflate.go); set before registration
	partialHead  bool // backlog[0] is the rest of a frame partly written to the socket
	backlog      [][]byte
	backlogBytes int // queued in backlog
	writingBytes int // taken from backlog by the writer, not yet written
	maxBacklog   int

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

// outbound is what every connection's writer shares: its bounds, the pool of raw write
// operations, the high-water mark and the writer goroutines, which Close waits for.
type outbound struct {
	writeTimeout time.Duration // Options.WriteTimeout
	closeGrace   time.Duration // Options.CloseGrace
	rawOps       sync.Pool     // *rawWriteOp, for every connection's rawWriter
	writers      sync.WaitGroup
	backlogPeak  highWater // the largest outbound queue of one connection
}

func newOutbound(o Options) *outbound {
	out := &outbound{writeTimeout: o.WriteTimeout, closeGrace: o.CloseGrace}
	out.rawOps.New = newRawWriteOp
	return out
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

// send queues or writes one frame (or several coalesced frames). It never blocks on the
// network: a full socket moves the frame to the backlog and starts the writer. What is
// queued, counting what the writer is writing, stays within maxBacklog: a frame that
// would take it over closes the connection as a slow consumer. Only a frame that alone is
// larger than maxBacklog is taken, and only into an empty queue (the dispatcher never
// coalesces past maxBacklog, so only one message of that size can be).
func (c *conn) send(b []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.writing {
		if queued := c.backlogBytes + c.writingBytes; queued > 0 && queued+queueCost(b) > c.maxBacklog {
			c.mu.Unlock()
			if c.closeWith(ClosePolicyViolation, ReasonSlowConsumer, true) {
				c.hub.deps.metrics.slowConsumers.Inc()
				c.hub.deps.metrics.closes.WithLabelValues("slow_consumer").Inc()
			}
			return
		}
		c.backlog = append(c.backlog, b)
		c.backlogBytes += queueCost(b)
		c.hub.deps.out.backlogPeak.observe(c.backlogBytes + c.writingBytes)
		c.mu.Unlock()
		return
	}
	if c.raw.ok() {
		n, err := c.raw.write(&c.hub.deps.out.rawOps, b)
		if err != nil {
			c.closed = true
			c.mu.Unlock()
			_ = c.nc.Close()
			return
		}
		if n == len(b) {
			c.mu.Unlock()
			return
		}
		b = b[n:]
		c.partialHead = n > 0
	}
	c.backlog = append(c.backlog, b)
	c.backlogBytes += queueCost(b)
	c.hub.deps.out.backlogPeak.observe(c.backlogBytes)
	c.startWriterLocked()
	c.mu.Unlock()
}

// queuedFrameCost is what the backlog counts for each frame on top of its bytes: the
// slice header that holds it, and more. Without it, a client that sends pings and reads
// nothing would queue 32,768 two-byte pongs within a 64 KiB maxBacklog, and hold ten
// times that in bookkeeping.
const queuedFrameCost = 32

// queueCost is what a queued frame counts against maxBacklog.
func queueCost(b []byte) int { return len(b) + queuedFrameCost }

// queued is how many outbound bytes c holds: queued and being written.
func (c *conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backlogBytes + c.writingBytes
}

// startWriterLocked starts the writer goroutine; c.mu is held.
func (c *conn) startWriterLocked() {
	c.writing = true
	c.hub.deps.out.writers.Add(1)
	go c.writeLoop()
}

// writeLoop drains the backlog with blocking, deadline-bounded, coalesced writes (writev)
// and exits when it is empty. After a close frame it closes the socket.
func (c *conn) writeLoop() {
	out := c.hub.deps.out
	defer out.writers.Done()
	var bufs net.Buffers
	for {
		c.mu.Lock()
		c.writingBytes = 0 // the last batch is out
		if len(c.backlog) == 0 {
			c.writing = false
			closed := c.closed
			c.mu.Unlock()
			if closed {
				c.finishClose()
			} else {
				_ = c.nc.SetWriteDeadline(time.Time{})
			}
			return
		}
		bufs = append(bufs[:0], c.backlog...)
		clear(c.backlog)
		c.backlog = c.backlog[:0]
		c.writingBytes = c.backlogBytes
		c.backlogBytes = 0
		c.partialHead = false
		closing := c.closed
		c.mu.Unlock()

		timeout := out.writeTimeout
		if closing && timeout > out.closeGrace {
			timeout = out.closeGrace
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
		w := bufs
		_, err := w.WriteTo(c.nc)
		clear(bufs)
		if err != nil {
			c.mu.Lock()
			c.closed = true
			clear(c.backlog)
			c.backlog = nil
			c.backlogBytes = 0
			c.writingBytes = 0
			c.writing = false
			c.mu.Unlock()
			_ = c.nc.Close()
			return
		}
	}
}

// closeWith sends a close frame with code and reason after what is queued (or instead
// of it when drop is set: a slow consumer's backlog is thrown away) and then closes the
// socket. Further frames are dropped. It reports whether this call closed c.
func (c *conn) closeWith(code uint16, reason string, drop bool) bool {
	frame := encodeClose(code, reason)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	c.linger = true
	if drop {
		// The rest of a partly written frame must still go, or the close frame would
		// land inside it.
		keep := 0
		if c.partialHead && len(c.backlog) > 0 {
			keep = 1
		}
		clear(c.backlog[keep:])
		c.backlog = c.backlog[:keep]
		c.backlogBytes = 0
		if keep == 1 {
			c.backlogBytes = queueCost(c.backlog[0])
		}
	}
	if c.writing {
		c.backlog = append(c.backlog, frame)
		c.backlogBytes += queueCost(frame)
		// Bound how long the writer may still wait on a peer that does not read.
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.hub.deps.out.closeGrace))
		c.mu.Unlock()
		return true
	}
	if c.raw.ok() {
		n, err := c.raw.write(&c.hub.deps.out.rawOps, frame)
		if err != nil {
			c.mu.Unlock()
			_ = c.nc.Close()
			return true
		}
		if n == len(frame) {
			c.mu.Unlock()
			c.finishClose()
			return true
		}
		frame = frame[n:]
	}
	c.backlog = append(c.backlog, frame)
	c.backlogBytes += queueCost(frame)
	c.startWriterLocked()
	c.mu.Unlock()
	return true
}

// finishClose ends the socket once the server's close frame is out. After a close the
// server started (closeWith) it shuts only its sending side and leaves the read loop
// running, within CloseGrace, until the client's close frame or end of stream: closing
// at once with the client's frames unread makes the kernel answer with a reset, and a
// client that was sending (realtime-forum demos/node/websocket-publisher.js, closed by
// admin-terminate-app-connections.js) reports 1006 "EPIPE" instead of the close code
// and reason. RFC 6455 §7.1.1: the server closes the TCP connection after the closing
// handshake. The read loop's exit closes the socket (gwsConn.Close).
func (c *conn) finishClose() {
	c.mu.Lock()
	linger := c.linger
	c.mu.Unlock()
	hc, ok := c.nc.(interface{ CloseWrite() error })
	if !linger || !ok || hc.CloseWrite() != nil ||
		c.nc.SetReadDeadline(time.Now().Add(c.hub.deps.out.closeGrace)) != nil {
		_ = c.nc.Close()
	}
}

// isClosed reports whether the connection takes no more frames (it is closing).
func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// markClosed stops all sending after the socket went away.
func (c *conn) markClosed() {
	c.mu.Lock()
	c.closed = true
	if !c.writing {
		clear(c.backlog)
		c.backlog = nil
		c.backlogBytes = 0
	}
	c.mu.Unlock()
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

// closeWhenWritten drops later frames and closes the socket now, or, while the writer
// drains a backlog, lets it close the socket when done.
func (c *conn) closeWhenWritten() {
	c.mu.Lock()
	c.closed = true
	c.linger = false // the read loop is done: nobody would read on
	if c.writing {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.hub.deps.out.closeGrace))
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = c.nc.Close()
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
