package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kete-dev/kete/server/auth"
)

// hub is one app's live state on this node: its connections, its topic index and the
// dispatcher that fans messages from the broker out to subscribers. It never learns which
// broker it runs on.
type hub struct {
	srv   *Server
	appID string
	cfg   atomic.Pointer[appRuntime]

	mu       sync.RWMutex
	conns    map[string]*conn
	subjects map[string][]*conn
	topics   map[string]*topicSubs
	reserved int // connections authorised but not yet open
	// upgrading counts, per subject, reject-policy connections authorised but not yet
	// open, so that two connects of one subject racing on this node are not both let in.
	upgrading map[string]int

	in   chan queued
	done chan struct{}
	wg   sync.WaitGroup

	dedup     *dedup
	telemetry *telemetry
	topTopics topicTelemetry   // per topic and day (telemetrytop.go)
	countries countryTelemetry // client connections per country and day (telemetryheatmap.go)

	// history holds the kept messages of topics of an app with historySize > 0, under
	// its own lock (see historyStore). epoch names the offsets this hub numbers itself.
	history *historyStore
	epoch   string

	consumers consumerGroups // Drogue consumer groups (groups.go)
}

// topicSubs is the subscriber list of one topic; index maps a conn to its slot so that
// removal is O(1).
type topicSubs struct {
	list  []*conn
	index map[*conn]int
}

// queued is one encoded message waiting for the dispatcher.
type queued struct {
	topic   string
	frame   []byte
	dataLen int
	msg     Message
	offset  uint64 // in the topic's history; 0 when not kept
}

// hubQueue bounds how many messages wait for a hub's dispatcher; a full queue makes
// Publish wait (back-pressure) until its context ends.
const hubQueue = 4096

// fanoutChunk is how many subscribers one fan-out task writes to.
const fanoutChunk = 256

func newHub(s *Server, appID string, rt *appRuntime) *hub {
	h := &hub{
		srv:       s,
		appID:     appID,
		conns:     make(map[string]*conn),
		subjects:  make(map[string][]*conn),
		upgrading: make(map[string]int),
		topics:    make(map[string]*topicSubs),
		in:        make(chan queued, hubQueue),
		done:      make(chan struct{}),
		dedup:     newDedup(),
		telemetry: newTelemetry(),
		epoch:     newID(),
	}
	h.history = newHistoryStore(h.epoch)
	h.cfg.Store(rt)
	h.wg.Add(1)
	go h.run()
	return h
}

// stop ends the dispatcher; messages still queued are dropped.
func (h *hub) stop() {
	select {
	case <-h.done:
	default:
		close(h.done)
	}
	h.wg.Wait()
	h.history.clear() // the app went away (or the server closed): free what it kept
}

// errHubStopped is returned to a publisher whose app was removed or whose server closed.
var errHubStopped = errors.New("server: app hub stopped")

// enqueue encodes msg once and queues it for fan-out, waiting while the queue is full.
func (h *hub) enqueue(ctx context.Context, topic string, msg Message) error {
	mt := msg.MessageType
	if mt == "" {
		mt = "broadcast"
	}
	q := queued{topic: topic, frame: encodeServerFrame(topic, mt, msg.Data, msg.Binary), dataLen: len(msg.Data), msg: msg}
	select {
	case h.in <- q:
		return nil
	default:
	}
	select {
	case h.in <- q:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.done:
		return errHubStopped
	}
}

// run is the dispatcher: it takes whatever is queued (up to a batch), groups consecutive
// messages of one topic, concatenates their frames into one buffer and writes that buffer
// to every subscriber — one write per subscriber per batch, however many messages.
func (h *hub) run() {
	defer h.wg.Done()
	batch := make([]queued, 0, 256)
	var subs []*conn
	for {
		select {
		case <-h.done:
			return
		case q := <-h.in:
			batch = append(batch[:0], q)
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case q := <-h.in:
				batch = append(batch, q)
			default:
				break drain
			}
		}
		for i := 0; i < len(batch); {
			j := i + 1
			for j < len(batch) && batch[j].topic == batch[i].topic {
				j++
			}
			subs = h.dispatch(batch[i:j], subs[:0])
			i = j
		}
		clear(batch)
		clear(subs)
	}
}

