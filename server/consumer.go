package server

import (
	"net/http"
	"strings"

	"github.com/kete-dev/kete/server/auth"
)

// The Drogue Cloud consumer endpoint: Drogue's WebSocket integration
// (https://book.drogue.io, "WebSocket integration") lets a backend consume an
// application's events as CloudEvents at wss://host/{application}[/{channel}], with
// ?group_id= to share them among the consumers of a group. kete serves the same shape
// under /drogue, away from the Realtime Pub/Sub paths (/apps/…, /api/…) and the dashboard:
//
//	GET /drogue/{appId}              every topic of the app the token may read
//	GET /drogue/{appId}/{channel…}   one topic (it may hold slashes: /drogue/a/events/login)
//
// Admission is every connection's (admit: app, source address, origin, authentication
// before the upgrade; maxConnections; metrics). Drogue's credentials are accepted:
// "Authorization: Bearer", Basic with username and API key, ?token=, ?username=&api_key=
// (auth.FromRequest). A channel under secure/ needs the token's read permission, priv/
// only the token's own subject's; a refusal is a 403 before the upgrade.
//
// The server sends one CloudEvent per text frame (cloudevent.go) and nothing else but the
// gap notice; the client sends only Drogue's token refresh, {"RefreshAccessToken":"…"}
// (accepted silently, as Drogue does; a refused token closes with 1008). Any other frame
// closes the connection with 1008 "Invalid message format!". Groups: groups.go.

// handleConsumer serves GET /drogue/{appId} and /drogue/{appId}/{channel...}.
func (s *Server) handleConsumer(w http.ResponseWriter, r *http.Request) {
	rt, h, cl := s.admit(w, r)
	if rt == nil {
		return
	}
	if cl.Subject == "" && rt.app.TokensWithoutSubject == SubjectlessReject {
		s.refuse(w, http.StatusUnauthorized, auth.CodeTokenInvalid, "token has no subject (sub claim); app "+rt.app.AppID+" requires one")
		return
	}
	id := newID()
	subject := subjectOf(cl, id)
	channel := r.PathValue("channel")
	if channel != "" {
		if err := validTopic(channel); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_channel", "channel: "+err.Error())
			return
		}
		probe := &session{subject: subject, permissions: cl.Permissions}
		if !consumerMayRead(probe, channel) {
			msg := "token lacks realtime:subscriber:read:topic:" + channel
			if strings.HasPrefix(channel, "priv/") {
				msg = "private topics of others cannot be consumed"
			}
			s.refuse(w, http.StatusForbidden, "forbidden", msg)
			return
		}
	}
	groupID := r.URL.Query().Get("group_id")
	if len(groupID) > maxTopicLen {
		writeError(w, http.StatusBadRequest, "invalid_group_id", "group_id is longer than the limit")
		return
	}
	if groupID != "" && h.groupsFull(groupKey{channel: channel, id: groupID}) {
		s.refuse(w, http.StatusServiceUnavailable, "too_many_groups", "app "+rt.app.AppID+" is at its maximum of consumer groups")
		return
	}
	if !s.wantsUpgrade(w, r) {
		return
	}
	ss := newSession(cl)
	s.setTokenExpiry(ss, cl, true)
	ss.subject = subject
	// A consumer is not a Realtime client: no one-connection-per-user slot.
	if _, err := h.reserve(rt, ""); err != nil {
		s.refuseAdmission(w, nil, err)
		return
	}
	c := &conn{wsWriter: newWSWriter(h.deps.out, rt.limits.MaxBacklog), id: id, hub: h, kind: &consumerState{channel: channel, groupID: groupID}}
	c.sess.Store(ss)
	s.upgradeAndServe(w, r, h, c, rt.limits.MaxMessageSize)
}

// consumer returns the state of c, a Drogue consumer connection.
func (c *conn) consumer() *consumerState { return c.kind.(*consumerState) }

// A consumer is the third kind of connection (connKind): no subject slot, no main; it
// joins its group when its read loop starts and understands only a token refresh.
func (*consumerState) upgrade(readBuffer int) (int, bool)           { return readBuffer, true }
func (*consumerState) reservedSubject(*conn) string                 { return "" }
func (*consumerState) register(_ *Server, c *conn, _ *http.Request) { c.hub.open(c) }
func (*consumerState) unregister(c *conn) bool                      { return c.hub.remove(c) }
func (*consumerState) opened(_ *Server, c *conn)                    { c.hub.joinGroup(c) }
func (*consumerState) frame(s *Server, c *conn, _ bool, b []byte)   { s.consumerFrame(c, b) }

func (*consumerState) closed(_ *Server, c *conn) {
	c.hub.leaveGroup(c)
	c.hub.remove(c)
}

// consumerFrame runs one frame a consumer sent: only the token refresh is understood.
func (s *Server) consumerFrame(c *conn, b []byte) {
	f, err := decodeClientFrame(b)
	if err != nil || f.Type != frameRefresh {
		s.metrics.closes.WithLabelValues("invalid_format").Inc()
		c.closeWith(ClosePolicyViolation, ReasonInvalidFormat, false)
		return
	}
	s.renewSession(c, c.hub.cfg.Load(), f.Token, true) // Drogue confirms nothing; its consumers see CloudEvents only
}
