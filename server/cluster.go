package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
)

// Many nodes as one.
//
// Nodes share one Broker (natsbroker). Publications reach every node through it, and so
// do these node-to-node commands, sent as messages on controlTopic (a name no client can
// use: it holds a control character) with Origin set to the sending node's id:
//
//   - unsubscribe {patterns, subject}: the HTTP API's unsubscribe, applied by every node;
//   - close {connection}: DELETE /api/connections/{app}/{id} for a connection that is not
//     on the node that took the request;
//   - closeAll: DELETE /api/connections/{app};
//   - replace {subject, except}: oneConnectionPerUser "replace": a new connection of subject
//     closes the subject's connections on every other node.
//
// Each node applies a command to its own connections; the node that took the HTTP request
// answers with what it did itself and "forwarded":true.
//
// Node-wide messages (heartbeats with each node's counts, the connections held under
// oneConnectionPerUser "reject", hellos) travel on controlTopic too, under the app id "";
// see roster.go. Control messages never reach clients: no client can subscribe to
// controlTopic, and onBrokerMessage takes them out before any hub sees them.

// controlTopic carries node-to-node commands through the broker.
const controlTopic = "\x00kete/control"

// control is one node-to-node command.
type control struct {
	Op         string   `json:"op"`
	Patterns   []string `json:"patterns,omitempty"`
	Subject    string   `json:"subject,omitempty"`
	Connection string   `json:"connection,omitempty"`
	Except     string   `json:"except,omitempty"`
}

// Control operations.
const (
	ctlUnsubscribe = "unsubscribe"
	ctlClose       = "close"
	ctlCloseAll    = "closeAll"
	ctlReplace     = "replace"
)

// ReadyReporter is implemented by a Broker that can lose its connection (natsbroker);
// while Ready is false the server reports not-ready on /readyz. A broker that implements
// it is taken to span nodes: the server runs the roster (heartbeats, cluster counts,
// "reject" across nodes) over it, and announces itself again when Ready turns true.
type ReadyReporter interface {
	Ready() bool
}

// HistoryBroker is implemented by a Broker that numbers history messages itself for every
// node (natsbroker with JetStream): Epoch names the stream it numbers them in now, or ""
// when it does not (then each hub numbers its topics with an epoch of its own).
type HistoryBroker interface {
	Epoch() string
}

// streamEpoch is the epoch of a topic that has no kept message yet on this node.
func (h *hub) streamEpoch() string {
	if hb, ok := h.deps.broker.(HistoryBroker); ok {
		if e := hb.Epoch(); e != "" {
			return e
		}
	}
	return h.epoch
}

// clustered reports whether the broker may span nodes (anything but the memory broker).
func (s *Server) clustered() bool {
	_, single := s.broker.(*MemoryBroker)
	return !single
}

// broadcastControl sends cmd to the other nodes; it reports whether the broker took it.
func (s *Server) broadcastControl(ctx context.Context, appID string, cmd control) bool {
	if !s.clustered() {
		return false
	}
	data, _ := json.Marshal(cmd)
	if err := s.broker.Publish(ctx, appID, controlTopic, Message{MessageType: "control", Data: data, Origin: s.nodeID, Node: s.nodeID}); err != nil {
		s.log.Warn("cluster command not sent", slog.String("app", appID), slog.String("op", cmd.Op), slog.String("error", err.Error()))
		return false
	}
	return true
}

// applyControl runs a command of another node on this node's connections of h.
func (s *Server) applyControl(h *hub, msg Message) {
	if msg.Node == s.nodeID {
		return
	}
	var cmd control
	if err := json.Unmarshal(msg.Data, &cmd); err != nil {
		s.log.Warn("bad cluster command", slog.String("app", h.appID), slog.String("error", err.Error()))
		return
	}
	switch cmd.Op {
	case ctlUnsubscribe:
		h.unsubscribeMatching(cmd.Patterns, cmd.Subject)
	case ctlClose:
		if c := h.connection(cmd.Connection); c != nil {
			s.metrics.closes.WithLabelValues("admin").Inc()
			c.closeWith(CloseNormal, ReasonClosedByAdmin, false)
		}
	case ctlCloseAll:
		conns := h.snapshot(nil)
		for _, c := range conns {
			c.closeWith(CloseNormal, ReasonClosedByAdmin, false)
		}
		s.metrics.closes.WithLabelValues("admin").Add(float64(len(conns)))
	case ctlReplace:
		for _, c := range h.bySubject(cmd.Subject) {
			if c.id != cmd.Except {
				s.metrics.closes.WithLabelValues("replaced").Inc()
				c.closeWith(ClosePolicyViolation, ReasonReplaced, false)
			}
		}
	default:
		s.log.Warn("unknown cluster command", slog.String("app", h.appID), slog.String("op", cmd.Op))
	}
}

// bySubject returns the connections of subject.
func (h *hub) bySubject(subject string) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]*conn(nil), h.subjects[subject]...)
}

// Ready reports whether the server can serve: it is not closed and its broker, when it
// can lose its connection, is connected. reason says why not.
func (s *Server) Ready() (ready bool, reason string) {
	if s.closed.Load() {
		return false, "shutting down"
	}
	if rr, ok := s.broker.(ReadyReporter); ok && !rr.Ready() {
		return false, "broker not connected"
	}
	return true, ""
}

// handleReady serves GET /readyz: 200 {"ready":true}, or 503 {"ready":false,"reason"}
// while the broker is disconnected (this node still serves its local subscribers).
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ok, reason := s.Ready()
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": reason})
}
