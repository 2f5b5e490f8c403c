// Package destination holds the places a route sends events to. Its WebSocket destination
// renders a URL per event, keeps a pool of gws client connections per URL, authenticates
// every handshake with a bearer token, notices a dead peer with ping/pong, and sends each
// event as one text or binary frame. WithRetry wraps any destination in a route's retry
// policy. A failure that no retry can cure (a body the frame cannot carry, a URL that
// does not render, a handshake or frame the server refuses for good: refusal.go) is
// kete.Permanent, so that WithRetry and the daemon give up on the event at once.
package destination

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/outage"
	"github.com/kete-dev/kete/pool"
	"github.com/kete-dev/kete/template"
	"github.com/lxzan/gws"
)

// DefaultConnectTimeout bounds TCP connect, TLS and the WebSocket handshake when
// WebSocketOptions.ConnectTimeout is zero; it is KETE's connection-timeout-seconds default.
const DefaultConnectTimeout = 10 * time.Second

// MaxFrameBytes is the largest body Send writes as one frame (gws's default write limit,
// set explicitly). A bigger body is refused before anything is sent, permanently: it
// would be refused on every connection.
const MaxFrameBytes = 16 << 20

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("destination closed")

// TokenSource supplies the bearer token for each WebSocket handshake; package oauth
// implements it. Invalidate drops a cached token that a server refused with 401, so that
// the next Token fetches a fresh one.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
	Invalidate()
}

// PoolOptions size the connection pool kept for each rendered URL (KETE's destination.pool.*
// keys): they are package pool's Options, with its zero-value defaults (KETE's: max-idle
// 10, max-total 20, max-wait 30s). The liveness check they enable or skip is "the
// connection is open: not closed by either side or by the heartbeat". Name and OnFillError
// are the destination's own: it sets them per URL.
type PoolOptions = pool.Options

// WebSocketOptions configure a WebSocket destination; the KETE key of each is in its comment.
type WebSocketOptions struct {
	// URL (destination.url) is rendered per event; it must start with ws:// or wss://.
	// Rendered values are escaped here, whatever the template was compiled with: with
	// url.PathEscape before the first "?", with url.QueryEscape after it, so a realm named
	// "Acme Corp" or "a/b" stays one path segment.
	URL *template.Template
	// BinaryMode (destination.binary-mode) sends binary frames with the raw bytes; text
	// frames (the default) must carry valid UTF-8.
	BinaryMode bool
	// TrustUTF8 skips the UTF-8 check of text frames: set it when every body comes from a
	// kete.UTF8Serializer (the json and cloudevents kinds), which cannot write anything else.
	TrustUTF8 bool
	// Subprotocols (destination.subprotocol) are offered in Sec-WebSocket-Protocol; the
	// server must accept one of them.
	Subprotocols []string
	// ConnectTimeout (destination.connection-timeout-seconds) bounds TCP connect, TLS and
	// the handshake of one connection; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// ConnectionLostTimeout (destination.connection-lost-timeout-seconds) is how long a
	// connection may go without a pong or any frame from the server before it is closed and
	// replaced; pings go out three times per timeout. Zero turns the heartbeat off.
	ConnectionLostTimeout time.Duration
	// Pool (destination.pool.*) sizes the pool of each URL.
	Pool PoolOptions
	// Headers (destination.headers.*) go into the handshake of every connection.
	Headers http.Header
	// TLS is used for wss:// URLs; it is cloned for each connection. Nil means a TLS 1.2+
	// client trusting the system roots.
	TLS *tls.Config
	// Token, when set, puts "Authorization: Bearer <token>" into every handshake, the first
	// included; a handshake refused with 401 invalidates the token and retries once.
	Token TokenSource
	// Logger receives connection events; nil means slog.Default(). Tokens and header values
	// are never logged. A URL that cannot be reached is logged as an outage (package
	// internal/outage): once when it goes down, at growing intervals while it stays down,
	// and once when it is reached again.
	Logger *slog.Logger
	// Now paces those outage lines; nil means time.Now. Tests replace it.
	Now func() time.Time
}

