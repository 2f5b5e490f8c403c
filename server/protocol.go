package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kete-dev/kete/server/auth"
)

// clientConn is the kind of a Realtime Pub/Sub client: it holds a subject (priv/{subject}
// reaches it, and so does main), speaks the client frames of this file and is rate
// limited.
type clientConn struct {
	// publishes is its publish rate limit, touched by its read loop alone; nil until its
	// first publish.
	publishes *publishBucket
}

func (*clientConn) upgrade(readBuffer int) (int, bool) { return readBuffer, true }
func (*clientConn) reservedSubject(c *conn) string     { return c.session().subject }
func (*clientConn) unregister(c *conn) bool            { return c.hub.removeClient(c) }

// register sends the welcome as it registers c. The welcome is built here, where the
// request's remote address is at hand (the connection need not keep it), before the
// read loop starts.
func (*clientConn) register(s *Server, c *conn, r *http.Request) {
	data, _ := json.Marshal(map[string]any{"connection": map[string]string{
		"id": c.id, "appId": c.hub.appID, "remoteAddress": welcomeAddress(r),
	}})
	c.hub.countries.addConnection(s.coarseNow(), c.hub.cfg.Load().app.CountryHeader, r)
	c.hub.openClient(c, encodeServerFrame("main", "welcome", data, false))
}

// opened announces the client on secure/inbound when the app says so.
func (*clientConn) opened(s *Server, c *conn) {
	if rt := c.hub.cfg.Load(); rt.app.EnableWebSocketInboundTopic {
		s.presence(c.hub.appID, c, 0, "connected")
	}
}

// closed forgets the client and announces its departure.
func (*clientConn) closed(s *Server, c *conn) {
	if !c.hub.removeClient(c) {
		return
	}
	if rt := c.hub.cfg.Load(); rt.app.EnableWebSocketInboundTopic {
		s.presence(c.hub.appID, c, -1, "disconnected")
	}
}

func (k *clientConn) frame(s *Server, c *conn, _ bool, b []byte) { s.clientFrame(c, k, b) }

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

