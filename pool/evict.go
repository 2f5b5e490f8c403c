package pool

import "time"

// Eviction closes objects that stayed idle too long, as Commons Pool 2's evictor does for
// KETE (GenericObjectPool.evict with DefaultEvictionPolicy; FortuneN/kete Route.java sets
// it from destination.pool.*): every EvictionInterval, the TestsPerEvictionRun objects
// idle longest are examined; one idle for MinEvictableIdle is destroyed, and so is one
// idle for SoftMinEvictableIdle while more than MinIdle objects are idle; the others are
// validated (test while idle). MinIdle is then refilled with fresh objects. Against a
// proxy or load balancer that cuts connections idle for N seconds, a MinEvictableIdle
// below N replaces them before the proxy cuts them under a send.
//
// Idle times are read from a coarse clock, refreshed by each maintenance or eviction run,
// so that Return stamps its object with an atomic load rather than a clock read. A stamp
// can be up to one run interval older than the return, so that much is subtracted: an
// object is never evicted before it has been idle for the configured time, and at the
// latest one interval after.

// evicts reports whether eviction runs can evict anything.
func (p *Pool[T]) evicts() bool {
	return p.opts.EvictionInterval > 0 && (p.opts.MinEvictableIdle > 0 || p.opts.SoftMinEvictableIdle > 0)
}

// tick refreshes the coarse clock and returns it.
func (p *Pool[T]) tick() int64 {
	now := int64(p.opts.Now().Sub(p.start))
	p.clock.Store(now)
	return now
}

// slack is the most a stamp can predate the return it records: the longest gap between
// clock refreshes while the maintenance loop runs.
func (p *Pool[T]) slack() time.Duration {
	if p.evicts() {
		return min(p.opts.MaintenanceInterval, p.opts.EvictionInterval)
	}
	return p.opts.MaintenanceInterval
}

// Evict runs one eviction run now (the maintenance loop runs one every EvictionInterval),
// then refills MinIdle. Evicted objects are destroyed before it returns.
func (p *Pool[T]) Evict() {
	p.evictMu.Lock()
	defer p.evictMu.Unlock()
	now := p.tick()
	slack := int64(p.slack())
	var evicted, dead []T

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	// The hot object is the newest idle one: it joins the end of the list.
	if obj, since, ok := p.takeHotSince(); ok {
		p.idle = append(p.idle, idleObj[T]{obj: obj, since: since})
	}
	n := p.opts.TestsPerEvictionRun
	if n < 0 {
		n = (len(p.idle) + (-n) - 1) / (-n)
	}
	live := p.idle[:0]
	for i, e := range p.idle {
		if i >= n {
			live = append(live, e)
			continue
		}
		idleFor := time.Duration(now - e.since - slack)
		switch {
		case p.opts.MinEvictableIdle > 0 && idleFor >= p.opts.MinEvictableIdle,
			p.opts.SoftMinEvictableIdle > 0 && idleFor >= p.opts.SoftMinEvictableIdle &&
				len(p.idle)-len(evicted)-len(dead) > p.opts.MinIdle:
			evicted = append(evicted, e.obj)
		case !p.opts.SkipTestWhileIdle && !p.valid(e.obj):
			dead = append(dead, e.obj)
		default:
			live = append(live, e)
		}
	}
	clear(p.idle[len(live):])
	p.idle = live
	p.mu.Unlock()

	for _, obj := range evicted {
		p.destroy(obj)
	}
	for _, obj := range dead {
		p.destroy(obj)
	}
	p.fill()
}
