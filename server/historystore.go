package server

import (
	"sync"
)

// Bounds on an app's history on one node. A publisher that writes to ever new topics, or
// big messages to many topics, must not grow the server without limit: each app's kept
// messages are capped in bytes and in topics, and the oldest message of the whole app goes
// first when either is over.
const (
	// DefaultHistoryMaxBytes is the default App.HistoryMaxBytes: 64 MiB per app and node.
	DefaultHistoryMaxBytes = 64 << 20
	// DefaultHistoryMaxTopics is the default App.HistoryMaxTopics.
	DefaultHistoryMaxTopics = 10_000
)

// What one kept message and one kept topic cost beyond their frame and name: the entry,
// its place in the app's order, the topic's struct and map slot. Rough, but it makes a
// flood of tiny messages or of new topics count.
const (
	histEntryOverhead = 96
	histTopicOverhead = 160
)

// historyLimits are an app's history settings with defaults applied.
type historyLimits struct {
	size      int   // messages per topic (historySize); 0: no history
	ttl       int64 // ns; 0: no age limit
	maxBytes  int64
	maxTopics int
}

func historyLimitsOf(a *App) historyLimits {
	l := historyLimits{size: a.HistorySize, ttl: int64(a.HistoryTTL), maxBytes: a.HistoryMaxBytes, maxTopics: a.HistoryMaxTopics}
	if l.maxBytes <= 0 {
		l.maxBytes = DefaultHistoryMaxBytes
	}
	if l.maxTopics <= 0 {
		l.maxTopics = DefaultHistoryMaxTopics
	}
	return l
}

// historyStore is one app's kept messages on this node: per topic (topicHistory), and
// all of them in the order they were kept, so that the app's oldest message can be found
// at once when the app is over its bytes or topics, or the message is past historyTtl.
//
// Its mutex is its own: the dispatcher records under it while holding the hub's lock for
// writing (so that a subscribe with recovery, which holds the hub's lock too, sees each
// message either in history or live; a lock taken for reading must not guard a write),
// and anything that reads history without the hub's lock (a read back from the broker,
// the metrics, a reload's new bounds) takes it too. Lock order: hub.mu, then this.
type historyStore struct {
	mu     sync.Mutex
	epoch  string // the hub's own epoch, for the topics it numbers itself
	topics map[string]*topicHistory
	// order holds every kept message, oldest first from head, as (topic, offset); a message
	// that left its topic otherwise (historySize, a topic replaced by a new epoch) leaves a
	// stale ref here, skipped when met and swept out when they pile up.
	order []histRef
	head  int
	live  int // refs in order that are still kept
	// empty lists topics whose every message expired (historyTtl): kept so that a client
	// that saw their last message still recovers, and forgotten first when over a bound.
	empty []histRef
	bytes int64
	// high is the highest offset this hub numbered; once a topic was forgotten, a topic
	// numbered anew starts after it, so that no offset of one epoch names two messages.
	high   uint64
	forgot bool
}

// histRef names a kept message (or, in empty, a topic) by its topic's history and offset.
type histRef struct {
	topic  string
	th     *topicHistory
	offset uint64
}

func newHistoryStore(epoch string) *historyStore {
	return &historyStore{epoch: epoch, topics: make(map[string]*topicHistory)}
}

func entryCost(e *histEntry) int64 { return int64(cap(e.frame)) + histEntryOverhead }
func topicCost(topic string) int64 { return int64(len(topic)) + histTopicOverhead }

// size reports the bytes and topics held.
func (hs *historyStore) size() (bytes int64, topics int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.bytes, len(hs.topics)
}

// topicLocked returns topic's history for epoch, making it (and making room for it) when
// the topic is new or its epoch changed.
func (hs *historyStore) topicLocked(topic, epoch string, l historyLimits) *topicHistory {
	th := hs.topics[topic]
	if th != nil && th.epoch == epoch {
		return th
	}
	if th != nil {
		hs.dropTopicLocked(topic, th) // another stream: what was kept is not comparable
	}
	hs.bytes += topicCost(topic)
	th = &topicHistory{epoch: epoch}
	if epoch == hs.epoch && hs.forgot {
		th.last = hs.high // see high
	}
	hs.topics[topic] = th
	hs.evictLocked(l, th)
	return th
}

// addLocked keeps e as the newest message of topic, then applies the bounds.
func (hs *historyStore) addLocked(topic string, th *topicHistory, e histEntry, now int64, l historyLimits) {
	th.entries = append(th.entries, e)
	hs.order = append(hs.order, histRef{topic: topic, th: th, offset: e.offset})
	hs.live++
	hs.bytes += entryCost(&e)
	if th.epoch == hs.epoch && e.offset > hs.high {
		hs.high = e.offset
	}
	for len(th.entries)-th.head > l.size {
		hs.popLocked(th)
	}
	hs.expireLocked(now, l.ttl)
	hs.evictLocked(l, th)
	hs.compactLocked()
}

// popLocked drops th's oldest kept message.
func (hs *historyStore) popLocked(th *topicHistory) {
	hs.bytes -= entryCost(&th.entries[th.head])
	hs.live--
	th.entries[th.head] = histEntry{}
	th.head++
	if th.head > 64 && th.head*2 >= len(th.entries) {
		n := copy(th.entries, th.entries[th.head:])
		clear(th.entries[n:])
		th.entries = th.entries[:n]
		th.head = 0
	}
}

