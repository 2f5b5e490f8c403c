package destination

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/ingestwire"
)

// closeGrace bounds the close frame written to a peer that may have stopped reading.
const closeGrace = 250 * time.Millisecond

// conn is one pooled gws client connection. It is its own gws event handler: ReadLoop
// runs in a goroutine the destination owns, discards what the server sends, answers its
// pings, and notes every sign of life for the heartbeat.
type conn struct {
	ep *endpoint
	ws *gws.Conn
	// closed is set once the connection must not be used: closed by us, by the peer, or
	// found dead by the heartbeat.
	closed atomic.Bool
	// lastSeen is when the server last sent anything, in nanoseconds since born.
	lastSeen atomic.Int64
	born     time.Time
	// lostReason says why the heartbeat cut the connection, for the error of a write it
	// interrupted.
	lostReason atomic.Pointer[string]
	// closedBy is the server's close frame, when the server closed the connection: its
	// code says why a frame was refused (1009: too big).
	closedBy atomic.Pointer[gws.CloseError]
	// writeDeadline is the socket's write deadline, from the last send's ctx (zero: none),
	// so that sends under one deadline set it once; only the borrower touches it.
	writeDeadline time.Time
	// watch cuts a write when its send's ctx ends; it is kept while the borrowers' ctx
	// stays the same, and only the borrower touches it.
	watch *cancelWatch
	// sent counts frames written, as the server's ingest counts them for acks (seq); only
	// the borrower touches it.
	sent uint64
	// acks carries the server's ingest acks (ingestwire) from ReadLoop to the borrower
	// waiting for one; gone is closed when ReadLoop ends.
	acks chan ingestwire.Ack
	gone chan struct{}
}

// NackError is the server's refusal of one frame (its publish failed); the connection
// stays usable and the event may be sent again.
type NackError struct {
	Seq    uint64
	Reason string
}

func (e *NackError) Error() string {
	return fmt.Sprintf("server refused frame %d: %s", e.Seq, e.Reason)
}

// awaitAck waits for the ack of the frame just written. Acks come in order, one per
// frame; an older one (of a frame whose wait was cut short) is skipped.
func (c *conn) awaitAck(ctx context.Context) error {
	for {
		select {
		case a := <-c.acks:
			if a.Seq < c.sent {
				continue
			}
			if a.Seq > c.sent {
				c.kill()
				return fmt.Errorf("ack for frame %d while waiting for %d: out of step", a.Seq, c.sent)
			}
			if a.IsNack() {
				return &NackError{Seq: a.Seq, Reason: a.Error}
			}
			return nil
		case <-c.gone:
			if ce := c.closedBy.Load(); ce != nil {
				return closedOnFrame(c.sent, ce)
			}
			if reason := c.lostReason.Load(); reason != nil {
				return fmt.Errorf("no ack for frame %d: %s", c.sent, *reason)
			}
			return fmt.Errorf("no ack for frame %d: connection closed", c.sent)
		case <-ctx.Done():
			// The ack may still come; this connection cannot tell whose it is any more.
			c.kill()
			return context.Cause(ctx)
		}
	}
}

// dial opens a connection for the pool (connect) and keeps ep.outage up to date: the
// outage's lines carry the URL as an attribute, so the error they quote does not repeat it.
func (ep *endpoint) dial(ctx context.Context) (*conn, error) {
	c, err := ep.connect(ctx)
	if err != nil {
		if ctx.Err() == nil && ep.d.ctx.Err() == nil { // not cut short by Close or the sender's deadline
			ep.outage.Failed(err)
		}
		return nil, fmt.Errorf("websocket %s: %w", ep.display, err)
	}
	ep.outage.Succeeded()
	ep.log.Debug("connected", "local", c.ws.LocalAddr().String())
	return c, nil
}

// connect opens a connection: a bearer token if configured, then TCP, TLS and the
// handshake within ConnectTimeout. A handshake refused with 401 invalidates the token and
// is tried once more with a fresh one.
func (ep *endpoint) connect(ctx context.Context) (*conn, error) {
	d := ep.d
	// Close aborts dials in progress.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.ctx, cancel)()

	header := d.header
	if d.opts.Token != nil {
		var err error
		if header, err = ep.authorize(ctx); err != nil {
			return nil, err
		}
	}
	c, status, err := ep.handshake(ctx, header)
	if status == http.StatusUnauthorized && d.opts.Token != nil {
		ep.log.Info("handshake refused with 401; fetching a fresh token and trying once more")
		d.opts.Token.Invalidate()
		if header, err = ep.authorize(ctx); err != nil {
			return nil, err
		}
		c, _, err = ep.handshake(ctx, header)
	}
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// authorize returns the handshake headers with a fresh bearer token.
func (ep *endpoint) authorize(ctx context.Context) (http.Header, error) {
	token, err := ep.d.opts.Token.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("bearer token: %w", err)
	}
	header := ep.d.header.Clone()
	header.Set("Authorization", "Bearer "+token)
	return header, nil
}