// clientFrame runs one client frame of the Realtime Pub/Sub protocol.
func (s *Server) clientFrame(c *conn, k *clientConn, b []byte) {
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
		if !s.allowPublish(c, k, rt.limits) {
			return
		}
		if !auth.CanPublish(ss.permissions, f.Topic) {
			s.forbid(c, rt, f.Topic, "token lacks realtime:publisher:write:topic:"+f.Topic, f.ID, ReasonPublishForbidden)
			return
		}
		s.clientPublish(c, rt, ss, f, f.Topic, "websocket")
	case frameMessage:
		if !s.allowPublish(c, k, rt.limits) {
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

// refresh verifies a new token for c; the subject must stay the same. A refused token
// closes the connection (1008 ReasonTokenInvalid); an accepted one is confirmed with
// {"topic":"priv/{id}","messageType":"refreshed","data":{"expiresAt":…}}.
func (s *Server) refresh(c *conn, rt *appRuntime, token string) {
	cl, ok := s.renewSession(c, rt, token, rt.app.TokenExpiry.closes())
	if !ok {
		return
	}
	data := []byte(`{"expiresAt":`)
	if cl.ExpiresAt.IsZero() {
		data = append(data, "null"...)
	} else {
		data = appendJSONString(data, cl.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	c.send(encodeServerFrame("priv/"+c.id, "refreshed", append(data, '}'), false))
}

// renewSession verifies a new token for c and makes it c's session; the subject must stay
// the same. A refused token closes the connection (1008 ReasonTokenInvalid) and reports
// false. expiryCloses: the new token's exp closes the connection (setTokenExpiry).
func (s *Server) renewSession(c *conn, rt *appRuntime, token string, expiryCloses bool) (*auth.Claims, bool) {
	old := c.session()
	if rt.authV == nil {
		c.closeWith(ClosePolicyViolation, ReasonTokenInvalid, false)
		return nil, false
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
		return nil, false
	}
	ns := newSession(cl)
	s.setTokenExpiry(ns, cl, expiryCloses)
	ns.subject = old.subject
	c.sess.Store(ns)
	c.hub.dropRevokedSecure(c, ns.permissions)
	return cl, true
}

// frameType is what a client frame asks for.
type frameType uint8

const (
	frameSubscribe frameType = iota + 1
	frameUnsubscribe
	framePublish
	frameMessage
	frameRefresh
)

func (t frameType) String() string {
	switch t {
	case frameSubscribe:
		return "subscribe"
	case frameUnsubscribe:
		return "unsubscribe"
	case framePublish:
		return "publish"
	case frameMessage:
		return "message"
	case frameRefresh:
		return "refresh"
	}
	return "frameType(" + strconv.Itoa(int(t)) + ")"
}

// clientFrame is a decoded, validated client frame.
type clientFrame struct {
	Type        frameType
	Topic       string
	MessageType string // "broadcast" when the client gave none
	Payload     json.RawMessage
	ID          string // as given; the server generates one when empty
	Compress    bool
	Token       string          // refresh only
	Since       *StreamPosition // subscribe only: recover from this position
}

// Limits on client frame fields, so that one frame cannot make the server hold much.
const (
	maxTopicLen       = 256
	maxMessageTypeLen = 64
	maxIDLen          = 128
)

// errInvalidFrame is wrapped by every decodeClientFrame error; the connection is closed
// with ReasonInvalidFormat.
var errInvalidFrame = errors.New("invalid client frame")

type wireData struct {
	Topic       *string         `json:"topic"`
	MessageType *string         `json:"messageType"`
	Payload     json.RawMessage `json:"payload"`
	ID          json.RawMessage `json:"id"`
	Compress    *bool           `json:"compress"`
	Token       *string         `json:"token"`
	Since       *wireSince      `json:"since"`
}

// wireSince is a subscribe's "since":{"offset","epoch"}.
type wireSince struct {
	Offset *uint64 `json:"offset"`
	Epoch  string  `json:"epoch"`
}

type wireFrame struct {
	Type               *string   `json:"type"`
	Data               *wireData `json:"data"`
	RefreshAccessToken *string   `json:"RefreshAccessToken"`
}

// decodeClientFrame parses and validates one client text frame. Every error wraps
// errInvalidFrame and names what was wrong.
func decodeClientFrame(b []byte) (clientFrame, error) {
	var w wireFrame
	if err := json.Unmarshal(b, &w); err != nil {
		return clientFrame{}, fmt.Errorf("%w: %v", errInvalidFrame, err)
	}
	if w.RefreshAccessToken != nil {
		if w.Type != nil || w.Data != nil {
			return clientFrame{}, fmt.Errorf("%w: RefreshAccessToken must be alone", errInvalidFrame)
		}
		if *w.RefreshAccessToken == "" {
			return clientFrame{}, fmt.Errorf("%w: RefreshAccessToken is empty", errInvalidFrame)
		}
		return clientFrame{Type: frameRefresh, Token: *w.RefreshAccessToken}, nil
	}
	if w.Type == nil {
		return clientFrame{}, fmt.Errorf("%w: missing type", errInvalidFrame)
	}
	if w.Data == nil {
		return clientFrame{}, fmt.Errorf("%w: missing data", errInvalidFrame)
	}
	d := w.Data
	var f clientFrame
	switch *w.Type {
	case "subscribe":
		f.Type = frameSubscribe
	case "unsubscribe":
		f.Type = frameUnsubscribe
	case "publish":
		f.Type = framePublish
	case "message":
		f.Type = frameMessage
	case "refresh":
		if d.Token == nil || *d.Token == "" {
			return clientFrame{}, fmt.Errorf("%w: refresh needs data.token", errInvalidFrame)
		}
		return clientFrame{Type: frameRefresh, Token: *d.Token}, nil
	default:
		return clientFrame{}, fmt.Errorf("%w: unknown type %q", errInvalidFrame, *w.Type)
	}
	if f.Type != frameMessage {
		if d.Topic == nil {
			return clientFrame{}, fmt.Errorf("%w: %s needs data.topic", errInvalidFrame, f.Type)
		}
		if err := validTopic(*d.Topic); err != nil {
			return clientFrame{}, fmt.Errorf("%w: %v", errInvalidFrame, err)
		}
		f.Topic = *d.Topic
	}
	if f.Type == frameSubscribe && d.Since != nil {
		if d.Since.Offset == nil {
			return clientFrame{}, fmt.Errorf("%w: since needs an offset", errInvalidFrame)
		}
		f.Since = &StreamPosition{Offset: *d.Since.Offset, Epoch: d.Since.Epoch}
	}
	if f.Type == frameSubscribe || f.Type == frameUnsubscribe {
		return f, nil
	}
	if err := decodePublish(&f, d); err != nil {
		return clientFrame{}, err
	}
	return f, nil
}

// decodePublish fills in what a publish or message frame carries beyond its type and
// topic: payload, messageType, compress and id.
func decodePublish(f *clientFrame, d *wireData) error {
	if len(d.Payload) == 0 {
		return fmt.Errorf("%w: %s needs data.payload", errInvalidFrame, f.Type)
	}
	if i := invalidUTF8At(d.Payload); i >= 0 {
		// A binary client frame may carry any bytes, but the payload goes out in a text
		// frame, which every subscriber must drop the connection for (RFC 6455 §8.1).
		return fmt.Errorf("%w: payload is not valid UTF-8 (at byte %d)", errInvalidFrame, i)
	}
	f.Payload = d.Payload
	f.MessageType = "broadcast"
	if d.MessageType != nil && *d.MessageType != "" {
		if len(*d.MessageType) > maxMessageTypeLen {
			return fmt.Errorf("%w: messageType longer than %d bytes", errInvalidFrame, maxMessageTypeLen)
		}
		f.MessageType = *d.MessageType
	}
	if d.Compress != nil {
		f.Compress = *d.Compress
	}
	if len(d.ID) > 0 && string(d.ID) != "null" {
		id, err := decodeID(d.ID)
		if err != nil {
			return fmt.Errorf("%w: %v", errInvalidFrame, err)
		}
		f.ID = id
	}
	return nil
}

// decodeID accepts a string or a number as a message id.
func decodeID(raw json.RawMessage) (string, error) {
	var id string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", fmt.Errorf("id: %v", err)
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("id must be a string or a number")
		}
		id = n.String()
	}
	if len(id) > maxIDLen {
		return "", fmt.Errorf("id longer than %d bytes", maxIDLen)
	}
	return id, nil
}

// invalidUTF8At returns the offset of the first byte of b that is not part of valid
// UTF-8, or -1 when b is valid.
func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// validTopic reports why a topic name is unusable: empty, too long, not UTF-8, or with
// a character that cannot be told apart when printed: Unicode whitespace (White_Space:
// also U+00A0, U+2003, U+3000…), control characters (Cc: C0, DEL, C1) and invisible format
// characters (Cf: U+200B zero-width space, U+202E bidi override, U+FEFF…), so that a name
// in a log, a permission pattern or a dashboard is the name that was used.
func validTopic(t string) error {
	if t == "" {
		return errors.New("topic is empty")
	}
	if len(t) > maxTopicLen {
		return fmt.Errorf("topic longer than %d bytes", maxTopicLen)
	}
	if !utf8.ValidString(t) {
		return errors.New("topic is not valid UTF-8")
	}
	for i, r := range t {
		if r > ' ' && r < 0x7F {
			continue
		}
		if r <= ' ' || r == 0x7F || unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("topic %q has a space, control or invisible character (%U at byte %d)", t, r, i)
		}
	}
	return nil
}
