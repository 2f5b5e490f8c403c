package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/kete-dev/kete/server/auth"
)

// Permissions of the HTTP API (Realtime Pub/Sub names).
const (
	PermManageConnections = "realtime:admin:manage:connections"
	PermManageSubscribers = "realtime:admin:manage:subscribers"
	PermManageApplication = "realtime:admin:manage:application"
)

// maxTopicPatterns caps topicPatterns in an unsubscribe request.
const maxTopicPatterns = 50

// apiPublishTimeout bounds how long an HTTP publish waits for a full hub (then 429).
const apiPublishTimeout = 2 * time.Second

// adminAuth checks the app, the admin source address and the adminKey token (or an API
// key); perm, when not empty, must be granted. It writes the refusal itself.
func (s *Server) adminAuth(w http.ResponseWriter, r *http.Request, perm string) (*appRuntime, *hub, *auth.Claims) {
	rt, h := s.enabledApp(w, r, true)
	if rt == nil {
		return nil, nil, nil
	}
	cl := s.authenticate(w, r, rt.adminV, rt.apiKeys)
	if cl == nil {
		return nil, nil, nil
	}
	if perm != "" && !auth.Has(cl.Permissions, perm) {
		s.refuse(w, http.StatusForbidden, "forbidden", "token lacks "+perm)
		return nil, nil, nil
	}
	return rt, h, cl
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody decodes a JSON body of at most limit bytes into v; it writes 413 or 400.
func readBody(w http.ResponseWriter, r *http.Request, limit int, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, int64(limit))
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("body over %d bytes", limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_body", "body: "+err.Error())
		return false
	}
	return true
}

// handleHealth serves GET /api/health/status (no auth): {"status","apps","connections"}
// of this node and, in a cluster (see roster.go), "node" (this node's id), "nodes" (the
// figures of every node heard from, this one included) and "cluster" (their sums).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	self := nodeFigures{Node: s.nodeID, Self: true}
	hubs := s.hubList()
	for _, h := range hubs {
		self.Apps++
		if s.roster != nil {
			c, n := h.load()
			self.Connections += c
			self.Subscriptions += n
		} else {
			n, _ := h.counts()
			self.Connections += n
		}
	}
	status := "ok"
	if s.closed.Load() {
		status = "shutting_down"
	}
	out := map[string]any{"status": status, "apps": self.Apps, "connections": self.Connections}
	if s.roster != nil {
		self.Held = int(s.roster.localN.Load())
		nodes := append([]nodeFigures{self}, s.roster.remoteFigures()...)
		var sum struct {
			Nodes         int `json:"nodes"`
			Connections   int `json:"connections"`
			Subscriptions int `json:"subscriptions"`
			Held          int `json:"held"`
		}
		for _, n := range nodes {
			sum.Nodes++
			sum.Connections += n.Connections
			sum.Subscriptions += n.Subscriptions
			sum.Held += n.Held
		}
		out["node"] = s.nodeID
		out["nodes"] = nodes
		out["cluster"] = sum
	}
	writeJSON(w, http.StatusOK, out)
}

// apiPublishRequest is the body of POST /api/topics/{appId}/publish.
type apiPublishRequest struct {
	Topic       string          `json:"topic"`
	Message     json.RawMessage `json:"message"`
	MessageType string          `json:"messageType"`
	Compress    bool            `json:"compress"`
}

