package server

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kete-dev/kete/server/auth"
)

// Consumer groups of the Drogue Cloud endpoint (consumer.go).
//
// A group is (app, channel, group_id): its live members share the messages, each message
// going to exactly one member (round robin among the members that may read its topic and
// are not closing). A connection without group_id is a group of its own, made when it
// opens and forgotten when it closes: it gets no replay, and what is published while it
// is away is not kept for it (Drogue: "Using a temporary consumer group might lead to
// missed events during re-connects").
//
// A group with a group_id is durable on this node: it stays after its last member left,
// and keeps its position (groupPositions: per topic, the newest offset handed to one of
// its members; a topic this node's history forgot is forgotten too, see sweepGroups). A member that joins gets, before anything live, (1) the share its group
// still owes from members that left (below), then (2) every message of its topics kept
// in history after the group's position, in order. When history cannot fill the gap
// (messages were dropped from history, or the app keeps none) the member is told with a
// GapEventType CloudEvent first. A new durable group starts at the end: it gets what is
// published after it was made.
//
// Acknowledgement. The Drogue protocol has no acks, so a message counts as taken when
// its frame has left the connection's outbound queue for the socket. A member keeps what
// it was handed and not yet known written (pending, bounded by its backlog); when it
// closes (it went away, or it fell behind its backlog and was closed as a slow consumer)
// its pending share goes to the other live members as their queues have room (never
// pushing one over its backlog), or, when none is left, to the next member that joins. Hence the guarantee: at-least-once within the history window (a
// redelivered message keeps its CloudEvent id), in order per topic within a member
// except that a redelivered share comes after what that member already had. What the
// kernel took for a socket whose peer then died unread is lost, as for any WebSocket.
//
// Where the position lives is the groupPositions interface: memory here. On a cluster
// whose broker keeps groups (a GroupBroker: natsbroker with JetStream history) a durable
// group of an app with history lives in the broker instead, one JetStream durable
// consumer per group, spanning nodes (groups_broker.go).

// maxConsumerGroups bounds the durable groups of one app on one node: a client that
// makes up group ids must not grow the server without limit.
const maxConsumerGroups = 10_000

// groupPositions is where a durable group's position lives: per topic, the newest
// message handed to one of its members.
type groupPositions interface {
	position(topic string) (StreamPosition, bool)
	advance(topic string, p StreamPosition)
}

// memoryPositions keeps a group's position in this node's memory.
type memoryPositions map[string]StreamPosition

func (m memoryPositions) position(topic string) (StreamPosition, bool) {
	p, ok := m[topic]
	return p, ok
}

func (m memoryPositions) advance(topic string, p StreamPosition) { m[topic] = p }

// groupKey names a group within its app: channel ("" for every topic) and group id
// (for a temporary group, NUL and its one connection's id, which no query can give).
type groupKey struct{ channel, id string }

// consumerGroup is one group; everything in it is guarded by consumerGroups.mu.
type consumerGroup struct {
	key       groupKey
	durable   bool
	members   []*conn
	next      int
	positions groupPositions // durable groups only
	// missed counts messages the group could not be handed (no live member) and that
	// history cannot replay; the next member to join is told.
	missed uint64
	// orphans is the pending share of members that left when no other member was live.
	orphans []pendingDelivery
}

// pendingDelivery is a message handed to a member and not yet known written.
type pendingDelivery struct {
	topic string
	frame []byte
	end   int // the member's sent count after this frame
}

// consumerState is what a Drogue consumer connection keeps; set before the upgrade,
// then its group fields are guarded by consumerGroups.mu.
type consumerState struct {
	channel string // "" : every topic its token may read
	groupID string // "" : a temporary group

	group   *consumerGroup
	leave   func() // membership of a group the broker keeps (groups_broker.go)
	pending []pendingDelivery
	sent    int // queue cost of every frame handed to it
}

// consumerGroups is an app's groups on this node.
type consumerGroups struct {
	mu     sync.Mutex
	groups map[groupKey]*consumerGroup
	n      atomic.Int32 // len(groups): the dispatcher skips the lock when 0
	// batches is the dispatcher's scratch: what each member gets of one run, sent as one
	// write per member, as the hub writes one buffer per subscriber.
	batches []memberBatch
}

// memberBatch is what one member gets of a run.
type memberBatch struct {
	c  *conn
	ds []pendingDelivery
}