// frontLocked returns the topic history the oldest ref in order names, when that message
// is still kept (it is then its topic's oldest); stale refs before it are dropped.
func (hs *historyStore) frontLocked() (histRef, bool) {
	for hs.head < len(hs.order) {
		r := hs.order[hs.head]
		if th := r.th; hs.topics[r.topic] == th && len(th.entries) > th.head && th.entries[th.head].offset == r.offset {
			return r, true
		}
		hs.order[hs.head] = histRef{}
		hs.head++
	}
	return histRef{}, false
}

// shiftLocked drops the oldest ref of order (the caller popped its message).
func (hs *historyStore) shiftLocked() {
	hs.order[hs.head] = histRef{}
	hs.head++
}

// expireLocked drops messages older than ttl, oldest first across the app. A topic left
// without messages stays known (its last offset still confirms a client that saw it)
// until a bound needs the room.
func (hs *historyStore) expireLocked(now, ttl int64) {
	if ttl <= 0 {
		return
	}
	for {
		r, ok := hs.frontLocked()
		if !ok || now-r.th.entries[r.th.head].at < ttl {
			return
		}
		hs.popLocked(r.th)
		hs.shiftLocked()
		if len(r.th.entries) == r.th.head {
			hs.empty = append(hs.empty, histRef{topic: r.topic, th: r.th})
		}
	}
}

// evictLocked brings the app within its bounds: first it forgets topics that hold no
// message, then the app's oldest messages go, and a topic whose last message goes is
// forgotten. keep (the topic being written) is never forgotten.
func (hs *historyStore) evictLocked(l historyLimits, keep *topicHistory) {
	over := func() bool { return hs.bytes > l.maxBytes || len(hs.topics) > l.maxTopics }
	for len(hs.empty) > 0 && over() {
		r := hs.empty[0]
		hs.empty[0] = histRef{}
		hs.empty = hs.empty[1:]
		if hs.topics[r.topic] == r.th && r.th != keep && len(r.th.entries) == r.th.head {
			hs.dropTopicLocked(r.topic, r.th)
		}
	}
	for over() {
		r, ok := hs.frontLocked()
		if !ok || r.th == keep && len(keep.entries)-keep.head <= 1 {
			return // only the message just kept is left: it stays, over or not
		}
		hs.popLocked(r.th)
		hs.shiftLocked()
		if len(r.th.entries) == r.th.head && r.th != keep {
			hs.dropTopicLocked(r.topic, r.th)
		}
	}
}

// dropTopicLocked forgets topic: its kept messages and its position. Refs to it go stale.
func (hs *historyStore) dropTopicLocked(topic string, th *topicHistory) {
	for th.head < len(th.entries) {
		hs.popLocked(th)
	}
	delete(hs.topics, topic)
	hs.bytes -= topicCost(topic)
	if th.epoch == hs.epoch {
		hs.forgot = true
	}
}

// compactLocked sweeps stale refs out of order and empty once they outnumber the live
// ones, and lets go of the part of order before head.
func (hs *historyStore) compactLocked() {
	if hs.head > 1024 && hs.head*2 > len(hs.order) {
		n := copy(hs.order, hs.order[hs.head:])
		clear(hs.order[n:])
		hs.order, hs.head = hs.order[:n], 0
	}
	if stale := len(hs.order) - hs.head - hs.live; stale > 1024 && stale > hs.live {
		kept := hs.order[:0]
		for _, r := range hs.order[hs.head:] {
			th := r.th
			if hs.topics[r.topic] == th && len(th.entries) > th.head && r.offset >= th.entries[th.head].offset {
				kept = append(kept, r)
			}
		}
		clear(hs.order[len(kept):])
		hs.order, hs.head = kept, 0
	}
	if len(hs.empty) > 1024 && len(hs.empty) > 2*len(hs.topics) {
		kept := hs.empty[:0]
		for _, r := range hs.empty {
			if hs.topics[r.topic] == r.th && len(r.th.entries) == r.th.head {
				kept = append(kept, r)
			}
		}
		clear(hs.empty[len(kept):])
		hs.empty = kept
	}
}

// apply brings what is kept within new limits after a reload: everything goes when the
// app keeps no history any more.
func (hs *historyStore) apply(l historyLimits, now int64) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if l.size <= 0 {
		hs.clearLocked()
		return
	}
	for _, th := range hs.topics {
		for len(th.entries)-th.head > l.size {
			hs.popLocked(th)
		}
	}
	hs.expireLocked(now, l.ttl)
	hs.evictLocked(l, nil)
	hs.compactLocked()
}

// clear forgets everything, for an app that went away.
func (hs *historyStore) clear() {
	hs.mu.Lock()
	hs.clearLocked()
	hs.mu.Unlock()
}

func (hs *historyStore) clearLocked() {
	if len(hs.topics) > 0 {
		hs.forgot = true
	}
	hs.topics = make(map[string]*topicHistory)
	hs.order, hs.head, hs.live = nil, 0, 0
	hs.empty = nil
	hs.bytes = 0
}
