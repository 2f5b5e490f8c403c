package server

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server/auth"
)

// handleConnect serves GET /apps/{appId}: the client WebSocket.
func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request) {
	rt, h, cl := s.admit(w, r)
	if rt == nil {
		return
	}
	if cl.Subject == "" && rt.app.TokensWithoutSubject == SubjectlessReject {
		s.refuseRequest(w, r, http.StatusUnauthorized, auth.CodeTokenInvalid, "token has no subject (sub claim); app "+rt.app.AppID+" requires one")
		return
	}
	if !s.wantsUpgrade(w, r) {
		return
	}
	id := newID()
	ss := newSession(cl)
	s.applyTokenExpiry(rt, ss, cl)
	ss.subject = subjectOf(cl, id)
	replace, err := h.reserve(rt, ss.subject)
	if err != nil {
		s.refuseAdmission(w, r, err)
		return
	}
	for _, old := range replace {
		s.metrics.closes.WithLabelValues("replaced").Inc()
		old.closeWith(ClosePolicyViolation, ReasonReplaced, false)
	}
	c := &conn{wsWriter: newWSWriter(h.deps.out, rt.limits.MaxBacklog), id: id, hub: h, kind: &clientConn{}}
	c.sess.Store(ss)
	if rt.app.OneConnectionPerUser == OnePerUserReplace && cl.Subject != "" {
		// The subject's connections on other nodes go too.
		s.broadcastControl(r.Context(), h.appID, control{Op: ctlReplace, Subject: cl.Subject, Except: c.id})
	}
	s.upgradeAndServe(w, r, h, c, rt.limits.MaxMessageSize)
}

// upgradeAndServe upgrades the reserved connection and starts its read loop.
func (s *Server) upgradeAndServe(w http.ResponseWriter, r *http.Request, h *hub, c *conn, maxPayload int) {
	if s.closed.Load() {
		h.unreserve(c.kind.reservedSubject(c))
		s.refuseRequest(w, r, http.StatusServiceUnavailable, RefusedShuttingDown, "server is shutting down")
		return
	}
	readBuffer, deflate := c.kind.upgrade(s.opts.ReadBufferSize)
	hj, ok := w.(http.Hijacker)
	var nc net.Conn
	var err error
	if ok {
		nc, _, err = hj.Hijack() // like gws's Upgrade: what net/http buffered is not used
	}
	if !ok || err != nil {
		h.unreserve(c.kind.reservedSubject(c))
		s.log.Debug("websocket upgrade failed: connection cannot be taken over", slog.String("app", h.appID), slog.Any("error", err))
		if !ok {
			writeError(w, http.StatusInternalServerError, "upgrade_failed", "this connection cannot be upgraded")
		}
		return
	}
	gc := &gwsConn{Conn: nc}
	c.deflate = deflate && offersDeflate(r) // what gws negotiates below
	socket, err := s.upgrader(maxPayload, readBuffer, deflate).UpgradeFromConn(gc, bufio.NewReaderSize(nc, readBuffer), r)
	if err != nil {
		h.unreserve(c.kind.reservedSubject(c))
		s.log.Debug("websocket upgrade failed", slog.String("app", h.appID), slog.String("error", err.Error()))
		return
	}
	c.ws = socket
	c.nc = nc
	gc.c = c // from here gws's own writes (close frames) queue behind the server's
	tcp := underlyingTCP(nc)
	if tcp != nil {
		c.raw = newRawWriter(tcp)
		if s.opts.SocketWriteBuffer > 0 {
			_ = tcp.SetWriteBuffer(s.opts.SocketWriteBuffer)
		}
	}
	c.lastSeen.Store(s.coarseNow())
	c.lastPing = s.coarseNow()
	if s.opts.upgraded != nil {
		s.opts.upgraded()
	}
	c.kind.register(s, c, r)
	if h.retired.Load() {
		// A reload removed the app while this connection upgraded, after it took the
		// app's connections to close: close this one too, or it would wait on a
		// stopped hub for messages that never come.
		c.closeWith(CloseGoingAway, "app removed", false)
	}
	socket.Session().Store("conn", c)
	if !s.addLoop() {
		// Close began during the upgrade and no longer waits for new read loops.
		c.kind.unregister(c)
		_ = nc.Close()
		return
	}
	go func() {
		defer s.loops.Done()
		socket.ReadLoop()
	}()
}