// consumerMayRead reports whether a consumer with session ss may receive topic: priv/
// only its own subject's, secure/ with its read permission.
func consumerMayRead(ss *session, topic string) bool {
	if name, ok := strings.CutPrefix(topic, "priv/"); ok {
		return name == ss.subject
	}
	if strings.HasPrefix(topic, "secure/") {
		return auth.CanSubscribe(ss.permissions, topic)
	}
	return true
}

// outbound reports what c holds queued and whether it is closed, at one instant.
func (c *conn) outbound() (queued int, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backlogBytes + c.writingBytes, c.closed
}

// pick returns the next live member that may read topic, round robin; anyLive reports
// whether some member is live at all.
func (g *consumerGroup) pick(topic string) (m *conn, anyLive bool) {
	n := len(g.members)
	for i := range n {
		c := g.members[(g.next+i)%n]
		if _, closed := c.outbound(); closed {
			continue
		}
		anyLive = true
		if consumerMayRead(c.session(), topic) {
			g.next = (g.next + i + 1) % n
			return c, true
		}
	}
	return nil, anyLive
}

// pickWithRoom returns the next live member that may read d's topic and whose queue,
// with d, stays within half its backlog, round robin: a share handed on must leave a
// member that keeps up room for what is published meanwhile.
func (g *consumerGroup) pickWithRoom(d *pendingDelivery) *conn {
	n := len(g.members)
	for i := range n {
		c := g.members[(g.next+i)%n]
		queued, closed := c.outbound()
		if closed || queued > 0 && queued+queueCost(d.frame) > c.maxBacklog/2 || !consumerMayRead(c.session(), d.topic) {
			continue
		}
		g.next = (g.next + i + 1) % n
		return c
	}
	return nil
}

// drainOrphansLocked hands the share owed by members that left to members with room,
// in order, as far as they have room; the rest waits for the next dispatch, join or
// sweep (sweepGroups). The caller holds consumerGroups.mu.
func (h *hub) drainOrphansLocked(g *consumerGroup) {
	i := 0
	for ; i < len(g.orphans); i++ {
		m := g.pickWithRoom(&g.orphans[i])
		if m == nil {
			break
		}
		h.handTo(m, g.orphans[i])
	}
	if i > 0 {
		clear(g.orphans[:i])
		g.orphans = slices.Delete(g.orphans, 0, i)
	}
}

// sweepGroups runs on every sweep: it moves on the shares waiting for room (also when
// nothing is published), and forgets the positions of topics this node's history has
// forgotten, so that a group of an app with ever new topics does not grow without limit
// (such a topic, when it comes back, is numbered after every offset the group saw, and
// its position is then unknown: all of it is replayed, which is what the group missed).
func (h *hub) sweepGroups() {
	cg := &h.consumers
	if cg.n.Load() == 0 {
		return
	}
	cg.mu.Lock()
	defer cg.mu.Unlock()
	hs := h.history
	for _, g := range cg.groups {
		if len(g.orphans) > 0 {
			h.drainOrphansLocked(g)
		}
		mp, ok := g.positions.(memoryPositions)
		if !ok {
			continue
		}
		hs.mu.Lock()
		if len(mp) > len(hs.topics)+64 {
			for t := range mp {
				if hs.topics[t] == nil {
					delete(mp, t)
				}
			}
		}
		hs.mu.Unlock()
	}
}

// handTo sends d to member c and keeps it pending until it is known written: after the
// send when the socket took it at once (the common case), else at a later send.
func (h *hub) handTo(c *conn, d pendingDelivery) {
	cs := c.consumer()
	cs.prune(c)
	cs.sent += queueCost(d.frame)
	d.end = cs.sent
	cs.pending = append(cs.pending, d)
	m := h.deps.metrics
	m.framesOut.Inc()
	m.bytesOut.Add(float64(len(d.frame)))
	c.send(d.frame)
	cs.prune(c)
}

// handBatch sends ds to member c in as few writes as its backlog allows (buffers of at
// most maxBacklog, as the hub's dispatch coalesces), each delivery pending as in handTo.
func (h *hub) handBatch(c *conn, ds []pendingDelivery) {
	if len(ds) == 1 {
		h.handTo(c, ds[0])
		return
	}
	cs := c.consumer()
	limit := c.maxBacklog - queuedFrameCost
	m := h.deps.metrics
	for i := 0; i < len(ds); {
		j, n := i+1, len(ds[i].frame)
		for j < len(ds) && n+len(ds[j].frame) <= limit {
			n += len(ds[j].frame)
			j++
		}
		cs.prune(c)
		buf := make([]byte, 0, n)
		for k := i; k < j; k++ {
			buf = append(buf, ds[k].frame...)
			cs.sent += len(ds[k].frame)
			if k == j-1 {
				cs.sent += queuedFrameCost // the queue counts one frame: the buffer
			}
			d := ds[k]
			d.end = cs.sent
			cs.pending = append(cs.pending, d)
		}
		m.framesOut.Add(float64(j - i))
		m.bytesOut.Add(float64(n))
		c.send(buf)
		cs.prune(c)
		i = j
	}
}

