package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server/auth"
)

// writeError writes the API's error body {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	_, _ = w.Write(append(b, '\n'))
}

// authenticate verifies the request's token (with v) or API key (with keys) and returns
// its claims; on failure it has written the 401 and counted the reason.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, v *auth.Verifier, keys *auth.APIKeys) *auth.Claims {
	cr := auth.FromRequest(r)
	var (
		cl  *auth.Claims
		err error
	)
	switch {
	case cr.Token != "":
		if v == nil {
			err = &auth.Error{Status: http.StatusUnauthorized, Code: "token_invalid", Reason: "app has no key to verify tokens"}
		} else {
			cl, err = v.VerifyContext(r.Context(), cr.Token)
		}
	case cr.APIKey != "":
		if keys == nil {
			err = &auth.Error{Status: http.StatusUnauthorized, Code: auth.CodeAPIKeyInvalid, Reason: "app has no API keys"}
		} else {
			cl, err = keys.Verify(cr.APIKey)
		}
	default:
		err = &auth.Error{Status: http.StatusUnauthorized, Code: "token_missing", Reason: "no access token or API key"}
	}
	if err == nil {
		return cl
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = &auth.Error{Status: http.StatusUnauthorized, Code: "token_invalid", Reason: err.Error()}
	}
	if ae.Status == 0 {
		ae.Status = http.StatusUnauthorized
	}
	s.refusals.note(ae.Status, ae.Code, ae.Reason, requestAttrs(r)...)
	ae.WriteHTTP(w)
	return nil
}

// refuse writes an error and counts and logs it as a refusal with reason code (without
// the request's details: refuseRequest has them).
func (s *Server) refuse(w http.ResponseWriter, status int, code, message string) {
	s.refuseRequest(w, nil, status, code, message)
}

// enabledApp finds the request's app, refuses it when unknown (404) or disabled (403),
// and checks the request's source address (403) against the app's admin policy for the
// HTTP API, else its client policy. It writes the refusal.
func (s *Server) enabledApp(w http.ResponseWriter, r *http.Request, admin bool) (*appRuntime, *hub) {
	if s.closed.Load() {
		// Close empties the app table while the listener may still answer: without this a
		// client would be told 404 app_not_found, which a destination takes as permanent.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "shutting_down", "server is shutting down")
		return nil, nil
	}
	appID := r.PathValue("appId")
	rt, h := s.app(appID)
	if rt == nil {
		s.refuseRequest(w, r, http.StatusNotFound, "app_not_found", "no app "+appID)
		return nil, nil
	}
	if !rt.app.Enabled {
		s.refuseRequest(w, r, http.StatusForbidden, "app_disabled", "app "+appID+" is disabled")
		return nil, nil
	}
	policy, what, policyKey := rt.clientSrc, "app ", "clientSourceAddress"
	if admin {
		policy, what, policyKey = rt.adminSrc, "the admin API of app ", "adminSourceAddress"
	}
	addr, _ := remoteAddr(r)
	if !policy.Allows(addr) {
		s.refuseRequest(w, r, http.StatusForbidden, auth.CodeSourceForbidden, "source address "+addr.String()+" is not allowed to reach "+what+appID+" (its "+policyKey+")")
		return nil, nil
	}
	return rt, h
}

// admit runs the checks every WebSocket upgrade shares, before the upgrade, so that a
// refusal is a real HTTP status with a JSON body (gws answers 400 to anything it refuses).
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*appRuntime, *hub, *auth.Claims) {
	rt, h := s.enabledApp(w, r, false)
	if rt == nil {
		return nil, nil, nil
	}
	appID := rt.app.AppID
	if origin, derived := requestOrigin(r); origin != "" && len(rt.origins) > 0 && !rt.anyOrigin && !originAllowed(rt.origins, origin, derived) {
		s.refuseRequest(w, r, http.StatusForbidden, "origin_denied", "origin "+origin+" is not in the allowedOrigins of app "+appID)
		return nil, nil, nil
	}
	cl := s.authenticate(w, r, rt.authV, rt.apiKeys)
	if cl == nil {
		return nil, nil, nil
	}
	return rt, h, cl
}