// wsEvents is the gws event handler of every connection.
type wsEvents struct{ s *Server }

func connOf(socket *gws.Conn) *conn {
	v, _ := socket.Session().Load("conn")
	c, _ := v.(*conn)
	return c
}

// OnOpen runs as the read loop starts; upgradeAndServe has registered the connection.
func (e *wsEvents) OnOpen(socket *gws.Conn) {
	if c := connOf(socket); c != nil {
		c.kind.opened(e.s, c)
	}
}

// OnClose forgets the connection and announces its departure.
func (e *wsEvents) OnClose(socket *gws.Conn, err error) {
	c := connOf(socket)
	if c == nil {
		return
	}
	c.markClosed()
	c.kind.closed(e.s, c)
}

// OnPing answers through the connection's own write path, so that a pong never lands in
// the middle of a partly written frame.
func (e *wsEvents) OnPing(socket *gws.Conn, payload []byte) {
	if c := connOf(socket); c != nil {
		c.lastSeen.Store(e.s.coarseNow())
		c.send(encodeFrame(opPong, payload))
	}
}

// OnPong marks the connection alive.
func (e *wsEvents) OnPong(socket *gws.Conn, payload []byte) {
	if c := connOf(socket); c != nil {
		c.lastSeen.Store(e.s.coarseNow())
	}
}

// OnMessage handles one frame the peer sent.
func (e *wsEvents) OnMessage(socket *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	c := connOf(socket)
	if c == nil || c.isClosed() {
		return // frames that follow the server's close frame are not acted on
	}
	c.lastSeen.Store(e.s.coarseNow())
	b := msg.Bytes()
	e.s.metrics.framesIn.Inc()
	e.s.metrics.bytesIn.Add(float64(len(b)))
	c.kind.frame(e.s, c, msg.Opcode == gws.OpcodeBinary, b)
}

// underlyingTCP returns the TCP socket under nc, looking through wrappers that say what
// they wrap (a listener's per-address counting, internal/httpguard) but not through TLS;
// nil when there is none. Closing still goes through nc, so that the wrapper sees it.
func underlyingTCP(nc net.Conn) *net.TCPConn {
	for {
		switch c := nc.(type) {
		case *net.TCPConn:
			return c
		case interface{ Unwrap() net.Conn }:
			nc = c.Unwrap()
		default:
			return nil
		}
	}
}

// DefaultReadBufferSize is a client connection's read buffer: every idle connection keeps
// one, and what clients send (subscribes, refreshes, pongs, small publishes) fits in it.
const DefaultReadBufferSize = 256

// IngestReadBufferSize is the least read buffer of an ingest connection: it carries a
// publisher's stream, where a larger buffer reads several frames per system call.
const IngestReadBufferSize = 4096

// upgraderKey tells gws upgraders apart: one per read limit, read buffer size and
// whether permessage-deflate is offered (client connections: deflate.go).
type upgraderKey struct {
	maxPayload, readBuffer int
	deflate                bool
}

// upgrader returns the gws upgrader for a read limit, a read buffer size and deflate.
func (s *Server) upgrader(maxPayload, readBuffer int, deflate bool) *gws.Upgrader {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	k := upgraderKey{maxPayload, readBuffer, deflate}
	u := s.upgraders[k]
	if u == nil {
		var pd gws.PermessageDeflate
		if deflate {
			pd = deflateOption
		}
		u = gws.NewUpgrader(s.events, &gws.ServerOption{
			PermessageDeflate:  pd,
			ReadBufferSize:     readBuffer,
			ReadMaxPayloadSize: maxPayload,
			CheckUtf8Enabled:   true,
			NewSession:         func() gws.SessionStorage { return &connSession{} },
			Logger:             gwsLogger{s.log},
		})
		s.upgraders[k] = u
	}
	return u
}

type gwsLogger struct{ l *slog.Logger }

func (g gwsLogger) Error(v ...any) { g.l.Error(fmt.Sprint(v...)) }