// batchFor returns the scratch batch of member c, adding it.
func (cg *consumerGroups) batchFor(c *conn) *memberBatch {
	for i := range cg.batches {
		if cg.batches[i].c == c {
			return &cg.batches[i]
		}
	}
	cg.batches = append(cg.batches, memberBatch{c: c, ds: nil})
	return &cg.batches[len(cg.batches)-1]
}

// prune forgets the pending messages whose frames have left c's outbound queue. What is
// queued counts every frame at queueCost, as sent does; frames the server sends c that
// are not messages (pongs) only make it keep more. Nothing is forgotten once c is
// closed: a slow consumer's queue was thrown away unwritten.
func (cs *consumerState) prune(c *conn) {
	if len(cs.pending) == 0 {
		return
	}
	queued, closed := c.outbound()
	if closed {
		return
	}
	written := cs.sent - queued
	i := 0
	for i < len(cs.pending) && cs.pending[i].end <= written {
		i++
	}
	if i > 0 {
		clear(cs.pending[:i])
		cs.pending = slices.Delete(cs.pending, 0, i)
	}
}

// deliverToGroups hands each message of run (one topic, in order, offsets set when the
// app keeps history) to one member of every group that takes its topic. The dispatcher
// calls it after the topic's subscribers were resolved.
func (h *hub) deliverToGroups(run []queued) {
	cg := &h.consumers
	if cg.n.Load() == 0 {
		return
	}
	cg.mu.Lock()
	defer cg.mu.Unlock()
	now := h.deps.clock.now()
	for i := range run {
		q := &run[i]
		epoch := q.msg.Epoch
		if epoch == "" {
			epoch = h.epoch
		}
		var frame []byte
		for _, g := range cg.groups {
			if len(g.orphans) > 0 {
				h.drainOrphansLocked(g)
			}
			if g.key.channel != "" && g.key.channel != q.topic {
				continue
			}
			if g.durable && q.offset != 0 {
				if p, ok := g.positions.position(q.topic); ok && p.Epoch == epoch && q.offset <= p.Offset {
					continue // a joining member had it from history already
				}
			}
			m, anyLive := g.pick(q.topic)
			if m == nil {
				if !anyLive && g.durable && q.offset == 0 && !strings.HasPrefix(q.topic, "priv/") {
					g.missed++ // nothing can replay it
				}
				if anyLive && g.durable && q.offset != 0 {
					g.positions.advance(q.topic, StreamPosition{Offset: q.offset, Epoch: epoch})
				}
				continue
			}
			if frame == nil {
				id := q.msg.DedupID
				if q.offset != 0 {
					id = historyEventID(epoch, q.offset)
				} else if id == "" {
					id = newID()
				}
				frame = encodeCloudEvent(h.appID, q.topic, &q.msg, id, now)
			}
			mb := cg.batchFor(m)
			mb.ds = append(mb.ds, pendingDelivery{topic: q.topic, frame: frame})
			if g.durable && q.offset != 0 {
				g.positions.advance(q.topic, StreamPosition{Offset: q.offset, Epoch: epoch})
			}
		}
	}
	for i := range cg.batches {
		h.handBatch(cg.batches[i].c, cg.batches[i].ds)
	}
	clear(cg.batches)
	cg.batches = cg.batches[:0]
}

// groupsFull reports whether a new durable group could not be made for key.
func (h *hub) groupsFull(key groupKey) bool {
	cg := &h.consumers
	cg.mu.Lock()
	defer cg.mu.Unlock()
	_, ok := cg.groups[key]
	return !ok && len(cg.groups) >= maxConsumerGroups
}