// dispatch delivers a run of messages of one topic.
func (h *hub) dispatch(run []queued, subs []*conn) []*conn {
	topic := run[0].topic
	if rt := h.cfg.Load(); hasHistory(rt, topic) {
		run, subs = h.resolveRecording(rt, run, subs)
		if len(run) == 0 {
			return subs
		}
	} else {
		subs = h.resolve(topic, subs)
	}
	h.deliverToGroups(run)
	// Counted before the frames go out, so that telemetry read by whoever has seen a
	// message already counts it.
	now := h.srv.coarseNow()
	for _, q := range run {
		h.telemetry.add(now, q.dataLen, len(subs))
	}
	h.topTopics.addRun(now, topic, run, len(subs))
	total := 0
	if compressedRun(run, subs) {
		total = h.srv.fanoutDeflate(run, subs, h.cfg.Load().limits.MaxBacklog-queuedFrameCost) // compress:true to a deflating subscriber
	} else if len(run) == 1 {
		total = len(run[0].frame)
		if len(subs) > 0 {
			h.srv.fanout(run[0].frame, subs)
		}
	} else {
		// One buffer per chunk of at most maxBacklog bytes: a subscriber's queue never
		// has to take more than its bound at once (a whole batch of 256 messages, taken
		// into an empty queue, let slow subscribers hold megabytes each).
		limit := h.cfg.Load().limits.MaxBacklog - queuedFrameCost
		for i := 0; i < len(run); {
			j, n := i+1, len(run[i].frame)
			for j < len(run) && n+len(run[j].frame) <= limit {
				n += len(run[j].frame)
				j++
			}
			total += n
			if len(subs) > 0 {
				buf := run[i].frame
				if j > i+1 {
					buf = make([]byte, 0, n)
					for _, q := range run[i:j] {
						buf = append(buf, q.frame...)
					}
				}
				h.srv.fanout(buf, subs)
			}
			i = j
		}
	}
	m := h.srv.metrics
	m.framesOut.Add(float64(len(subs) * len(run)))
	m.bytesOut.Add(float64(len(subs) * total))
	if rt := h.cfg.Load(); rt.app.Audit.Enabled {
		attrs := []any{slog.String("app", h.appID), slog.String("topic", topic), slog.Int("messages", len(run)), slog.Int("subscribers", len(subs)), slog.Int("bytes", total)}
		if rt.app.Audit.LogPayloads {
			payloads := make([]string, len(run))
			for i, q := range run {
				payloads[i] = string(q.msg.Data)
			}
			attrs = append(attrs, slog.Any("payloads", payloads))
		}
		h.srv.log.Info("audit delivery", attrs...)
	}
	return subs
}

// resolve appends the subscribers of topic to subs. priv/{x} reaches the connection with
// id x and every connection whose subject is x, without a topic index entry per
// connection.
func (h *hub) resolve(topic string, subs []*conn) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if name, ok := strings.CutPrefix(topic, "priv/"); ok {
		c := h.conns[name]
		if c != nil {
			subs = append(subs, c)
		}
		for _, s := range h.subjects[name] {
			if s != c {
				subs = append(subs, s)
			}
		}
		return subs
	}
	if ts := h.topics[topic]; ts != nil {
		subs = append(subs, ts.list...)
	}
	return subs
}

