package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
)

// Many nodes as one.
//
// Nodes share one Broker (natsbroker). Publications reach every node through it; the
// nodes' own messages to each other travel apart, through the broker's Controller
// capability (its own NATS subject), each a controlMsg naming the sending node:
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
// oneConnectionPerUser "reject", hellos) travel the same way; see roster.go. A broker that
// is not a Controller serves one node: then nothing here runs. Control messages never
// reach clients: they are not publications of any app.

// controlMsg is one node-to-node message as it travels through the Controller: a command
// for an app's connections, or a roster message.
type controlMsg struct {
	Node    string     `json:"node"`
	App     string     `json:"app,omitempty"`
	Command *control   `json:"command,omitempty"`
	Roster  *rosterMsg `json:"roster,omitempty"`
}

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

// clusterLink is the server's channel to the other nodes.
type clusterLink struct {
	ctl   Controller // nil: the broker serves this node alone
	unsub func()     // removes onControl from ctl; nil until startCluster
}

// initCluster finds out whether the broker spans nodes (it is a Controller) and, when it
// does and heartbeats are on, builds the roster. It starts nothing.
func (s *Server) initCluster() {
	s.cluster.ctl, _ = s.broker.(Controller)
	if s.cluster.ctl != nil && s.opts.HeartbeatInterval > 0 {
		s.roster = newRoster(s, s.opts.HeartbeatInterval)
	}
}

// startCluster subscribes this node to the other nodes' control messages and starts the
// roster's goroutine (owned by s.bg, ended by s.ctx). Without a Controller it does nothing.
func (s *Server) startCluster() error {
	if s.cluster.ctl == nil {
		return nil
	}
	unsub, err := s.cluster.ctl.SubscribeControl(s.onControl)
	if err != nil {
		return fmt.Errorf("server: subscribe to the broker's control messages: %w", err)
	}
	s.cluster.unsub = unsub
	if s.roster != nil {
		s.bg.Add(1)
		go s.roster.run()
	}
	return nil
}

// stopCluster tells the other nodes this one is leaving and stops taking their messages;
// Close calls it once the connections are closed (their releases sent).
func (s *Server) stopCluster() {
	if s.roster != nil {
		s.roster.bye() // after the connections' releases: the others forget this node now
	}
	if s.cluster.unsub != nil {
		s.cluster.unsub()
	}
}

// sendControl hands m, marked with this node, to the other nodes.
func (s *Server) sendControl(ctx context.Context, m controlMsg) error {
	m.Node = s.nodeID
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.cluster.ctl.PublishControl(ctx, data)
}

// broadcastControl sends cmd to the other nodes; it reports whether the broker took it.
func (s *Server) broadcastControl(ctx context.Context, appID string, cmd control) bool {
	if s.cluster.ctl == nil {
		return false
	}
	if err := s.sendControl(ctx, controlMsg{App: appID, Command: &cmd}); err != nil {
		s.log.Warn("cluster command not sent", slog.String("app", appID), slog.String("op", cmd.Op), slog.String("error", err.Error()))
		return false
	}
	return true
}

// onControl is the server's one ControlHandler: it hands a roster message to the roster
// and applies a command to this node's connections of its app.
func (s *Server) onControl(_ context.Context, data []byte) {
	var m controlMsg
	if err := json.Unmarshal(data, &m); err != nil {
		s.log.Warn("bad cluster message", slog.String("error", err.Error()))
		return
	}
	if m.Node == "" || m.Node == s.nodeID {
		return
	}
	switch {
	case m.Roster != nil:
		if s.roster != nil {
			s.roster.handle(m.Node, *m.Roster)
		}
	case m.Command != nil:
		if _, h := s.app(m.App); h != nil {
			s.applyControl(h, *m.Command)
		}
	default:
		s.log.Warn("empty cluster message", slog.String("node", m.Node))
	}
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

// applyControl runs a command of another node on this node's connections of h.
func (s *Server) applyControl(h *hub, cmd control) {
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
	if !s.started.Load() {
		return false, "not started"
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