// joinGroup makes c a member of its group and sends it, before anything live, what its
// group owes (see the package comment of this file).
func (h *hub) joinGroup(c *conn) {
	cs := c.consumer()
	rt := h.cfg.Load()
	if h.joinBrokerGroup(c, rt) {
		return // the broker keeps the group (groups_broker.go)
	}
	cg := &h.consumers
	cg.mu.Lock()
	defer cg.mu.Unlock()
	key := groupKey{channel: cs.channel, id: cs.groupID}
	durable := cs.groupID != ""
	if !durable {
		key.id = "\x00" + c.id
	}
	if cg.groups == nil {
		cg.groups = make(map[groupKey]*consumerGroup)
	}
	g := cg.groups[key]
	fresh := g == nil
	if fresh {
		g = &consumerGroup{key: key, durable: durable}
		if durable {
			g.positions = memoryPositions{}
		}
		cg.groups[key] = g
		cg.n.Add(1)
	}
	g.members = append(g.members, c)
	cs.group = g
	if !durable {
		return
	}
	now := h.deps.clock.now()
	h.drainOrphansLocked(g)
	if g.missed > 0 {
		c.send(encodeGapEvent(h.appID, gapNotice{Missed: g.missed, Group: cs.groupID}, now))
		g.missed = 0
	}
	if rt.app.HistorySize > 0 {
		h.replayToMember(rt, g, c, fresh, now)
	}
}

// keptRun is one topic's replay: the kept messages after the group's position.
type keptRun struct {
	topic   string
	epoch   string
	last    uint64
	entries []histEntry
	gap     *gapNotice
}

// replayToMember sends member c the kept messages of its group's topics after the
// group's position, with a gap notice first for a topic whose gap history cannot fill.
// A fresh group takes the current end of every topic as its position instead.
func (h *hub) replayToMember(rt *appRuntime, g *consumerGroup, c *conn, fresh bool, now int64) {
	ss := c.session()
	hs := h.history
	hs.mu.Lock()
	hs.expireLocked(now, int64(rt.app.HistoryTTL))
	var topics []string
	if g.key.channel != "" {
		if hs.topics[g.key.channel] != nil {
			topics = append(topics, g.key.channel)
		}
	} else {
		for t := range hs.topics {
			topics = append(topics, t)
		}
		slices.Sort(topics)
	}
	var runs []keptRun
	for _, t := range topics {
		th := hs.topics[t]
		if fresh {
			g.positions.advance(t, StreamPosition{Offset: th.last, Epoch: th.epoch})
			continue
		}
		if !consumerMayRead(ss, t) {
			continue
		}
		p, known := g.positions.position(t)
		since := StreamPosition{Epoch: th.epoch} // a topic new since the group was made: all of it
		if known && p.Epoch == th.epoch {
			since = p
		}
		recovered, kept := localReplay(th, &since)
		r := keptRun{topic: t, epoch: th.epoch, last: th.last}
		if !recovered {
			kept = nil // (not kept[:0]: that is history's own array)
			for _, e := range th.kept() {
				if e.offset > since.Offset {
					kept = append(kept, e)
				}
			}
			next := th.last + 1
			if len(kept) > 0 {
				next = kept[0].offset
			}
			r.gap = &gapNotice{Topic: t, Epoch: th.epoch, After: since.Offset, Next: next, Group: g.key.id}
		}
		r.entries = append([]histEntry(nil), kept...)
		runs = append(runs, r)
	}
	hs.mu.Unlock()
	for _, r := range runs {
		if r.gap != nil {
			c.send(encodeGapEvent(h.appID, *r.gap, now))
		}
		for _, e := range r.entries {
			msg, ok := decodeKeptFrame(e.frame)
			if !ok {
				continue
			}
			frame := encodeCloudEvent(h.appID, r.topic, &msg, historyEventID(r.epoch, e.offset), e.at)
			h.handTo(c, pendingDelivery{topic: r.topic, frame: frame})
		}
		g.positions.advance(r.topic, StreamPosition{Offset: r.last, Epoch: r.epoch})
	}
}

// leaveGroup takes c out of its group and hands its pending share to the other live
// members, or keeps it for the next member of a durable group. A temporary group goes.
func (h *hub) leaveGroup(c *conn) {
	if h.leaveBrokerGroup(c) {
		return
	}
	cg := &h.consumers
	cg.mu.Lock()
	defer cg.mu.Unlock()
	cs := c.consumer()
	g := cs.group
	if g == nil {
		return
	}
	cs.group = nil
	if i := slices.Index(g.members, c); i >= 0 {
		g.members = slices.Delete(g.members, i, i+1)
		if g.next > i {
			g.next--
		}
		if len(g.members) > 0 {
			g.next %= len(g.members)
		} else {
			g.next = 0
		}
	}
	g.orphans = append(g.orphans, cs.pending...)
	cs.pending = nil
	h.drainOrphansLocked(g)
	if len(g.members) == 0 && !g.durable {
		delete(cg.groups, g.key)
		cg.n.Add(-1)
	}
}
