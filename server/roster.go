package server

import (
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The roster: what the other nodes hold.
//
// With a broker that spans nodes (one that implements ReadyReporter: natsbroker), each
// node sends node-wide messages on controlTopic under the app id "" (no app has it):
//
//   - heartbeat {intervalMs, apps, held}: every HeartbeatInterval (2 s): the node is alive,
//     its per-app connection and subscription counts and its latest telemetry buckets,
//     and a digest (count and XOR of hashes) of the connections it holds under
//     oneConnectionPerUser "reject";
//   - held / released {holders}: a connection of an app with the reject policy opened /
//     closed on the sending node (app, subject, connection id, open time);
//   - holders {first, holders}: everything the node holds, in parts; the first part
//     replaces what the receiver knew of the node;
//   - hello {to?}: "announce yourselves": sent by a node that starts or regains NATS (to
//     everyone), or to one node whose heartbeat digest does not match what the receiver
//     knows of it (a held or released went missing); the node answers with holders and a
//     heartbeat;
//   - bye: the node is closing; the others forget it at once.
//
// Every node keeps, per (app, subject), the connections other nodes hold. hub.reserve
// refuses (409 already_connected) a subject that another node holds. Two connects of one
// subject that race on two nodes are both accepted first; when a node learns of a remote
// holder of a subject it holds too, the later of the two (open time, then node id, then
// connection id: the same answer on both nodes) is closed with ClosePolicyViolation and
// ReasonConnectedElsewhere. A node not heard from for heartbeatMisses of its heartbeat
// intervals is forgotten, with what it held and its counts, so a node that died does not
// lock its subjects out for ever.
//
// A node's held, released, holders and heartbeat messages are published under one lock
// (localMu), in the order its holdings changed; NATS delivers one publisher's messages in
// order, so a receiver that missed nothing has exactly the sender's holdings when its
// heartbeat arrives, and a digest that differs means something was lost.

// DefaultHeartbeatInterval is Options.HeartbeatInterval's default.
const DefaultHeartbeatInterval = 2 * time.Second

// heartbeatMisses is how many heartbeat intervals of silence make a node count as gone.
const heartbeatMisses = 3

// ReasonConnectedElsewhere closes (1008) the later of two connections of one subject,
// opened on two nodes at the same time, of an app with oneConnectionPerUser "reject".
const ReasonConnectedElsewhere = "already connected elsewhere"

// rosterApp is the app id node-wide roster messages travel under.
const rosterApp = ""

// Roster operations.
const (
	rosterHeartbeat = "heartbeat"
	rosterHeld      = "held"
	rosterReleased  = "released"
	rosterHolders   = "holders"
	rosterHello     = "hello"
	rosterBye       = "bye"
)

// rosterPartBytes bounds one holders message (NATS' default max payload is 1 MiB).
const rosterPartBytes = 256 << 10

// rosterMsg is one roster message.
type rosterMsg struct {
	Op       string               `json:"op"`
	To       string               `json:"to,omitempty"`
	Interval int64                `json:"intervalMs,omitempty"`
	First    bool                 `json:"first,omitempty"`
	Holders  []holder             `json:"holders,omitempty"`
	Apps     map[string]appCounts `json:"apps,omitempty"`
	Held     *digest              `json:"held,omitempty"`
}

// holder is a connection of an app with the reject policy.
type holder struct {
	App     string `json:"app"`
	Subject string `json:"subject"`
	Conn    string `json:"conn"`
	Opened  int64  `json:"opened"` // unix nanoseconds, on the holding node's clock
	Node    string `json:"-"`      // the holding node (the message's sender)
}

// later reports whether a was opened after b, in the order every node agrees on.
func later(a, b holder) bool {
	if a.Opened != b.Opened {
		return a.Opened > b.Opened
	}
	if a.Node != b.Node {
		return a.Node > b.Node
	}
	return a.Conn > b.Conn
}

// digest sums up a set of holders: how many, and the XOR of their hashes.
type digest struct {
	N int    `json:"n"`
	X uint64 `json:"x"`
}

func (d *digest) add(h holder, delta int) {
	f := fnv.New64a()
	_, _ = f.Write([]byte(h.App))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(h.Subject))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(h.Conn))
	d.N += delta
	d.X ^= f.Sum64()
}

// appCounts is one app's figures on one node, as a heartbeat carries them.
type appCounts struct {
	Connections   int             `json:"c,omitempty"`
	Subscriptions int             `json:"s,omitempty"`
	Telemetry     []telemetryWire `json:"t,omitempty"`
}

// telemetryWire is a telemetry bucket in a heartbeat.
type telemetryWire struct {
	Start       int64 `json:"at"`
	Ops         int64 `json:"o"`
	Bytes       int64 `json:"b"`
	Subscribers int64 `json:"s"`
}

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

