package server

import (
	"log/slog"
	"sort"
	"time"
)

// What this node knows of the others: their holders by subject, their counts and
// telemetry, taken from their roster messages and forgotten when they go silent.

// remoteNode is what this node knows of another.
type remoteNode struct {
	lastSeen  time.Time
	interval  time.Duration
	askedAt   time.Time // when it was last asked to announce itself
	apps      map[string]appCounts
	telemetry map[string]map[int64]telemetryRecord // app → bucket start → record
	holders   map[holderKey]holder
	held      digest
}

type holderKey struct{ app, conn string }

type subjectKey struct{ app, subject string }

// handle takes roster message m of node from (from the broker's delivery goroutine).
func (r *roster) handle(from string, m rosterMsg) {
	now := time.Now()
	var check []holder
	r.mu.Lock()
	n := r.nodes[from]
	if n == nil {
		if m.Op == rosterReleased || m.Op == rosterBye {
			r.mu.Unlock()
			return // a node already forgotten
		}
		n = &remoteNode{interval: r.interval, askedAt: now, holders: make(map[holderKey]holder),
			telemetry: make(map[string]map[int64]telemetryRecord)}
		r.nodes[from] = n
		r.s.metrics.clusterNodes.Set(float64(len(r.nodes)))
	}
	n.lastSeen = now
	switch m.Op {
	case rosterHeartbeat:
		if m.Interval > 0 {
			n.interval = time.Duration(m.Interval) * time.Millisecond
		}
		n.apps = m.Apps
		n.mergeTelemetry(m.Apps, now)
		if m.Held != nil && *m.Held != n.held && now.Sub(n.askedAt) >= 2*n.interval {
			n.askedAt = now
			r.ask[from] = true
			r.wakeUp()
		}
	case rosterHeld, rosterHolders:
		if m.First {
			r.clearLocked(n)
		}
		for _, h := range m.Holders {
			h.Node = from
			if r.addLocked(n, h) {
				check = append(check, h)
			}
		}
	case rosterReleased:
		for _, h := range m.Holders {
			r.removeLocked(n, holderKey{h.App, h.Conn})
		}
	case rosterHello:
		if m.To == "" || m.To == r.s.nodeID {
			r.announce = true
			r.wakeUp()
		}
	case rosterBye:
		r.clearLocked(n)
		delete(r.nodes, from)
		r.s.metrics.clusterNodes.Set(float64(len(r.nodes)))
	default:
		r.s.log.Warn("unknown roster message", slog.String("node", from), slog.String("op", m.Op))
	}
	r.mu.Unlock()
	for _, h := range check {
		r.resolve(h)
	}
}

// addLocked records a remote holder; it reports whether it is new.
func (r *roster) addLocked(n *remoteNode, h holder) bool {
	k := holderKey{h.App, h.Conn}
	if _, ok := n.holders[k]; ok {
		return false
	}
	n.holders[k] = h
	n.held.add(h, 1)
	sk := subjectKey{h.App, h.Subject}
	r.subjects[sk] = append(r.subjects[sk], h)
	return true
}

func (r *roster) removeLocked(n *remoteNode, k holderKey) {
	h, ok := n.holders[k]
	if !ok {
		return
	}
	delete(n.holders, k)
	n.held.add(h, -1)
	sk := subjectKey{h.App, h.Subject}
	list := r.subjects[sk]
	for i, x := range list {
		if x.Node == h.Node && x.Conn == h.Conn {
			list[i] = list[len(list)-1]
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(r.subjects, sk)
	} else {
		r.subjects[sk] = list
	}
}

func (r *roster) clearLocked(n *remoteNode) {
	for k := range n.holders {
		r.removeLocked(n, k)
	}
}

// expire forgets the nodes not heard from for heartbeatMisses of their intervals.
func (r *roster) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.nodes {
		if now.Sub(n.lastSeen) > heartbeatMisses*n.interval {
			r.clearLocked(n)
			delete(r.nodes, id)
			r.s.metrics.clusterNodes.Set(float64(len(r.nodes)))
			r.s.log.Info("cluster node gone", slog.String("node", id))
		}
	}
}