// wantsUpgrade answers 426 to a request that passed auth but asks for no WebSocket, before
// anything is reserved: a plain GET must not count against limits or, under the replace
// policy, close the subject's live connection. (Auth failures still answer a plain GET, so
// a browser can learn why its WebSocket was refused.)
func (s *Server) wantsUpgrade(w http.ResponseWriter, r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return true
	}
	w.Header().Set("Upgrade", "websocket")
	writeError(w, http.StatusUpgradeRequired, "upgrade_required", "this endpoint is a WebSocket: send Upgrade: websocket")
	return false
}

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
	replace, status, code, reason := h.reserve(rt, ss.subject)
	if status != 0 {
		s.refuseRequest(w, r, status, code, reason)
		return
	}
	for _, old := range replace {
		s.metrics.closes.WithLabelValues("replaced").Inc()
		old.closeWith(ClosePolicyViolation, ReasonReplaced, false)
	}
	c := &conn{id: id, hub: h, maxBacklog: rt.limits.MaxBacklog}
	c.sess.Store(ss)
	if rt.app.OneConnectionPerUser == OnePerUserReplace && cl.Subject != "" {
		// The subject's connections on other nodes go too.
		s.broadcastControl(r.Context(), h.appID, control{Op: ctlReplace, Subject: cl.Subject, Except: c.id})
	}
	s.upgradeAndServe(w, r, h, c, rt.limits.MaxMessageSize)
}

// subjectOf is the subject of a connection with id authenticated by cl: a token without
// "sub" makes the connection a user of its own, so that it shares no priv/ topic and no
// one-connection-per-user slot with every other such token.
func subjectOf(cl *auth.Claims, connID string) string {
	if cl.Subject == "" {
		return connID
	}
	return cl.Subject
}

// newSession builds a connection's session from verified claims.
func newSession(cl *auth.Claims) *session {
	ss := &session{subject: cl.Subject, permissions: cl.Permissions}
	if !cl.ExpiresAt.IsZero() {
		ss.expires = cl.ExpiresAt.UnixNano()
	}
	return ss
}

// appendClient appends {"connectionId","subject","permissions"}, the "client" of the
// frames connection connID publishes with session ss.
func appendClient(dst []byte, connID string, ss *session) []byte {
	dst = append(dst, `{"connectionId":`...)
	dst = appendJSONString(dst, connID)
	dst = append(dst, `,"subject":`...)
	dst = appendJSONString(dst, ss.subject)
	dst = append(dst, `,"permissions":[`...)
	for i, p := range ss.permissions {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, p)
	}
	return append(dst, "]}"...)
}

// clientSize is about how long appendClient's output is, to size a buffer.
func clientSize(connID string, ss *session) int {
	n := 50 + len(connID) + len(ss.subject)
	for _, p := range ss.permissions {
		n += len(p) + 3
	}
	return n
}