// handleAPIPublish serves POST /api/topics/{appId}/publish: subscribers of topic get
// {"topic","messageType":"broadcast" (or the given one),"data":message}. The token needs
// realtime:publisher:write:topic:<topic>; the message is limited to maxPublishSize and
// the delivered frame to maxDeliveredSize (413).
// A message that is not valid UTF-8 is refused with 400 (it would go out in a text frame).
func (s *Server) handleAPIPublish(w http.ResponseWriter, r *http.Request) {
	rt, h, cl := s.adminAuth(w, r, "")
	if rt == nil {
		return
	}
	var req apiPublishRequest
	// The body holds the message and a few short fields (topic ≤ 256 bytes, messageType).
	if !readBody(w, r, rt.limits.MaxPublishSize+1024, &req) {
		return
	}
	if len(req.Message) > rt.limits.MaxPublishSize {
		writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("message of %d bytes is over the app's maxPublishSize (%d)", len(req.Message), rt.limits.MaxPublishSize))
		return
	}
	if err := validPublishTopic(req.Topic); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_topic", err.Error())
		return
	}
	if len(req.Message) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_body", "body: message is missing")
		return
	}
	if i := invalidUTF8At(req.Message); i >= 0 {
		// Delivered as it is in a text frame, it would make every client of the app fail
		// the connection (RFC 6455 §8.1); JSON text is UTF-8 anyway (RFC 8259 §8.1).
		writeError(w, http.StatusBadRequest, "invalid_body", fmt.Sprintf("body: message is not valid UTF-8 (at byte %d of message)", i))
		return
	}
	if len(req.MessageType) > maxMessageTypeLen {
		writeError(w, http.StatusBadRequest, "invalid_body", "body: messageType too long")
		return
	}
	if n := deliveredSize(req.Topic, req.MessageType, len(req.Message)); n > rt.limits.MaxDeliveredSize {
		writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("delivered frame of %d bytes would be over the app's maxDeliveredSize (%d)", n, rt.limits.MaxDeliveredSize))
		return
	}
	if !auth.CanPublish(cl.Permissions, req.Topic) {
		s.refuse(w, http.StatusForbidden, "forbidden", "token lacks realtime:publisher:write:topic:"+req.Topic)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiPublishTimeout)
	defer cancel()
	msg := Message{MessageType: req.MessageType, Data: req.Message, Binary: req.Compress, Origin: "api"}
	if err := s.publish(ctx, h.appID, req.Topic, msg); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			writeError(w, http.StatusTooManyRequests, "busy", "the app's fan-out queue is full; retry later")
			return
		}
		writeError(w, http.StatusServiceUnavailable, "publish_failed", err.Error())
		return
	}
	s.metrics.publishes.WithLabelValues("api").Inc()
	writeJSON(w, http.StatusOK, map[string]any{"published": true, "topic": req.Topic})
}

// apiUnsubscribeRequest is the body of POST /api/topics/{appId}/unsubscribe.
type apiUnsubscribeRequest struct {
	TopicPatterns []string `json:"topicPatterns"`
	Subject       string   `json:"subject"`
}