// withDefaults returns o with its zero fields set to the defaults their comments name.
func (o WebSocketOptions) withDefaults() WebSocketOptions {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.TLS == nil {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// WebSocket sends each event as one WebSocket frame to the URL its template renders for
// the event. It implements kete.Destination and is safe for concurrent use.
type WebSocket struct {
	opts   WebSocketOptions
	log    *slog.Logger
	url    urlTemplate
	header http.Header // Headers plus Sec-WebSocket-Protocol, without Authorization
	tls    *tls.Config
	opcode gws.Opcode
	// checkUTF8 is set for text frames whose bodies no UTF8Serializer vouches for.
	checkUTF8 bool

	ctx    context.Context // ended by Close: aborts dials
	cancel context.CancelFunc

	// static is the one endpoint of a URL without variables.
	static *endpoint

	mu        sync.Mutex
	closed    bool
	endpoints map[string]*endpoint
	conns     map[*conn]struct{} // every open connection, for the heartbeat and Close
	loops     sync.WaitGroup     // every connection's ReadLoop
	isClosed  atomic.Bool

	heartbeatDone chan struct{}
	heartbeatWG   sync.WaitGroup
}

// NewWebSocket checks o and returns a destination; it dials nothing until the first Send,
// except MinIdle connections of a URL without variables, which are opened in the background.
func NewWebSocket(o WebSocketOptions) (*WebSocket, error) {
	if o.URL == nil {
		return nil, errors.New("websocket destination: url is required")
	}
	ut, err := compileURL(o.URL.String())
	if err != nil {
		return nil, err
	}
	if o.ConnectionLostTimeout < 0 {
		return nil, fmt.Errorf("websocket %s: connection lost timeout %s is negative", ut.display(), o.ConnectionLostTimeout)
	}
	o = o.withDefaults()
	d := &WebSocket{
		opts:      o,
		log:       o.Logger.With("destination", "websocket", "url", ut.display()),
		url:       ut,
		header:    o.Headers.Clone(),
		opcode:    gws.OpcodeText,
		endpoints: map[string]*endpoint{},
		conns:     map[*conn]struct{}{},
	}
	if d.header == nil {
		d.header = http.Header{}
	}
	if len(o.Subprotocols) > 0 {
		d.header.Set("Sec-WebSocket-Protocol", strings.Join(o.Subprotocols, ", "))
	}
	if o.BinaryMode {
		d.opcode = gws.OpcodeBinary
	}
	d.checkUTF8 = !o.BinaryMode && !o.TrustUTF8
	d.tls = o.TLS
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if ut.static() {
		ep, err := d.newEndpoint(ut.source)
		if err != nil {
			d.cancel()
			return nil, err
		}
		d.static = ep
	}
	if o.ConnectionLostTimeout > 0 {
		d.heartbeatDone = make(chan struct{})
		d.heartbeatWG.Go(d.heartbeat)
	}
	return d, nil
}

// Send writes body as one frame on a pooled connection to the URL rendered for e, and
// returns once the frame is written — or, when the URL asks for acks (?ack=1, as the
// bundled server's ingest offers), once the server has acked it. A write that fails closes that connection and is
// tried once more on a fresh one; further retries belong to WithRetry. ctx bounds the
// wait for a connection, the dial and the write. Send does not keep body.
func (d *WebSocket) Send(ctx context.Context, e *kete.Event, body []byte) error {
	if d.checkUTF8 && !utf8.Valid(body) {
		return kete.Permanent(fmt.Errorf("event %q: body is not valid UTF-8, which text frames require (binary-mode sends raw bytes)", e.ID))
	}
	if len(body) > MaxFrameBytes {
		return kete.Permanent(fmt.Errorf("event %q: body of %d bytes is over the %d-byte frame limit", e.ID, len(body), MaxFrameBytes))
	}
	if d.isClosed.Load() {
		return fmt.Errorf("websocket %s: %w", d.url.display(), ErrClosed)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("websocket %s: %w", d.url.display(), context.Cause(ctx))
	}
	ep := d.static
	if ep == nil {
		var err error
		if ep, err = d.endpointFor(e); err != nil {
			return err
		}
	}
	return ep.send(ctx, d.opcode, body)
}

// endpointFor renders e's URL and returns its endpoint, creating it on first use.
func (d *WebSocket) endpointFor(e *kete.Event) (*endpoint, error) {
	var buf [256]byte
	key := d.url.appendRender(buf[:0], e)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("websocket %s: %w", d.url.display(), ErrClosed)
	}
	if ep := d.endpoints[string(key)]; ep != nil {
		return ep, nil
	}
	ep, err := d.newEndpointLocked(string(key))
	if err != nil {
		return nil, kete.Permanent(err)
	}
	return ep, nil
}

func (d *WebSocket) newEndpoint(rawURL string) (*endpoint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.newEndpointLocked(rawURL)
}

func (d *WebSocket) newEndpointLocked(rawURL string) (*endpoint, error) {
	ep, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	ep.d = d
	ep.log = d.log // its "url" attribute is the URL itself when the URL has no variables
	if ep.display != d.url.display() {
		ep.log = d.log.With("endpoint", ep.display)
	}
	ep.outage = outage.New(ep.log, outage.Options{
		Down: "destination down", StillDown: "destination still down", Up: "destination up again",
		Now: d.opts.Now,
	})
	p, err := pool.New(d.ctx, pool.Factory[*conn]{
		Make:     ep.dial,
		Destroy:  (*conn).close,
		Validate: (*conn).usable,
	}, d.poolOptions(ep))
	if err != nil {
		return nil, err
	}
	ep.pool = p
	d.endpoints[rawURL] = ep
	return ep, nil
}

// poolOptions are the pool settings of ep: the route's, named for ep's URL.
func (d *WebSocket) poolOptions(ep *endpoint) pool.Options {
	po := d.opts.Pool
	po.Name = ep.display
	po.OnFillError = func(err error) {
		// dial has told ep.outage; one line per attempt would be one a second.
		ep.log.Debug("opening an idle connection failed", "err", err)
	}
	return po
}

// Close closes every connection: idle ones at once, borrowed ones when their Send
// finishes (a write gets one more second, the whole close at most five; then connections
// are cut). Send after Close fails with ErrClosed.
func (d *WebSocket) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.isClosed.Store(true)
	eps := make([]*endpoint, 0, len(d.endpoints))
	for _, ep := range d.endpoints {
		eps = append(eps, ep)
	}
	d.mu.Unlock()

	d.cancel()
	// A send in flight gets a second to finish its frame; one stuck on a peer that stopped
	// reading then fails, and its connection goes back to the pool to be destroyed.
	d.mu.Lock()
	for c := range d.conns {
		_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Go(func() {
			if err := ep.pool.Close(ctx); err != nil {
				d.mu.Lock()
				errs = append(errs, err)
				d.mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Connections still borrowed by a stuck Send: cut them.
	d.mu.Lock()
	for c := range d.conns {
		c.kill()
	}
	d.mu.Unlock()
	if d.heartbeatDone != nil {
		close(d.heartbeatDone)
		d.heartbeatWG.Wait()
	}
	d.loops.Wait()
	return errors.Join(errs...)
}

// register records a new connection and starts its ReadLoop, unless Close has begun.
func (d *WebSocket) register(c *conn) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.conns[c] = struct{}{}
	d.loops.Go(c.ws.ReadLoop)
	return nil
}

func (d *WebSocket) unregister(c *conn) {
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
}

// openConns counts connections whose ReadLoop still runs, for tests.
func (d *WebSocket) openConns() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// endpoint is one rendered URL and its pool.
type endpoint struct {
	d        *WebSocket
	log      *slog.Logger
	outage   *outage.Log // logs the URL's unreachable spells
	url      string      // as rendered, for the request line
	display  string      // for errors and logs: secrets in the URL masked
	addr     string      // host:port to dial
	hostname string      // for TLS ServerName
	tls      bool
	pool     *pool.Pool[*conn]
	// awaitAck is set when the URL asks the server for per-frame acks (?ack=1, the bundled
	// server's ingest): a send then counts only once the server has acked its frame.
	awaitAck bool
}

// send borrows a connection and writes one frame, retrying once on a fresh connection.
func (ep *endpoint) send(ctx context.Context, op gws.Opcode, body []byte) error {
	var first error
	for attempt := 1; ; attempt++ {
		c, err := ep.pool.Borrow(ctx)
		if err != nil {
			if first != nil {
				return fmt.Errorf("%w (after a failed write: %v)", err, first)
			}
			return err
		}
		err = c.write(ctx, op, body)
		if err != nil && ctx.Err() == nil && (ep.awaitAck || c.sent == 1) {
			// The frame is the one the server may be refusing: every earlier frame on this
			// connection was acked, or there is none. A refusal closes the connection
			// under the write; its close frame says why.
			if ce := c.closeAnswer(closeGrace); ce != nil {
				err = closedOnFrame(c.sent, ce)
			}
		}
		if err == nil && ep.awaitAck {
			err = c.awaitAck(ctx)
			var nack *NackError
			if errors.As(err, &nack) {
				// The server refused the frame but the connection is sound.
				ep.pool.Return(c)
				return fmt.Errorf("websocket %s: %w", ep.display, err)
			}
		}
		if err == nil {
			ep.pool.Return(c)
			return nil
		}
		ep.pool.Invalidate(c)
		if ctx.Err() != nil {
			return fmt.Errorf("websocket %s: write: %w", ep.display, context.Cause(ctx))
		}
		if kete.IsPermanent(err) {
			// A fresh connection would be refused the same way.
			return fmt.Errorf("websocket %s: %w", ep.display, err)
		}
		if reason := c.lostReason.Load(); reason != nil {
			err = fmt.Errorf("%s: %w", *reason, err)
		}
		err = fmt.Errorf("websocket %s: write: %w", ep.display, err)
		if attempt == 2 {
			return err
		}
		ep.log.Debug("write failed; retrying on a fresh connection", "err", err)
		first = err
	}
}