// resolveRecording keeps run in the topic's history (numbering and encoding each message
// with its offset) and resolves the subscribers under the same lock, so that a subscribe
// with recovery sees every message either in history or live, never both or neither.
// A message the broker delivers again (an offset already kept) is left out of run.
func (h *hub) resolveRecording(rt *appRuntime, run []queued, subs []*conn) ([]queued, []*conn) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	now := h.srv.coarseNow()
	kept := run[:0]
	h.history.mu.Lock()
	for i := range run {
		if h.recordLocked(rt, &run[i], now) {
			kept = append(kept, run[i])
		}
	}
	h.history.mu.Unlock()
	if ts := h.topics[run[0].topic]; ts != nil && len(kept) > 0 {
		subs = append(subs, ts.list...)
	}
	return kept, subs
}

// reserve counts a connection being upgraded against maxConnections (this node's
// connections only) and applies the one-per-user policy; "reject" also refuses a subject
// another node holds (see roster.go). It returns the connection to replace, if any.
func (h *hub) reserve(rt *appRuntime, subject string) (replace []*conn, status int, code, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if max := rt.app.MaxConnections; max > 0 && len(h.conns)+h.reserved >= max {
		return nil, 503, "too_many_connections", "app " + h.appID + " is at its maximum of connections"
	}
	if subject != "" {
		switch rt.app.OneConnectionPerUser {
		case OnePerUserReject:
			if len(h.subjects[subject]) > 0 || h.upgrading[subject] > 0 {
				return nil, 409, "already_connected", "subject already has a connection to this app"
			}
			if r := h.srv.roster; r != nil && r.heldElsewhere(h.appID, subject) {
				return nil, 409, "already_connected", "subject already has a connection to this app on another node"
			}
		case OnePerUserReplace:
			replace = append(replace, h.subjects[subject]...)
		}
		if rt.app.OneConnectionPerUser == OnePerUserReject {
			h.upgrading[subject]++
		}
	}
	h.reserved++
	return replace, 0, "", ""
}

// unreserve gives back a reservation whose upgrade failed.
func (h *hub) unreserve(subject string) {
	h.mu.Lock()
	h.reserved--
	h.doneUpgradingLocked(subject)
	h.mu.Unlock()
}

func (h *hub) doneUpgradingLocked(subject string) {
	if n := h.upgrading[subject]; n > 1 {
		h.upgrading[subject] = n - 1
	} else if n == 1 {
		delete(h.upgrading, subject)
	}
}

// open turns a reservation into a registered connection subscribed to main, and sends
// welcome (when not nil) under the same lock: no broadcast can overtake the welcome, and
// every message published after the client saw it reaches the client.
func (h *hub) open(c *conn, welcome []byte) {
	h.mu.Lock()
	if welcome != nil {
		c.send(welcome)
	}
	h.reserved--
	h.conns[c.id] = c
	if c.isClient() {
		sub := c.session().subject
		h.doneUpgradingLocked(sub)
		h.subjects[sub] = append(h.subjects[sub], c)
		h.subscribeLocked(c, "main")
	}
	h.mu.Unlock()
	h.srv.metrics.connections.Inc()
	if r := h.srv.roster; r != nil && c.isClient() && h.cfg.Load().app.OneConnectionPerUser == OnePerUserReject {
		r.hold(h, c) // the other nodes learn the subject is taken here
	}
}

// remove forgets c everywhere; it reports whether c was registered.
func (h *hub) remove(c *conn) bool {
	h.mu.Lock()
	if h.conns[c.id] != c {
		h.mu.Unlock()
		return false
	}
	delete(h.conns, c.id)
	if c.isClient() {
		sub := c.session().subject
		list := h.subjects[sub]
		for i, s := range list {
			if s == c {
				list[i] = list[len(list)-1]
				list[len(list)-1] = nil
				list = list[:len(list)-1]
				break
			}
		}
		if len(list) == 0 {
			delete(h.subjects, sub)
		} else {
			h.subjects[sub] = list
		}
		for _, t := range c.topics {
			h.unsubscribeIndexLocked(c, t)
		}
		h.srv.metrics.subscriptions.Sub(float64(len(c.topics)))
		c.topics = nil
	}
	h.mu.Unlock()
	h.srv.metrics.connections.Dec()
	if r := h.srv.roster; r != nil && c.isClient() {
		r.release(c)
	}
	return true
}

