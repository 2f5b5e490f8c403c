package server

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The roster: what the other nodes hold.
//
// With a broker that spans nodes (a Controller: natsbroker), each node sends these
// node-wide messages to the others as control messages (cluster.go):
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

// send publishes m; localMu is held for the messages whose order matters.
func (r *roster) send(m rosterMsg) {
	if err := r.s.sendControl(r.s.ctx, controlMsg{Roster: &m}); err != nil {
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

func (r *roster) closeElsewhere(c *conn) {
	if c.closeWith(ClosePolicyViolation, ReasonConnectedElsewhere, false) {
		r.s.metrics.closes.WithLabelValues("connected_elsewhere").Inc()
	}
}