// heldElsewhere reports whether another node holds a connection of subject to app.
func (r *roster) heldElsewhere(app, subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subjects[subjectKey{app, subject}]) > 0
}

// earliest returns the earliest remote holder of subject in app.
func (r *roster) earliest(app, subject string) (holder, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.subjects[subjectKey{app, subject}]
	if len(list) == 0 {
		return holder{}, false
	}
	first := list[0]
	for _, h := range list[1:] {
		if later(first, h) {
			first = h
		}
	}
	return first, true
}

// resolve closes this node's connections of rh's subject that were opened after rh.
func (r *roster) resolve(rh holder) {
	rt, h := r.s.app(rh.App)
	if h == nil || rt.app.OneConnectionPerUser != OnePerUserReject {
		return
	}
	for _, c := range h.bySubject(rh.Subject) {
		r.mapMu.Lock()
		me, ok := r.local[c]
		r.mapMu.Unlock()
		if ok && later(me, rh) {
			r.closeElsewhere(c)
		}
	}
}

// mergeTelemetry keeps the telemetry buckets of a heartbeat, and drops those older than
// a hub keeps.
func (n *remoteNode) mergeTelemetry(apps map[string]appCounts, now time.Time) {
	cut := now.Add(-telemetryKeep * telemetryBucket).Unix()
	for app, ac := range apps {
		if len(ac.Telemetry) == 0 {
			continue
		}
		m := n.telemetry[app]
		if m == nil {
			m = make(map[int64]telemetryRecord)
			n.telemetry[app] = m
		}
		for _, t := range ac.Telemetry {
			if _, ok := m[t.Start]; !ok {
				for start := range m {
					if start < cut {
						delete(m, start)
					}
				}
			}
			m[t.Start] = telemetryRecord(t)
		}
	}
}

// appCounts returns the hub's connections, subscriptions and its telemetry buckets of
// now and just before (the one a heartbeat may not have reported complete).
func (h *hub) appCounts(now int64) appCounts {
	var ac appCounts
	ac.Connections, ac.Subscriptions = h.load()
	cur := time.Unix(0, now).Truncate(telemetryBucket).Unix()
	prev := cur - int64(telemetryBucket/time.Second)
	for _, rec := range h.telemetry.since(time.Unix(prev, 0)) {
		ac.Telemetry = append(ac.Telemetry, telemetryWire(rec))
	}
	return ac
}

// load returns the hub's connections and subscriptions (main included, as the
// kete_server_subscriptions metric counts them).
func (h *hub) load() (conns, subs int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, ts := range h.topics {
		subs += len(ts.list)
	}
	return len(h.conns), subs
}

// nodeFigures are one node's counts in /api/health/status.
type nodeFigures struct {
	Node          string `json:"node"`
	Self          bool   `json:"self,omitempty"`
	Apps          int    `json:"apps"`
	Connections   int    `json:"connections"`
	Subscriptions int    `json:"subscriptions"`
	// Held counts the connections of apps with oneConnectionPerUser "reject" that this
	// node knows the node holds.
	Held int `json:"held"`
}

// remoteFigures returns the other nodes' counts, by node id.
func (r *roster) remoteFigures() []nodeFigures {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]nodeFigures, 0, len(r.nodes))
	for id, n := range r.nodes {
		f := nodeFigures{Node: id, Apps: len(n.apps), Held: len(n.holders)}
		for _, ac := range n.apps {
			f.Connections += ac.Connections
			f.Subscriptions += ac.Subscriptions
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// remoteTelemetry returns, per other node, app's telemetry records from the bucket of
// from on, oldest first.
func (r *roster) remoteTelemetry(app string, from time.Time) map[string][]telemetryRecord {
	cut := from.Truncate(telemetryBucket).Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]telemetryRecord, len(r.nodes))
	for id, n := range r.nodes {
		var recs []telemetryRecord
		for start, rec := range n.telemetry[app] {
			if start >= cut {
				recs = append(recs, rec)
			}
		}
		sortRecords(recs)
		out[id] = recs
	}
	return out
}