// subscribe adds c to topic; it reports false when c is at maxSubs, and whether it was new.
func (h *hub) subscribe(c *conn, topic string, maxSubs int) (added, full bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns[c.id] != c {
		return false, false
	}
	for _, t := range c.topics {
		if t == topic {
			return false, false
		}
	}
	if len(c.topics) >= maxSubs {
		return false, true
	}
	h.subscribeLocked(c, topic)
	return true, false
}

func (h *hub) subscribeLocked(c *conn, topic string) {
	ts := h.topics[topic]
	if ts == nil {
		ts = &topicSubs{index: make(map[*conn]int)}
		h.topics[topic] = ts
	}
	ts.index[c] = len(ts.list)
	ts.list = append(ts.list, c)
	c.topics = append(c.topics, topic)
	h.srv.metrics.subscriptions.Inc()
}

// unsubscribe removes c from topic; it reports whether c was subscribed.
func (h *hub) unsubscribe(c *conn, topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unsubscribeLocked(c, topic)
}

func (h *hub) unsubscribeLocked(c *conn, topic string) bool {
	for i, t := range c.topics {
		if t == topic {
			c.topics[i] = c.topics[len(c.topics)-1]
			c.topics = c.topics[:len(c.topics)-1]
			h.unsubscribeIndexLocked(c, topic)
			h.srv.metrics.subscriptions.Dec()
			return true
		}
	}
	return false
}

func (h *hub) unsubscribeIndexLocked(c *conn, topic string) {
	ts := h.topics[topic]
	if ts == nil {
		return
	}
	i, ok := ts.index[c]
	if !ok {
		return
	}
	last := len(ts.list) - 1
	moved := ts.list[last]
	ts.list[i] = moved
	ts.index[moved] = i
	ts.list[last] = nil
	ts.list = ts.list[:last]
	delete(ts.index, c)
	if len(ts.list) == 0 {
		delete(h.topics, topic)
	}
}

// unsubscribeMatching removes every connection of subject (all when subject is empty)
// from every topic matching one of patterns ("!" negates, matcher semantics); it returns
// how many subscriptions it removed.
func (h *hub) unsubscribeMatching(patterns []string, subject string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var targets []*conn
	if subject != "" {
		targets = h.subjects[subject]
	} else {
		for _, c := range h.conns {
			targets = append(targets, c)
		}
	}
	removed := 0
	for _, c := range targets {
		for _, t := range append([]string(nil), c.topics...) {
			if !implicitSubscription(t) && matchPatterns(patterns, t) && h.unsubscribeLocked(c, t) {
				removed++
			}
		}
	}
	return removed
}

// matchPatterns applies the matcher module's rules: a topic matches when it matches some
// positive pattern and no negated one (with only negated patterns, everything else matches).
func matchPatterns(patterns []string, topic string) bool {
	positive, matched := false, false
	for _, p := range patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if auth.MatchTopic(neg, topic) {
				return false
			}
			continue
		}
		positive = true
		if auth.MatchTopic(p, topic) {
			matched = true
		}
	}
	return matched || !positive
}

// connection returns the connection with id, or nil.
func (h *hub) connection(id string) *conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}

// snapshot appends every connection to dst.
func (h *hub) snapshot(dst []*conn) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.conns {
		dst = append(dst, c)
	}
	return dst
}

// dropRevokedSecure unsubscribes c from secure/ topics its new permissions no longer allow.
func (h *hub) dropRevokedSecure(c *conn, perms []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range append([]string(nil), c.topics...) {
		if strings.HasPrefix(t, "secure/") && !auth.CanSubscribe(perms, t) {
			h.unsubscribeLocked(c, t)
		}
	}
}

// counts returns the number of connections and topics, for health and metrics.
func (h *hub) counts() (conns, topics int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns), len(h.topics)
}
