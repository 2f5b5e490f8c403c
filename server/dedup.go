package server

import (
	"sync"
	"time"
)

// dedup remembers ingest frame ids for a window so that a destination that resends
// after a reconnect does not deliver twice. Memory is bounded by a maximum count: the
// oldest ids are forgotten first.
type dedup struct {
	mu    sync.Mutex
	seen  map[string]int64 // id → expiry, unix ns
	order []dedupEntry     // insertion order, a queue from head
	head  int
}

type dedupEntry struct {
	id      string
	expires int64
}

func newDedup() *dedup { return &dedup{seen: make(map[string]int64)} }

// firstSeen records id and reports true when it was not seen within window.
func (d *dedup) firstSeen(id string, now int64, window time.Duration, max int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked(now, max)
	if exp, ok := d.seen[id]; ok && exp > now {
		return false
	}
	exp := now + int64(window)
	d.seen[id] = exp
	d.order = append(d.order, dedupEntry{id: id, expires: exp})
	return true
}

// expireLocked forgets expired ids and, over max, the oldest ones.
func (d *dedup) expireLocked(now int64, max int) {
	for d.head < len(d.order) {
		e := d.order[d.head]
		if e.expires > now && len(d.order)-d.head < max {
			break
		}
		if d.seen[e.id] == e.expires {
			delete(d.seen, e.id)
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

// forget drops id, so that a frame whose publish failed can be sent again.
func (d *dedup) forget(id string) {
	d.mu.Lock()
	delete(d.seen, id)
	d.mu.Unlock()
}
