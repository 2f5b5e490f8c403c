package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/kete-dev/kete/internal/ingestwire"
	"github.com/kete-dev/kete/server/auth"
)

// handleIngest serves GET /apps/{appId}/publish/{topic…}: a WebSocket whose every frame is
// published as it is to topic, so that any plain WebSocket destination can feed the
// server. The token (authKey) or API key needs realtime:publisher:write:topic:<topic>.
//
// Delivery: a frame that is valid JSON becomes the broadcast's data unchanged; other text
// becomes a JSON string; a binary frame is delivered as a binary frame (text stays text).
//
// With ?ack=1 every frame is answered, in order, with a text frame
//
//	{"type":"ack","seq":N,"id":"…","status":"ok"|"duplicate"}
//	{"type":"nack","seq":N,"id":"…","error":"…"}
//
// where seq counts the connection's frames from 1 and id is the frame's top-level "id"
// (omitted when it has none; found however deep the frame nests, and compared byte for
// byte, see scanIngestFrame). A JSON object frame with a top-level "id" (string or number)
// already published to the same topic within the app's dedupWindow is not published
// again and is acked "duplicate". The same id sent to another topic (a second route of
// the same event) is a message of its own and is published.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	rt, h, cl := s.admit(w, r)
	if rt == nil {
		return
	}
	topic := r.PathValue("topic")
	if err := validTopic(topic); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_topic", err.Error())
		return
	}
	if !auth.CanPublish(cl.Permissions, topic) {
		s.refuse(w, http.StatusForbidden, "forbidden", "token lacks realtime:publisher:write:topic:"+topic)
		return
	}
	if !s.wantsUpgrade(w, r) {
		return
	}
	if _, err := h.reserve(withoutPerUser(rt), ""); err != nil {
		s.refuseAdmission(w, nil, err)
		return
	}
	c := &conn{wsWriter: newWSWriter(h.deps.out, rt.limits.MaxBacklog), id: newID(), hub: h,
		kind: &ingestConn{topic: topic, ack: ingestwire.AckRequested(r.URL.Query())}}
	ss := newSession(cl)
	s.applyTokenExpiry(rt, ss, cl)
	c.sess.Store(ss)
	s.upgradeAndServe(w, r, h, c, rt.limits.MaxIngestMessageSize)
}

// withoutPerUser returns rt for a reservation that the one-per-user policy does not touch.
func withoutPerUser(rt *appRuntime) *appRuntime {
	if rt.app.OneConnectionPerUser == OnePerUserOff {
		return rt
	}
	cp := *rt
	cp.app.OneConnectionPerUser = OnePerUserOff
	return &cp
}

// ingestConn is the kind of an ingest publisher: every frame it sends is published to
// its topic. Its fields are set before the upgrade, then touched by its read loop alone.
type ingestConn struct {
	topic string
	ack   bool
	seq   uint64
}

// An ingest connection carries a publisher's stream: a larger read buffer reads several
// frames per system call, and deflate is not offered.
func (*ingestConn) upgrade(readBuffer int) (int, bool) {
	return max(readBuffer, IngestReadBufferSize), false
}
func (*ingestConn) reservedSubject(*conn) string                 { return "" }
func (*ingestConn) register(_ *Server, c *conn, _ *http.Request) { c.hub.open(c) }
func (*ingestConn) unregister(c *conn) bool                      { return c.hub.remove(c) }
func (*ingestConn) opened(*Server, *conn)                        {}
func (*ingestConn) closed(_ *Server, c *conn)                    { c.hub.remove(c) }
func (in *ingestConn) frame(s *Server, c *conn, binary bool, b []byte) {
	s.ingestFrame(c, in, binary, b)
}

// ingestFrame publishes one ingest frame.
func (s *Server) ingestFrame(c *conn, in *ingestConn, binary bool, b []byte) {
	h := c.hub
	rt := h.cfg.Load()
	in.seq++
	seq := in.seq
	topic := in.topic

	var data []byte
	isJSON, id := scanIngestFrame(b)
	if isJSON {
		data = bytes.Clone(b)
	} else if binary {
		data, _ = json.Marshal(b) // base64 string
	} else {
		data = appendJSONString(make([]byte, 0, len(b)+2), string(b))
	}
	if rt.app.Audit.Enabled {
		s.auditIngest(c, topic, id, b, rt.app.Audit.LogPayloads)
	}
	if id != "" {
		if !h.dedup.firstSeen(topic, id, s.coarseNow(), rt.limits.DedupWindow.std(), rt.limits.DedupMaxIDs) {
			if in.ack {
				c.send(ingestAck(ingestwire.Duplicate(seq, id)))
			}
			return
		}
	}
	err := s.publish(s.ctx, h.appID, topic, Message{MessageType: "broadcast", Data: data, Binary: binary, Origin: "ingest:" + c.id, DedupID: id})
	if err != nil {
		if id != "" {
			h.dedup.forget(topic, id)
		}
		if in.ack {
			c.send(ingestAck(ingestwire.Nack(seq, id, err.Error())))
		}
		return
	}
	s.metrics.publishes.WithLabelValues("ingest").Inc()
	if in.ack {
		c.send(ingestAck(ingestwire.OK(seq, id)))
	}
}

func (s *Server) auditIngest(c *conn, topic, id string, b []byte, payloads bool) {
	attrs := []any{"app", c.hub.appID, "connection", c.id, "subject", c.session().subject, "type", "ingest", "topic", topic}
	if id != "" {
		attrs = append(attrs, "id", id)
	}
	if payloads {
		attrs = append(attrs, "payload", string(b))
	}
	s.log.Info("audit client frame", attrs...)
}

// ingestAck encodes an ingest ack or nack frame; ingestwire owns its bytes.
func ingestAck(a ingestwire.Ack) []byte { return encodeFrame(opText, ingestwire.Encode(a)) }
