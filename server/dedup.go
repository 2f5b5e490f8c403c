package server

import (
	"sync"
	"time"
)

// dedup remembers ingest frame ids for a window so that a destination that resends
// after a reconnect does not deliver twice. An id is remembered per topic: one event
// sent by two routes to two topics of one app is a message for each topic, not a resend.
// Memory is bounded by a maximum count: the oldest ids are forgotten first.
type dedup struct {
	mu    sync.Mutex
	seen  map[dedupKey]int64 // (topic, id) → expiry, unix ns
	order []dedupEntry       // insertion order, a queue from head
	head  int
}

// dedupKey is what makes two ingest frames the same message: the topic they were sent to
// and the frame's id.
type dedupKey struct {
	topic, id string
}

type dedupEntry struct {
	key     dedupKey
	expires int64
}

func newDedup() *dedup { return &dedup{seen: make(map[dedupKey]int64)} }

// firstSeen records id on topic and reports true when it was not seen there within window.
func (d *dedup) firstSeen(topic, id string, now int64, window time.Duration, max int) bool {
	k := dedupKey{topic: topic, id: id}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked(now, max)
	if exp, ok := d.seen[k]; ok && exp > now {
		return false
	}
	exp := now + int64(window)
	d.seen[k] = exp
	d.order = append(d.order, dedupEntry{key: k, expires: exp})
	return true
}

// expireLocked forgets expired ids and, over max, the oldest ones.
func (d *dedup) expireLocked(now int64, max int) {
	for d.head < len(d.order) {
		e := d.order[d.head]
		if e.expires > now && len(d.order)-d.head < max {
			break
		}
		if d.seen[e.key] == e.expires {
			delete(d.seen, e.key)
		}
		d.order[d.head] = dedupEntry{}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.order) {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = d.order[:n]
		d.head = 0
	}
}

// len reports how many ids are remembered.
func (d *dedup) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// forget drops id on topic, so that a frame whose publish failed can be sent again.
func (d *dedup) forget(topic, id string) {
	d.mu.Lock()
	delete(d.seen, dedupKey{topic: topic, id: id})
	d.mu.Unlock()
}
