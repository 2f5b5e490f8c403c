// Package httpguard serves HTTP so that no client can hold the listener: a request whose
// headers or body trickle in is cut off at a deadline, a keep-alive connection that sends
// nothing is closed, and one source address may hold only so many connections at once.
//
// Both of kete's listeners use it: the bundled server's (kete.server.http.*) and the
// daemon's webhook and metrics listener (kete.sources.webhook.http.*). Without it, 300
// clients sending a body one byte at a time held 300 sockets for good, until the process
// ran out of file descriptors.
//
// A connection taken over by a handler (a WebSocket upgrade, http.Hijacker) leaves the
// request deadlines behind: gws clears them once the handshake is written, and from then on
// the WebSocket's own liveness rules (ping, idle timeout) apply. It still counts against its
// address's cap until it is closed.
package httpguard

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultWriteTimeout       = 60 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultMaxConnsPerAddress = 256
	DefaultShutdownTimeout    = 10 * time.Second
)

// Options bound what one client may make a listener hold. Zero fields take the defaults
// named in their comments; a negative duration or cap turns that bound off.
type Options struct {
	// ReadHeaderTimeout bounds reading a request's line and headers (10s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (30s), counted from its
	// first byte. It is the body deadline: a handler that reads the body before it decides
	// on authentication (a webhook's HMAC) gets an error at the deadline instead of waiting
	// on a client that sends a byte a minute.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, counted from the end of the request's
	// headers (60s): a client that does not read its answer is let go.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request (60s).
	IdleTimeout time.Duration
	// MaxConnsPerAddress caps the connections one source IP holds open at once, WebSockets
	// included (256). The connection over the cap is answered 503 (plain HTTP; a TLS
	// listener just closes it) and closed before any request is read.
	MaxConnsPerAddress int
	// OnRefuse, when set, hears of each connection refused over MaxConnsPerAddress (after
	// it is closed), so that the refusal can be counted and logged.
	OnRefuse func(addr netip.Addr)
	// ShutdownTimeout bounds how long Serve waits for open requests once ctx ends (10s).
	ShutdownTimeout time.Duration
}

// withDefaults returns o with each zero field set to the default its comment names;
// negative values stay, meaning no bound.
func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout)
	if o.MaxConnsPerAddress == 0 {
		o.MaxConnsPerAddress = DefaultMaxConnsPerAddress
	}
	return o
}

// positive maps a turned-off (negative) duration to net/http's "no limit".
func positive(d time.Duration) time.Duration { return max(d, 0) }

// Listen binds addr with the per-address cap of o and, when tlsCfg is set, TLS on top (so
// that a refused connection costs no handshake).
func Listen(addr string, tlsCfg *tls.Config, o Options) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Wrap(ln, tlsCfg, o), nil
}

// Wrap puts the per-address cap of o (and TLS, when tlsCfg is set) on ln.
func Wrap(ln net.Listener, tlsCfg *tls.Config, o Options) net.Listener {
	o = o.withDefaults()
	if o.MaxConnsPerAddress > 0 {
		l := Limit(ln, o.MaxConnsPerAddress, tlsCfg == nil)
		l.onRefuse = o.OnRefuse
		ln = l
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln
}

// Server returns an http.Server for h with the timeouts of o; net/http's own complaints go
// to log at warn level.
func Server(h http.Handler, o Options, log *slog.Logger) *http.Server {
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: positive(o.ReadHeaderTimeout),
		ReadTimeout:       positive(o.ReadTimeout),
		WriteTimeout:      positive(o.WriteTimeout),
		IdleTimeout:       o.IdleTimeout, // negative: none (net/http would fall back to ReadTimeout on 0)
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// Serve runs h on ln until ctx ends, then gives open requests ShutdownTimeout to finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o Options, log *slog.Logger) error {
	o = o.withDefaults()
	srv := Server(h, o, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), positive(o.ShutdownTimeout))
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Limit caps ln at max open connections per source IP. With answer503 a refused
// connection is sent a plain HTTP 503 (with Retry-After) before it is closed.
func Limit(ln net.Listener, max int, answer503 bool) *Limiter {
	return &Limiter{Listener: ln, max: max, answer: answer503, open: make(map[netip.Addr]int)}
}

// Limiter is a listener that refuses a source address's connection over its cap.
type Limiter struct {
	net.Listener
	max    int
	answer bool

	mu   sync.Mutex
	open map[netip.Addr]int

	refused  atomic.Int64
	onRefuse func(netip.Addr)
}

// Refused is how many connections were refused since the listener was made.
func (l *Limiter) Refused() int64 { return l.refused.Load() }

// Open is how many connections addr holds now.
func (l *Limiter) Open(addr netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[addr]
}

// Accept returns the next connection whose address is under its cap; it refuses (and
// closes) the others itself.
func (l *Limiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(c.RemoteAddr())
		l.mu.Lock()
		if l.open[addr] >= l.max {
			l.mu.Unlock()
			l.refuse(c)
			if l.onRefuse != nil {
				l.onRefuse(addr)
			}
			continue
		}
		l.open[addr]++
		l.mu.Unlock()
		return &countedConn{Conn: c, l: l, addr: addr}, nil
	}
}

// refuse answers 503 (plain HTTP only) and closes c. A fresh socket's send buffer is
// empty, so the short write does not block; the deadline is a belt on top.
func (l *Limiter) refuse(c net.Conn) {
	l.refused.Add(1)
	if l.answer {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(refusal)
	}
	_ = c.Close()
}

var refusal = func() []byte {
	body := `{"error":{"code":"too_many_connections","message":"this address has too many open connections"}}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

func (l *Limiter) release(addr netip.Addr) {
	l.mu.Lock()
	if n := l.open[addr]; n > 1 {
		l.open[addr] = n - 1
	} else {
		delete(l.open, addr)
	}
	l.mu.Unlock()
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// countedConn gives its address's slot back when closed (once, however often Close is
// called).
type countedConn struct {
	net.Conn
	l      *Limiter
	addr   netip.Addr
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.addr)
	}
	return err
}

// Unwrap returns the connection underneath, so that a WebSocket server can reach the TCP
// socket (for non-blocking writes and SO_SNDBUF); closing must still go through c.
func (c *countedConn) Unwrap() net.Conn { return c.Conn }
