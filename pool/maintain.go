package pool

import "time"

// maintain drops dead idle objects and keeps MinIdle objects idle, on every interval and
// every Kick, and runs the evictor every EvictionInterval, until Close.
func (p *Pool[T]) maintain() {
	ticker := time.NewTicker(p.opts.MaintenanceInterval)
	defer ticker.Stop()
	var evictions <-chan time.Time
	if p.evicts() {
		t := time.NewTicker(p.opts.EvictionInterval)
		defer t.Stop()
		evictions = t.C
	}
	for {
		select {
		case <-p.done:
			return
		case <-ticker.C:
		case <-p.kick:
		case <-evictions:
			p.Evict()
			continue
		}
		p.tick()
		if !p.opts.SkipTestWhileIdle {
			p.sweep()
		}
		p.fill()
	}
}

// sweep destroys the idle objects that fail Validate.
func (p *Pool[T]) sweep() {
	var dead []T
	if obj, since, ok := p.takeHotSince(); ok {
		if p.valid(obj) {
			p.reparkHot(obj, since)
		} else {
			dead = append(dead, obj)
		}
	}
	p.mu.Lock()
	live := p.idle[:0]
	for _, e := range p.idle {
		if p.valid(e.obj) {
			live = append(live, e)
		} else {
			dead = append(dead, e.obj)
		}
	}
	clear(p.idle[len(live):])
	p.idle = live
	p.mu.Unlock()
	for _, obj := range dead {
		p.destroy(obj)
	}
}

// fill makes objects until MinIdle are idle or MaxTotal exist; a failed make waits for the
// next round.
func (p *Pool[T]) fill() {
	for {
		p.mu.Lock()
		if p.closed || len(p.idle)+p.hotIdle() >= p.opts.MinIdle || p.open >= p.opts.MaxTotal {
			p.mu.Unlock()
			return
		}
		p.open++
		p.mu.Unlock()
		obj, err := p.factory.Make(p.ctx)
		if err == nil && !p.opts.SkipTestOnCreate && !p.valid(obj) {
			p.factory.Destroy(obj) // the slot is released below
			err = ErrInvalidNew
		}
		if err != nil {
			p.release()
			if p.opts.OnFillError != nil && p.ctx.Err() == nil {
				p.opts.OnFillError(err)
			}
			return
		}
		p.Return(obj)
	}
}
