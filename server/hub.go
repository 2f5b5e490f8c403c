package server

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kete-dev/kete/server/auth"
)

// hub is one app's live state on this node: its connections, its topic index and the
// dispatcher that fans messages from the broker out to subscribers. It never learns which
// broker it runs on.
type hub struct {
	deps  *hubDeps
	appID string
	cfg   atomic.Pointer[appRuntime]

	// mu guards the registry (conns, subjects, reservations) and the topic index (topics,
	// each conn's topics) together, on purpose: opening a client registers it and
	// subscribes it to main behind its welcome in one step, a reservation counts against
	// the registered connections, a subscribe checks that its connection is still
	// registered, and resolving priv/{x} reads both. Split, each would take both locks.
	// History has its own (historyStore.mu), as do consumer groups and dedup.
	mu       sync.RWMutex
	conns    map[string]*conn
	subjects map[string][]*conn
	topics   map[string]*topicSubs
	reserved int // connections authorised but not yet open
	// upgrading counts, per subject, reject-policy connections authorised but not yet
	// open, so that two connects of one subject racing on this node are not both let in.
	upgrading map[string]int
	// retired is set, under mu, when a reload removed the app: a connection that
	// registers after that is closed by its upgrade (see retire).
	retired atomic.Bool

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

// hubDeps is what a hub (and its connections) needs from the server, and all it may
// reach: one set, shared by every hub of the server.
type hubDeps struct {
	ctx     context.Context // ends when the server closes
	log     *slog.Logger
	metrics *metrics
	broker  Broker
	clock   *coarseClock
	fan     *fanoutPool
	out     *outbound
	roster  *roster // nil unless the broker spans nodes
}

func newHub(d *hubDeps, appID string, rt *appRuntime) *hub {
	h := &hub{
		deps:      d,
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
	return h
}

// start runs the dispatcher until stop.
func (h *hub) start() {
	h.wg.Add(1)
	go h.run()
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
// It holds h.mu for writing, as subscribeFrom does: it writes the topic's history, and
// the two must exclude each other.
func (h *hub) resolveRecording(rt *appRuntime, run []queued, subs []*conn) ([]queued, []*conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.deps.clock.now()
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
// another node holds (see roster.go). It returns the connections to replace, if any, or
// why it refused (*admissionRefusal; admit.go answers it over HTTP).
func (h *hub) reserve(rt *appRuntime, subject string) (replace []*conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if max := rt.app.MaxConnections; max > 0 && len(h.conns)+h.reserved >= max {
		return nil, &admissionRefusal{kind: refusedAppFull, reason: "app " + h.appID + " is at its maximum of connections"}
	}
	if subject != "" {
		switch rt.app.OneConnectionPerUser {
		case OnePerUserReject:
			if len(h.subjects[subject]) > 0 || h.upgrading[subject] > 0 {
				return nil, &admissionRefusal{kind: refusedSubjectConnected, reason: "subject already has a connection to this app"}
			}
			if r := h.deps.roster; r != nil && r.heldElsewhere(h.appID, subject) {
				return nil, &admissionRefusal{kind: refusedSubjectConnected, reason: "subject already has a connection to this app on another node"}
			}
		case OnePerUserReplace:
			replace = append(replace, h.subjects[subject]...)
		}
		if rt.app.OneConnectionPerUser == OnePerUserReject {
			h.upgrading[subject]++
		}
	}
	h.reserved++
	return replace, nil
}

// admissionRefusal is why a hub refused to reserve a connection.
type admissionRefusal struct {
	kind   refusalKind
	reason string
}

// refusalKind tells admission refusals apart.
type refusalKind uint8

const (
	refusedAppFull          refusalKind = iota + 1 // the app is at maxConnections on this node
	refusedSubjectConnected                        // oneConnectionPerUser "reject": the subject has one
)

func (e *admissionRefusal) Error() string { return e.reason }

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

// open turns a reservation into a registered connection (ingest, consumer).
func (h *hub) open(c *conn) {
	h.mu.Lock()
	h.registerLocked(c)
	h.mu.Unlock()
	h.deps.metrics.connections.Inc()
}

// openClient turns a client's reservation into a registered connection reachable on
// priv/{subject} and subscribed to main, and sends welcome under the same lock: no
// broadcast can overtake the welcome, and every message published after the client saw
// it reaches the client.
func (h *hub) openClient(c *conn, welcome []byte) {
	h.mu.Lock()
	c.send(welcome)
	h.registerLocked(c)
	sub := c.session().subject
	h.doneUpgradingLocked(sub)
	h.subjects[sub] = append(h.subjects[sub], c)
	h.subscribeLocked(c, "main")
	h.mu.Unlock()
	h.deps.metrics.connections.Inc()
	if r := h.deps.roster; r != nil && h.cfg.Load().app.OneConnectionPerUser == OnePerUserReject {
		r.hold(h, c) // the other nodes learn the subject is taken here
	}
}

func (h *hub) registerLocked(c *conn) {
	h.reserved--
	h.conns[c.id] = c
}

// remove forgets c (ingest, consumer); it reports whether c was registered.
func (h *hub) remove(c *conn) bool {
	h.mu.Lock()
	ok := h.unregisterLocked(c)
	h.mu.Unlock()
	if ok {
		h.deps.metrics.connections.Dec()
	}
	return ok
}

// removeClient forgets a client everywhere: its subject and its subscriptions too; it
// reports whether c was registered.
func (h *hub) removeClient(c *conn) bool {
	h.mu.Lock()
	if !h.unregisterLocked(c) {
		h.mu.Unlock()
		return false
	}
	sub := c.session().subject
	list := h.subjects[sub]
	if i := slices.Index(list, c); i >= 0 {
		list[i] = list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
	}
	if len(list) == 0 {
		delete(h.subjects, sub)
	} else {
		h.subjects[sub] = list
	}
	for _, t := range c.topics {
		h.unsubscribeIndexLocked(c, t)
	}
	h.deps.metrics.subscriptions.Sub(float64(len(c.topics)))
	c.topics = nil
	h.mu.Unlock()
	h.deps.metrics.connections.Dec()
	if r := h.deps.roster; r != nil {
		r.release(c)
	}
	return true
}

// unregisterLocked deletes c from the connections; it reports whether c was there.
func (h *hub) unregisterLocked(c *conn) bool {
	if h.conns[c.id] != c {
		return false
	}
	delete(h.conns, c.id)
	return true
}

// subscribe adds c to topic; it reports false when c is at maxSubs, and whether it was new.
func (h *hub) subscribe(c *conn, topic string, maxSubs int) (added, full bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addSubscriptionLocked(c, topic, maxSubs)
}

// addSubscriptionLocked subscribes c to topic unless c is gone, already subscribed, or
// at maxSubs (full); h.mu is held.
func (h *hub) addSubscriptionLocked(c *conn, topic string, maxSubs int) (added, full bool) {
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
	h.deps.metrics.subscriptions.Inc()
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
			h.deps.metrics.subscriptions.Dec()
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
// retire marks h as removed by a reload and returns its connections, for the reload to
// close. Under one lock with registration: a connection registered before is returned,
// one registered after sees retired (upgradeAndServe closes it).
func (h *hub) retire() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retired.Store(true)
	conns := make([]*conn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	return conns
}

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