// handleAPIUnsubscribe serves POST /api/topics/{appId}/unsubscribe: the connections of
// subject (every connection when subject is empty) leave every topic matching
// topicPatterns (1 to 50 patterns, "*" wildcards, "!" negates).
func (s *Server) handleAPIUnsubscribe(w http.ResponseWriter, r *http.Request) {
	rt, h, _ := s.adminAuth(w, r, PermManageSubscribers)
	if rt == nil {
		return
	}
	var req apiUnsubscribeRequest
	if !readBody(w, r, 64<<10, &req) {
		return
	}
	if len(req.TopicPatterns) == 0 || len(req.TopicPatterns) > maxTopicPatterns {
		writeError(w, http.StatusBadRequest, "invalid_body", fmt.Sprintf("body: topicPatterns must hold 1 to %d patterns", maxTopicPatterns))
		return
	}
	n := h.unsubscribeMatching(req.TopicPatterns, req.Subject)
	out := map[string]any{"unsubscribed": n}
	if s.broadcastControl(r.Context(), h.appID, control{Op: ctlUnsubscribe, Patterns: req.TopicPatterns, Subject: req.Subject}) {
		out["forwarded"] = true // other nodes apply it to their connections
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAPICloseOne serves DELETE /api/connections/{appId}/{connectionId}.
func (s *Server) handleAPICloseOne(w http.ResponseWriter, r *http.Request) {
	rt, h, _ := s.adminAuth(w, r, PermManageConnections)
	if rt == nil {
		return
	}
	id := r.PathValue("connectionId")
	c := h.connection(id)
	if c == nil {
		// Not on this node: in a cluster, the node that holds it closes it.
		if s.broadcastControl(r.Context(), h.appID, control{Op: ctlClose, Connection: id}) {
			writeJSON(w, http.StatusAccepted, map[string]any{"closed": 0, "forwarded": true})
			return
		}
		writeError(w, http.StatusNotFound, "connection_not_found", "no connection "+id+" in app "+h.appID)
		return
	}
	s.metrics.closes.WithLabelValues("admin").Inc()
	c.closeWith(CloseNormal, ReasonClosedByAdmin, false)
	writeJSON(w, http.StatusOK, map[string]any{"closed": 1})
}

// handleAPICloseAll serves DELETE /api/connections/{appId}.
func (s *Server) handleAPICloseAll(w http.ResponseWriter, r *http.Request) {
	rt, h, _ := s.adminAuth(w, r, PermManageConnections)
	if rt == nil {
		return
	}
	conns := h.snapshot(nil)
	for _, c := range conns {
		c.closeWith(CloseNormal, ReasonClosedByAdmin, false)
	}
	s.metrics.closes.WithLabelValues("admin").Add(float64(len(conns)))
	out := map[string]any{"closed": len(conns)}
	if s.broadcastControl(r.Context(), h.appID, control{Op: ctlCloseAll}) {
		out["forwarded"] = true
	}
	writeJSON(w, http.StatusOK, out)
}

// telemetryRecordJSON is one 30-minute bucket in the telemetry answer.
type telemetryRecordJSON struct {
	ID          string `json:"_id"`
	Ops         int64  `json:"ops"`
	Bytes       int64  `json:"bytes"`
	Subscribers int64  `json:"subscribers"`
}

// handleAPITelemetry serves GET /api/telemetry/aggregates/{appId}/{days} (1 to 31 days):
// {"ops","bytes","subscribers","records":[{"_id":bucket start,"ops","bytes","subscribers"}]}
// of this node and, in a cluster, "node", "nodes" (each node's sums, from the buckets its
// heartbeats reported while this node heard them) and "cluster" (the same shape as this
// node's answer, over every node).
func (s *Server) handleAPITelemetry(w http.ResponseWriter, r *http.Request) {
	rt, h, _ := s.adminAuth(w, r, PermManageApplication)
	if rt == nil {
		return
	}
	days, err := strconv.Atoi(r.PathValue("days"))
	if err != nil || days < 1 || days > 31 {
		writeError(w, http.StatusBadRequest, "invalid_days", "days must be a whole number from 1 to 31, got "+strconv.Quote(r.PathValue("days")))
		return
	}
	now := time.Unix(0, s.coarseNow())
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	recs := h.telemetry.since(from)
	out := telemetryJSON(recs)
	if s.roster == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	// In a cluster: every node sees every publication, so ops and bytes of the cluster are
	// the largest node's, per bucket; subscribers reached add up.
	remote := s.roster.remoteTelemetry(h.appID, from)
	type nodeTelemetry struct {
		Node        string `json:"node"`
		Self        bool   `json:"self,omitempty"`
		Ops         int64  `json:"ops"`
		Bytes       int64  `json:"bytes"`
		Subscribers int64  `json:"subscribers"`
	}
	nodes := []nodeTelemetry{{Node: s.nodeID, Self: true, Ops: out.Ops, Bytes: out.Bytes, Subscribers: out.Subscribers}}
	buckets := make(map[int64]telemetryRecord)
	add := func(rs []telemetryRecord) {
		for _, rec := range rs {
			b := buckets[rec.Start]
			b.Start = rec.Start
			b.Ops = max(b.Ops, rec.Ops)
			b.Bytes = max(b.Bytes, rec.Bytes)
			b.Subscribers += rec.Subscribers
			buckets[rec.Start] = b
		}
	}
	add(recs)
	ids := make([]string, 0, len(remote))
	for id := range remote {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := telemetryJSON(remote[id])
		nodes = append(nodes, nodeTelemetry{Node: id, Ops: t.Ops, Bytes: t.Bytes, Subscribers: t.Subscribers})
		add(remote[id])
	}
	all := make([]telemetryRecord, 0, len(buckets))
	for _, b := range buckets {
		all = append(all, b)
	}
	sortRecords(all)
	writeJSON(w, http.StatusOK, struct {
		telemetryTotals
		Node    string          `json:"node"`
		Nodes   []nodeTelemetry `json:"nodes"`
		Cluster telemetryTotals `json:"cluster"`
	}{out, s.nodeID, nodes, telemetryJSON(all)})
}

// telemetryTotals is the telemetry answer of one node or of the cluster.
type telemetryTotals struct {
	Ops         int64                 `json:"ops"`
	Bytes       int64                 `json:"bytes"`
	Subscribers int64                 `json:"subscribers"`
	Records     []telemetryRecordJSON `json:"records"`
}

// telemetryJSON sums recs (oldest first) up.
func telemetryJSON(recs []telemetryRecord) telemetryTotals {
	out := telemetryTotals{Records: []telemetryRecordJSON{}}
	for _, rec := range recs {
		out.Ops += rec.Ops
		out.Bytes += rec.Bytes
		out.Subscribers += rec.Subscribers
		out.Records = append(out.Records, telemetryRecordJSON{
			ID:  time.Unix(rec.Start, 0).UTC().Format("2006-01-02T15:04:05.000Z"),
			Ops: rec.Ops, Bytes: rec.Bytes, Subscribers: rec.Subscribers,
		})
	}
	return out
}