// handshake dials and upgrades within ConnectTimeout; status is the HTTP status of a
// refused upgrade, else 0.
func (ep *endpoint) handshake(ctx context.Context, header http.Header) (c *conn, status int, err error) {
	d := ep.d
	ctx, cancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, 0, err
	}
	if ep.tls {
		cfg := d.tls.Clone() // never share one config: ServerName differs per URL
		if cfg.ServerName == "" {
			cfg.ServerName = ep.hostname
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, 0, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	deadline, _ := ctx.Deadline()
	remaining := time.Until(deadline)
	if remaining <= 0 {
		_ = nc.Close()
		return nil, 0, fmt.Errorf("handshake: %w", context.DeadlineExceeded)
	}
	// gws reads the upgrade response without a context: cut the socket if ctx ends first.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	c = &conn{ep: ep, born: time.Now(), gone: make(chan struct{})}
	if ep.awaitAck {
		c.acks = make(chan ingestwire.Ack, 64)
	}
	ws, resp, err := gws.NewClientFromConn(c, &gws.ClientOption{
		Addr:                ep.url,
		RequestHeader:       header,
		HandshakeTimeout:    remaining,
		WriteMaxPayloadSize: MaxFrameBytes,
		Logger:              gwsLogger{ep.log},
	}, nc)
	if !stop() {
		_ = nc.Close()
		return nil, 0, fmt.Errorf("handshake: %w", context.Cause(ctx))
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, resp.StatusCode, refusedHandshake(resp)
		}
		return nil, 0, fmt.Errorf("handshake: %w", err)
	}
	c.ws = ws
	if lost := d.opts.ConnectionLostTimeout; lost > 0 {
		_ = ws.SetReadDeadline(time.Now().Add(lost))
	}
	if err := d.register(c); err != nil {
		_ = nc.Close()
		return nil, 0, err
	}
	return c, 0, nil
}

// write sends one frame, bounded by ctx: its deadline becomes the socket's write deadline,
// and its cancellation moves that deadline into the past, which fails the write (and
// closes the connection: a frame cut in half leaves nothing to reuse).
func (c *conn) write(ctx context.Context, op gws.Opcode, body []byte) error {
	if dl, _ := ctx.Deadline(); !dl.Equal(c.writeDeadline) {
		_ = c.ws.SetWriteDeadline(dl) // the zero time clears it
		c.writeDeadline = dl
	}
	done := ctx.Done()
	if done == nil {
		c.sent++
		return c.ws.WriteMessage(op, body)
	}
	w := c.watch
	if w == nil || w.done != done {
		w = c.watchContext(ctx)
	}
	w.state.Store(watchWriting)
	if ctx.Err() != nil {
		// Ended before the frame started: nothing was written.
		if w.state.Swap(watchIdle) == watchCut {
			c.kill()
		}
		return context.Cause(ctx)
	}
	c.sent++
	err := c.ws.WriteMessage(op, body)
	if w.state.Swap(watchIdle) == watchCut {
		// The deadline went into the past under the write: this connection cannot be
		// trusted with the next frame.
		c.kill()
		if err == nil {
			return nil // the frame was written whole before ctx ended
		}
		return context.Cause(ctx)
	}
	return err
}

// cancelWatch is one context.AfterFunc on a send's ctx. Registering and stopping one per
// frame costs more than the write's own bookkeeping, and a daemon's sends share one ctx,
// so a watch lives until a send comes with another ctx (or the connection closes); state
// tells the callback whether a write is under way to cut.
type cancelWatch struct {
	done  <-chan struct{}
	stop  func() bool
	state atomic.Int32
}

// cancelWatch states: the callback cuts only a write under way (writing → cut); the
// writer turns either back to idle once its write returns, and a cut one is killed.
const (
	watchIdle int32 = iota
	watchWriting
	watchCut
)

// watchContext replaces the connection's watch with one on ctx. A callback of the old
// watch that still runs finds its own state idle and does nothing.
func (c *conn) watchContext(ctx context.Context) *cancelWatch {
	c.stopWatch()
	w := &cancelWatch{done: ctx.Done()}
	nc := c.ws.NetConn()
	w.stop = context.AfterFunc(ctx, func() {
		if w.state.CompareAndSwap(watchWriting, watchCut) {
			_ = nc.SetWriteDeadline(time.Unix(1, 0))
		}
	})
	c.watch = w
	return w
}

