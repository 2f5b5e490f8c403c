package server

import (
	"net"
	"sync"
	"time"
)

// wsWriter is the outbound half of every connection, client or ingest: it writes frames
// straight to the socket when the socket has room, and otherwise queues them (bounded by
// maxBacklog) for a writer goroutine that lives only while the queue is not empty.
// Every idle client holds one, so it carries nothing a client does not need.
type wsWriter struct {
	nc  net.Conn
	raw rawWriter // not ok: always use the writer goroutine (TLS)
	out *outbound

	mu           sync.Mutex
	closed       bool // no more frames are accepted
	linger       bool // the server sent the close frame: wait for the client's (finishClose)
	writing      bool // a writer goroutine owns the socket
	partialHead  bool // backlog[0] is the rest of a frame partly written to the socket
	backlog      [][]byte
	backlogBytes int // queued in backlog
	writingBytes int // taken from backlog by the writer, not yet written
	maxBacklog   int
}

func newWSWriter(out *outbound, maxBacklog int) wsWriter {
	return wsWriter{out: out, maxBacklog: maxBacklog}
}

// outbound is what every connection's writer shares: its bounds, the pool of raw write
// operations, the high-water mark and the writer goroutines, which Close waits for.
type outbound struct {
	writeTimeout time.Duration // Options.WriteTimeout
	closeGrace   time.Duration // Options.CloseGrace
	rawOps       sync.Pool     // *rawWriteOp, for every connection's rawWriter
	writers      sync.WaitGroup
	backlogPeak  highWater // the largest outbound queue of one connection
	metrics      *metrics  // slow consumers and their closes
}

func newOutbound(o Options, m *metrics) *outbound {
	out := &outbound{writeTimeout: o.WriteTimeout, closeGrace: o.CloseGrace, metrics: m}
	out.rawOps.New = newRawWriteOp
	return out
}

// send queues or writes one frame (or several coalesced frames). It never blocks on the
// network: a full socket moves the frame to the backlog and starts the writer. What is
// queued, counting what the writer is writing, stays within maxBacklog: a frame that
// would take it over closes the connection as a slow consumer. Only a frame that alone is
// larger than maxBacklog is taken, and only into an empty queue (the dispatcher never
// coalesces past maxBacklog, so only one message of that size can be).
func (c *wsWriter) send(b []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.writing {
		if queued := c.backlogBytes + c.writingBytes; queued > 0 && queued+queueCost(b) > c.maxBacklog {
			c.mu.Unlock()
			if c.closeWith(ClosePolicyViolation, ReasonSlowConsumer, true) {
				c.out.metrics.slowConsumers.Inc()
				c.out.metrics.closes.WithLabelValues("slow_consumer").Inc()
			}
			return
		}
		c.backlog = append(c.backlog, b)
		c.backlogBytes += queueCost(b)
		c.out.backlogPeak.observe(c.backlogBytes + c.writingBytes)
		c.mu.Unlock()
		return
	}
	if c.raw.ok() {
		n, err := c.raw.write(&c.out.rawOps, b)
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
	c.out.backlogPeak.observe(c.backlogBytes)
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
func (c *wsWriter) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backlogBytes + c.writingBytes
}

// startWriterLocked starts the writer goroutine; c.mu is held.
func (c *wsWriter) startWriterLocked() {
	c.writing = true
	c.out.writers.Add(1)
	go c.writeLoop()
}

// writeLoop drains the backlog with blocking, deadline-bounded, coalesced writes (writev)
// and exits when it is empty. After a close frame it closes the socket.
func (c *wsWriter) writeLoop() {
	out := c.out
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
func (c *wsWriter) closeWith(code uint16, reason string, drop bool) bool {
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
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.out.closeGrace))
		c.mu.Unlock()
		return true
	}
	if c.raw.ok() {
		n, err := c.raw.write(&c.out.rawOps, frame)
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
func (c *wsWriter) finishClose() {
	c.mu.Lock()
	linger := c.linger
	c.mu.Unlock()
	hc, ok := c.nc.(interface{ CloseWrite() error })
	if !linger || !ok || hc.CloseWrite() != nil ||
		c.nc.SetReadDeadline(time.Now().Add(c.out.closeGrace)) != nil {
		_ = c.nc.Close()
	}
}

// isClosed reports whether the connection takes no more frames (it is closing).
func (c *wsWriter) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// markClosed stops all sending after the socket went away.
func (c *wsWriter) markClosed() {
	c.mu.Lock()
	c.closed = true
	if !c.writing {
		clear(c.backlog)
		c.backlog = nil
		c.backlogBytes = 0
	}
	c.mu.Unlock()
}

// closeWhenWritten drops later frames and closes the socket now, or, while the writer
// drains a backlog, lets it close the socket when done.
func (c *wsWriter) closeWhenWritten() {
	c.mu.Lock()
	c.closed = true
	c.linger = false // the read loop is done: nobody would read on
	if c.writing {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.out.closeGrace))
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = c.nc.Close()
}