// upgradeAndServe upgrades the reserved connection and starts its read loop.
func (s *Server) upgradeAndServe(w http.ResponseWriter, r *http.Request, h *hub, c *conn, maxPayload int) {
	if s.closed.Load() {
		h.unreserve(c.reservedSubject())
		s.refuseRequest(w, r, http.StatusServiceUnavailable, RefusedShuttingDown, "server is shutting down")
		return
	}
	readBuffer := s.opts.ReadBufferSize
	if c.ingest {
		readBuffer = max(readBuffer, IngestReadBufferSize)
	}
	hj, ok := w.(http.Hijacker)
	var nc net.Conn
	var err error
	if ok {
		nc, _, err = hj.Hijack() // like gws's Upgrade: what net/http buffered is not used
	}
	if !ok || err != nil {
		h.unreserve(c.reservedSubject())
		s.log.Debug("websocket upgrade failed: connection cannot be taken over", slog.String("app", h.appID), slog.Any("error", err))
		if !ok {
			writeError(w, http.StatusInternalServerError, "upgrade_failed", "this connection cannot be upgraded")
		}
		return
	}
	gc := &gwsConn{Conn: nc}
	c.deflate = !c.ingest && offersDeflate(r) // what gws negotiates below
	socket, err := s.upgrader(maxPayload, readBuffer, !c.ingest).UpgradeFromConn(gc, bufio.NewReaderSize(nc, readBuffer), r)
	if err != nil {
		h.unreserve(c.reservedSubject())
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
	var welcome []byte
	if c.isClient() {
		// Built here, where the request's remote address is at hand (the connection need
		// not keep it) and before the read loop starts (whose goroutine then never runs
		// the welcome's encoding); open sends it.
		data, _ := json.Marshal(map[string]any{"connection": map[string]string{
			"id": c.id, "appId": h.appID, "remoteAddress": welcomeAddress(r),
		}})
		welcome = encodeServerFrame("main", "welcome", data, false)
		h.countries.addConnection(s.coarseNow(), h.cfg.Load().app.CountryHeader, r)
	}
	if s.opts.upgraded != nil {
		s.opts.upgraded()
	}
	h.open(c, welcome)
	socket.Session().Store("conn", c)
	if !s.addLoop() {
		// Close began during the upgrade and no longer waits for new read loops.
		h.remove(c)
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

// OnOpen announces a client's presence; upgradeAndServe has sent its welcome frame and
// registered it.
func (e *wsEvents) OnOpen(socket *gws.Conn) {
	c := connOf(socket)
	if c != nil && c.consumer != nil {
		c.hub.joinGroup(c)
	}
	if c == nil || !c.isClient() {
		return
	}
	h := c.hub
	if rt := h.cfg.Load(); rt.app.EnableWebSocketInboundTopic {
		e.s.presence(h.appID, c, 0, "connected")
	}
}

// presence publishes a presence event for c on secure/inbound.
func (s *Server) presence(appID string, c *conn, code int, status string) {
	ss := c.session()
	data := make([]byte, 0, clientSize(c.id, ss)+80)
	data = append(data, `{"client":`...)
	data = appendClient(data, c.id, ss)
	data = append(data, `,"subProtocol":1,"payload":{"code":`...)
	if code < 0 {
		data = append(data, '-')
		code = -code
	}
	data = append(data, byte('0'+code))
	data = append(data, `,"status":`...)
	data = appendJSONString(data, status)
	data = append(data, "}}"...)
	if err := s.publish(s.ctx, appID, "secure/inbound", Message{MessageType: "presence", Data: data, Origin: c.id}); err != nil {
		s.log.Debug("presence not published", slog.String("app", appID), slog.String("error", err.Error()))
	}
}

// OnClose forgets the connection and announces its departure.
func (e *wsEvents) OnClose(socket *gws.Conn, err error) {
	c := connOf(socket)
	if c == nil {
		return
	}
	c.markClosed()
	h := c.hub
	if c.consumer != nil {
		h.leaveGroup(c)
	}
	if h.remove(c) && c.isClient() {
		if rt := h.cfg.Load(); rt.app.EnableWebSocketInboundTopic {
			e.s.presence(h.appID, c, -1, "disconnected")
		}
	}
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

// OnMessage handles one client (or ingest) frame.
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
	if c.ingest {
		e.s.ingestFrame(c, msg.Opcode == gws.OpcodeBinary, b)
		return
	}
	if c.consumer != nil {
		e.s.consumerFrame(c, b)
		return
	}
	e.s.clientFrame(c, b)
}

// clientFrame runs one client frame of the Realtime Pub/Sub protocol.
func (s *Server) clientFrame(c *conn, b []byte) {
	h := c.hub
	rt := h.cfg.Load()
	f, err := decodeClientFrame(b)
	if err != nil {
		s.metrics.closes.WithLabelValues("invalid_format").Inc()
		if rt.app.Audit.Enabled {
			s.log.Info("audit client frame", slog.String("app", h.appID), slog.String("connection", c.id), slog.String("type", "invalid"), slog.String("error", err.Error()))
		}
		c.closeWith(ClosePolicyViolation, ReasonInvalidFormat, false)
		return
	}
	ss := c.session()
	if rt.app.Audit.Enabled {
		attrs := []any{slog.String("app", h.appID), slog.String("connection", c.id), slog.String("subject", ss.subject), slog.String("type", f.Type.String())}
		if f.Topic != "" {
			attrs = append(attrs, slog.String("topic", f.Topic))
		}
		if f.ID != "" {
			attrs = append(attrs, slog.String("id", f.ID))
		}
		if rt.app.Audit.LogPayloads && f.Payload != nil {
			attrs = append(attrs, slog.String("payload", string(f.Payload)))
		}
		s.log.Info("audit client frame", attrs...)
	}
	switch f.Type {
	case frameSubscribe:
		switch {
		case strings.HasPrefix(f.Topic, "priv/"):
			s.forbid(c, rt, f.Topic, "private topics cannot be subscribed to", "", ReasonSubscribePrivateForbidden)
		case strings.HasPrefix(f.Topic, "secure/") && !auth.CanSubscribe(ss.permissions, f.Topic):
			s.forbid(c, rt, f.Topic, "token lacks realtime:subscriber:read:topic:"+f.Topic, "", ReasonSubscribeSecureForbidden)
		case hasHistory(rt, f.Topic):
			// The welcome (with the topic's position) and any replay are sent by subscribeFrom.
			read := h.readBrokerHistory(rt, f.Topic, f.Since)
			if _, full := h.subscribeFrom(c, rt, f.Topic, f.Since, read); full {
				c.send(errorFrame(f.Topic, "too_many_subscriptions", "connection is at its maximum of subscriptions", ""))
			}
		default:
			added, full := h.subscribe(c, f.Topic, rt.limits.MaxSubscriptions)
			if full {
				c.send(errorFrame(f.Topic, "too_many_subscriptions", "connection is at its maximum of subscriptions", ""))
			} else if added {
				data := appendJSONString([]byte(`{"topic":`), f.Topic)
				if f.Since != nil {
					data = append(data, `,"recovered":false`...) // the app keeps no history
				}
				c.send(encodeServerFrame(f.Topic, "welcome", append(data, '}'), false))
			}
		}
	case frameUnsubscribe:
		h.unsubscribe(c, f.Topic)
	case framePublish:
		if !s.allowPublish(c, rt.limits) {
			return
		}
		if !auth.CanPublish(ss.permissions, f.Topic) {
			s.forbid(c, rt, f.Topic, "token lacks realtime:publisher:write:topic:"+f.Topic, f.ID, ReasonPublishForbidden)
			return
		}
		s.clientPublish(c, rt, ss, f, f.Topic, "websocket")
	case frameMessage:
		if !s.allowPublish(c, rt.limits) {
			return
		}
		if rt.app.EnableWebSocketInboundTopic {
			s.clientPublish(c, rt, ss, f, "secure/inbound", "message")
		} else if rt.app.ClientInboundAckEnabled {
			s.ack(c, f.ID)
		}
	case frameRefresh:
		s.refresh(c, rt, f.Token)
	}
}

// clientPublish publishes a client's publish or message frame with data
// {"payload","id","client"} and acks it when the app says so.
func (s *Server) clientPublish(c *conn, rt *appRuntime, ss *session, f clientFrame, topic, source string) {
	if f.ID == "" {
		f.ID = newID()
	}
	data := make([]byte, 0, len(f.Payload)+len(f.ID)+clientSize(c.id, ss)+40)
	data = append(data, `{"payload":`...)
	data = append(data, f.Payload...)
	data = append(data, `,"id":`...)
	data = appendJSONString(data, f.ID)
	data = append(data, `,"client":`...)
	data = appendClient(data, c.id, ss)
	data = append(data, '}')
	if s.tooBigToDeliver(c, rt, topic, f.MessageType, data, f.ID) {
		return
	}
	err := s.publish(s.ctx, c.hub.appID, topic, Message{MessageType: f.MessageType, Data: data, Binary: f.Compress, Origin: c.id})
	if err != nil {
		c.send(errorFrame(topic, "publish_failed", err.Error(), f.ID))
		return
	}
	s.metrics.publishes.WithLabelValues(source).Inc()
	if rt.app.ClientInboundAckEnabled {
		s.ack(c, f.ID)
	}
}

// ack sends {"topic":"priv/acks","messageType":"ack","data":{"data":id}}, the form the
// realtime-pubsub-client's waitForAck expects.
func (s *Server) ack(c *conn, id string) {
	data := appendJSONString([]byte(`{"data":`), id)
	c.send(encodeServerFrame("priv/acks", "ack", append(data, '}'), false))
}

// errorFrame is the server's answer to a refused frame:
// {"topic":T,"messageType":"error","data":{"code","message","id"?}}.
func errorFrame(topic, code, message, id string) []byte {
	data := []byte(`{"code":`)
	data = appendJSONString(data, code)
	data = append(data, `,"message":`...)
	data = appendJSONString(data, message)
	if id != "" {
		data = append(data, `,"id":`...)
		data = appendJSONString(data, id)
	}
	data = append(data, '}')
	return encodeServerFrame(topic, "error", data, false)
}

// refresh verifies a new token for c; the subject must stay the same. A refused token
// closes the connection (1008 ReasonTokenInvalid); an accepted one is confirmed with
// {"topic":"priv/{id}","messageType":"refreshed","data":{"expiresAt":…}}.
func (s *Server) refresh(c *conn, rt *appRuntime, token string) {
	old := c.session()
	if rt.authV == nil {
		c.closeWith(ClosePolicyViolation, ReasonTokenInvalid, false)
		return
	}
	cl, err := rt.authV.Verify(token)
	if err == nil && cl.Subject == "" && rt.app.TokensWithoutSubject == SubjectlessReject {
		err = &auth.Error{Status: http.StatusUnauthorized, Code: auth.CodeTokenInvalid, Reason: "token has no subject (sub claim)"}
	}
	if err != nil || subjectOf(cl, c.id) != old.subject {
		code := "subject_mismatch"
		var ae *auth.Error
		if errors.As(err, &ae) {
			code = ae.Code
		}
		s.refusals.note(http.StatusUnauthorized, code, "token refresh refused", slog.String("app", c.hub.appID), slog.String("connection", c.id))
		s.metrics.closes.WithLabelValues("token_invalid").Inc()
		c.closeWith(ClosePolicyViolation, ReasonTokenInvalid, false)
		return
	}
	ns := newSession(cl)
	s.setTokenExpiry(ns, cl, rt.app.TokenExpiry.closes() || c.consumer != nil)
	ns.subject = old.subject
	c.sess.Store(ns)
	c.hub.dropRevokedSecure(c, ns.permissions)
	if c.consumer != nil {
		return // Drogue confirms nothing; its consumers see CloudEvents only
	}
	data := []byte(`{"expiresAt":`)
	if cl.ExpiresAt.IsZero() {
		data = append(data, "null"...)
	} else {
		data = appendJSONString(data, cl.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	c.send(encodeServerFrame("priv/"+c.id, "refreshed", append(data, '}'), false))
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
