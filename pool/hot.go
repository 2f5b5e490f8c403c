package pool

// The hot slot holds the object returned last outside the pool's lock, taken and refilled
// with atomic operations: a sender that borrows and returns one connection per event
// never takes the lock.

// States of the hot slot.
const (
	hotEmpty  int32 = iota
	hotBusy         // being filled or emptied
	hotFull         // hotObj is idle
	hotClosed       // the pool is closed: nothing is parked any more
)

// takeHot empties the hot slot.
func (p *Pool[T]) takeHot() (obj T, ok bool) {
	obj, _, ok = p.takeHotSince()
	return obj, ok
}

// takeHotSince empties the hot slot and says since when its object was idle.
func (p *Pool[T]) takeHotSince() (obj T, since int64, ok bool) {
	if !p.hotState.CompareAndSwap(hotFull, hotBusy) {
		return obj, 0, false
	}
	obj, since = p.hotObj, p.hotSince
	var zero T
	p.hotObj = zero
	p.hotState.Store(hotEmpty)
	return obj, since, true
}

// parkHot puts obj in the empty hot slot.
func (p *Pool[T]) parkHot(obj T) bool {
	if !p.hotState.CompareAndSwap(hotEmpty, hotBusy) {
		return false
	}
	p.hotObj = obj
	p.hotSince = p.clock.Load()
	p.hotState.Store(hotFull)
	return true
}

// reparkHot puts back an object sweep took from the hot slot, keeping its idle time.
func (p *Pool[T]) reparkHot(obj T, since int64) {
	if p.hotState.CompareAndSwap(hotEmpty, hotBusy) {
		p.hotObj, p.hotSince = obj, since
		p.hotState.Store(hotFull)
		return
	}
	p.Return(obj) // a Return refilled the slot meanwhile
}

// hotIdle is 1 while an object is parked in the hot slot.
func (p *Pool[T]) hotIdle() int {
	if p.hotState.Load() == hotFull {
		return 1
	}
	return 0
}