// roster is one server's view of the other nodes, and the announcements of its own
// holders. Lock order: hub.mu before mu; localMu before hub.mu and mapMu; mu is never
// held with localMu or mapMu, and mapMu never while calling out (so that a broker that
// hands this node's messages to another server in the process cannot deadlock them).
type roster struct {
	s        *Server
	interval time.Duration
	wake     chan struct{}

	mu       sync.Mutex
	nodes    map[string]*remoteNode
	subjects map[subjectKey][]holder // remote holders per subject
	announce bool                    // a hello asked this node to announce itself
	ask      map[string]bool         // nodes to send a hello to

	localMu sync.Mutex       // orders this node's announcements; held while publishing them
	mapMu   sync.Mutex       // guards local and held; writers hold localMu too
	local   map[*conn]holder // this node's connections of apps with the reject policy
	held    digest
	stopped bool         // bye sent: nothing more goes out
	localN  atomic.Int64 // len(local), read without the lock

	announced map[string]bool // apps whose connections are held; owned by run
}

func newRoster(s *Server, interval time.Duration) *roster {
	return &roster{
		s:         s,
		interval:  interval,
		wake:      make(chan struct{}, 1),
		nodes:     make(map[string]*remoteNode),
		subjects:  make(map[subjectKey][]holder),
		ask:       make(map[string]bool),
		local:     make(map[*conn]holder),
		announced: make(map[string]bool),
	}
}

// spansNodes reports whether the broker connects this node to others, so that the
// roster has someone to talk to: a broker other than the memory broker that reports its
// connection state (natsbroker).
func (s *Server) spansNodes() bool {
	_, rr := s.broker.(ReadyReporter)
	return s.clustered() && rr
}

// send publishes m; localMu is held for the messages whose order matters.
func (r *roster) send(m rosterMsg) {
	data, _ := json.Marshal(m)
	err := r.s.broker.Publish(r.s.ctx, rosterApp, controlTopic, Message{MessageType: "roster", Data: data, Origin: r.s.nodeID, Node: r.s.nodeID})
	if err != nil {
		r.s.log.Debug("roster message not sent", slog.String("op", m.Op), slog.String("error", err.Error()))
	}
}

// run is the roster's goroutine, owned by Server.bg: it announces this node, sends the
// heartbeats, forgets silent nodes and answers hellos, until the server's context ends.
func (r *roster) run() {
	defer r.s.bg.Done()
	r.reconcile()
	ready := r.ready()
	if ready {
		r.rejoin()
	}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.s.ctx.Done():
			return
		case <-r.wake:
			r.serveRequests()
		case <-t.C:
			r.reconcile()
			now := r.ready()
			switch {
			case now && !ready:
				r.rejoin() // back on NATS: the others may have forgotten this node, and it them
			case now:
				r.heartbeat()
			}
			ready = now
			r.expire(time.Now())
			r.serveRequests()
		}
	}
}

func (r *roster) ready() bool {
	rr, ok := r.s.broker.(ReadyReporter)
	return !ok || rr.Ready()
}

// rejoin tells the others what this node holds, asks them for theirs and sends a heartbeat.
func (r *roster) rejoin() {
	r.sendHolders()
	r.localMu.Lock()
	if !r.stopped {
		r.send(rosterMsg{Op: rosterHello})
	}
	r.localMu.Unlock()
	r.heartbeat()
}

// serveRequests answers hellos and asks nodes whose digest differs to announce themselves.
func (r *roster) serveRequests() {
	r.mu.Lock()
	announce := r.announce
	r.announce = false
	var ask []string
	for n := range r.ask {
		ask = append(ask, n)
	}
	clear(r.ask)
	r.mu.Unlock()
	if announce {
		r.sendHolders()
		r.heartbeat()
	}
	if len(ask) > 0 {
		r.localMu.Lock()
		for _, n := range ask {
			if !r.stopped {
				r.send(rosterMsg{Op: rosterHello, To: n})
			}
		}
		r.localMu.Unlock()
	}
}

// wakeUp has run serve the requests now.
func (r *roster) wakeUp() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// hubs returns the served hubs.
func (r *roster) hubs() []*hub { return r.s.hubList() }

// reconcile follows changes of the apps' policy (a reload): the connections of an app
// that turned to "reject" are announced, those of an app that left it released.
func (r *roster) reconcile() {
	seen := make(map[string]bool)
	for _, h := range r.hubs() {
		seen[h.appID] = true
		reject := h.cfg.Load().app.OneConnectionPerUser == OnePerUserReject
		switch {
		case reject && !r.announced[h.appID]:
			r.announced[h.appID] = true
			for _, c := range h.snapshot(nil) {
				if c.isClient() {
					r.hold(h, c)
				}
			}
		case !reject && r.announced[h.appID]:
			delete(r.announced, h.appID)
			r.releaseApp(h.appID)
		}
	}
	for app := range r.announced {
		if !seen[app] {
			delete(r.announced, app)
			r.releaseApp(app)
		}
	}
}