// stopWatch drops the connection's watch, so that a long-lived ctx does not keep a
// closed connection reachable.
func (c *conn) stopWatch() {
	if c.watch != nil {
		c.watch.stop()
		c.watch = nil
	}
}

// usable is the pool's Validate.
func (c *conn) usable() bool { return !c.closed.Load() }

// close is the pool's Destroy: a close frame if the peer still reads, then the socket.
func (c *conn) close() {
	c.closed.Store(true)
	c.stopWatch()
	nc := c.ws.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(closeGrace))
	_ = c.ws.WriteClose(1000, nil)
	_ = nc.Close()
}

// kill cuts the socket without a close frame: ReadLoop ends, and so does a write stuck on
// a peer that stopped reading.
func (c *conn) kill() {
	c.closed.Store(true)
	_ = c.ws.NetConn().Close()
}

// alive notes a sign of life from the server and pushes the read deadline out.
func (c *conn) alive(socket *gws.Conn) {
	if lost := c.ep.d.opts.ConnectionLostTimeout; lost > 0 {
		c.lastSeen.Store(int64(time.Since(c.born)))
		_ = socket.SetReadDeadline(time.Now().Add(lost))
	}
}

// OnOpen is part of gws.Event.
func (c *conn) OnOpen(*gws.Conn) {}

// OnClose runs when ReadLoop ends: the peer closed, the read deadline passed (no pong
// within the lost timeout), or we closed the socket.
func (c *conn) OnClose(_ *gws.Conn, err error) {
	ours := c.closed.Swap(true) // close and kill mark the connection first
	var ce *gws.CloseError
	if !ours && errors.As(err, &ce) {
		c.closedBy.Store(ce) // before gone: a waiting send reads it once gone is closed
	}
	close(c.gone)
	c.ep.d.unregister(c)
	switch {
	case ours:
		c.ep.log.Debug("connection closed")
	case errors.As(err, &ce):
		c.ep.log.Info("connection closed by the server", "code", ce.Code, "reason", string(ce.Reason))
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.ep.log.Info("no answer to pings within the lost timeout; connection closed",
			"timeout", c.ep.d.opts.ConnectionLostTimeout)
	default:
		c.ep.log.Info("connection lost", "err", err)
	}
	c.ep.pool.Kick() // drop it from the idle set and refill MinIdle now
}

// OnPing answers with the same payload, as RFC 6455 asks.
func (c *conn) OnPing(socket *gws.Conn, payload []byte) {
	c.alive(socket)
	_ = socket.WritePong(payload)
}

// OnPong is the answer to the heartbeat's ping.
func (c *conn) OnPong(socket *gws.Conn, _ []byte) { c.alive(socket) }

// OnMessage counts what the server sends as life; it hands ingest acks to the waiting
// send and discards everything else (a welcome, say).
func (c *conn) OnMessage(socket *gws.Conn, m *gws.Message) {
	c.alive(socket)
	if c.acks != nil {
		if a, ok := ingestwire.Decode(m.Bytes()); ok {
			select {
			case c.acks <- a:
			default: // nobody waits for that many: a stale ack
			}
		}
	}
	_ = m.Close()
}

// heartbeat is the one goroutine that pings every connection of the destination, three
// times per lost timeout. The read deadline that OnPong renews closes a silent connection
// from its own ReadLoop; as a backstop for a ReadLoop stuck behind a blocked write, the
// heartbeat itself cuts a connection silent for longer than the timeout.
func (d *WebSocket) heartbeat() {
	lost := d.opts.ConnectionLostTimeout
	interval := max(lost/3, 5*time.Millisecond)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var conns []*conn
	for {
		select {
		case <-d.heartbeatDone:
			return
		case <-ticker.C:
		}
		conns = conns[:0]
		d.mu.Lock()
		for c := range d.conns {
			conns = append(conns, c)
		}
		d.mu.Unlock()
		for _, c := range conns {
			if c.closed.Load() {
				continue
			}
			if silent := time.Since(c.born) - time.Duration(c.lastSeen.Load()); silent > lost+interval {
				reason := fmt.Sprintf("connection lost: nothing from the server for %s (lost timeout %s)", silent.Round(time.Millisecond), lost)
				c.ep.log.Info("no answer to pings; closing the connection", "silent", silent.Round(time.Millisecond))
				c.lostReason.Store(&reason)
				c.kill()
				continue
			}
			// Queued on the connection's own writer, so a peer that stopped reading
			// cannot stall the pings of the others.
			c.ws.WriteAsync(gws.OpcodePing, nil, nil)
		}
		clear(conns)
	}
}

// gwsLogger sends gws's own error logs (recovered panics) to slog.
type gwsLogger struct {
	log interface{ Error(string, ...any) }
}

func (l gwsLogger) Error(v ...any) { l.log.Error("gws", "detail", fmt.Sprint(v...)) }