// hold announces c, a new connection of an app with the reject policy, and closes it when
// another node holds an earlier connection of its subject.
func (r *roster) hold(h *hub, c *conn) {
	subject := c.session().subject
	if subject == "" {
		return
	}
	me := holder{App: h.appID, Subject: subject, Conn: c.id, Opened: r.s.opts.Now().UnixNano(), Node: r.s.nodeID}
	r.localMu.Lock()
	if _, ok := r.local[c]; ok || h.connection(c.id) != c {
		r.localMu.Unlock() // already held, or already gone
		return
	}
	r.mapMu.Lock()
	r.local[c] = me
	r.localN.Add(1)
	r.held.add(me, 1)
	r.mapMu.Unlock()
	if !r.stopped {
		r.send(rosterMsg{Op: rosterHeld, Holders: []holder{me}})
	}
	r.localMu.Unlock()
	if first, ok := r.earliest(h.appID, subject); ok && later(me, first) {
		r.closeElsewhere(c)
	}
}

// release announces that c, if it was held, is gone.
func (r *roster) release(c *conn) {
	if r.localN.Load() == 0 {
		return
	}
	r.localMu.Lock()
	if me, ok := r.local[c]; ok {
		r.mapMu.Lock()
		delete(r.local, c)
		r.localN.Add(-1)
		r.held.add(me, -1)
		r.mapMu.Unlock()
		if !r.stopped {
			r.send(rosterMsg{Op: rosterReleased, Holders: []holder{me}})
		}
	}
	r.localMu.Unlock()
}

// releaseApp releases every held connection of app.
func (r *roster) releaseApp(app string) {
	r.localMu.Lock()
	defer r.localMu.Unlock()
	var gone []holder
	r.mapMu.Lock()
	for c, me := range r.local {
		if me.App == app {
			delete(r.local, c)
			r.localN.Add(-1)
			r.held.add(me, -1)
			gone = append(gone, me)
		}
	}
	r.mapMu.Unlock()
	if len(gone) > 0 && !r.stopped {
		r.send(rosterMsg{Op: rosterReleased, Holders: gone})
	}
}

// sendHolders sends everything this node holds, in parts; the first replaces what the
// others knew.
func (r *roster) sendHolders() {
	r.localMu.Lock()
	defer r.localMu.Unlock()
	if r.stopped {
		return
	}
	part := rosterMsg{Op: rosterHolders, First: true}
	size := 0
	for _, me := range r.local {
		n := len(me.App) + len(me.Subject) + len(me.Conn) + 64
		if size+n > rosterPartBytes && len(part.Holders) > 0 {
			r.send(part)
			part = rosterMsg{Op: rosterHolders}
			size = 0
		}
		part.Holders = append(part.Holders, me)
		size += n
	}
	if part.First || len(part.Holders) > 0 {
		r.send(part)
	}
}

// heartbeat sends this node's counts and the digest of what it holds.
func (r *roster) heartbeat() {
	now := r.s.coarseNow()
	apps := make(map[string]appCounts)
	for _, h := range r.hubs() {
		apps[h.appID] = h.appCounts(now)
	}
	m := rosterMsg{Op: rosterHeartbeat, Interval: r.interval.Milliseconds(), Apps: apps}
	r.localMu.Lock()
	defer r.localMu.Unlock()
	if r.stopped {
		return
	}
	d := r.held
	m.Held = &d
	r.send(m)
}

// bye tells the others this node is leaving, and stops every later announcement.
func (r *roster) bye() {
	r.localMu.Lock()
	defer r.localMu.Unlock()
	if !r.stopped {
		r.send(rosterMsg{Op: rosterBye})
		r.stopped = true
	}
}

// handle takes a roster message of another node (from the broker's delivery goroutine).
func (r *roster) handle(msg Message) {
	if msg.Node == "" || msg.Node == r.s.nodeID {
		return
	}
	var m rosterMsg
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		r.s.log.Warn("bad roster message", slog.String("node", msg.Node), slog.String("error", err.Error()))
		return
	}
	now := time.Now()
	var check []holder
	r.mu.Lock()
	n := r.nodes[msg.Node]
	if n == nil {
		if m.Op == rosterReleased || m.Op == rosterBye {
			r.mu.Unlock()
			return // a node already forgotten
		}
		n = &remoteNode{interval: r.interval, askedAt: now, holders: make(map[holderKey]holder),
			telemetry: make(map[string]map[int64]telemetryRecord)}
		r.nodes[msg.Node] = n
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
			r.ask[msg.Node] = true
			r.wakeUp()
		}
	case rosterHeld, rosterHolders:
		if m.First {
			r.clearLocked(n)
		}
		for _, h := range m.Holders {
			h.Node = msg.Node
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
		delete(r.nodes, msg.Node)
		r.s.metrics.clusterNodes.Set(float64(len(r.nodes)))
	default:
		r.s.log.Warn("unknown roster message", slog.String("node", msg.Node), slog.String("op", m.Op))
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

func (r *roster) closeElsewhere(c *conn) {
	if c.closeWith(ClosePolicyViolation, ReasonConnectedElsewhere, false) {
		r.s.metrics.closes.WithLabelValues("connected_elsewhere").Inc()
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
