package pool

// Return hands back a borrowed object: it goes to the longest-waiting borrower, or becomes
// idle; it is destroyed when it fails Validate, MaxIdle objects are already idle, or the
// pool is closed.
func (p *Pool[T]) Return(obj T) {
	if !p.opts.SkipTestOnReturn && !p.valid(obj) {
		p.destroy(obj)
		p.Kick()
		return
	}
	if p.waiting.Load() == 0 && !p.opts.FIFO {
		// The hot slot takes obj; what it held goes onto the idle stack, below obj.
		prev, hadPrev := p.takeHot()
		switch {
		case !p.parkHot(obj):
			if hadPrev {
				p.handOff(prev)
			}
		case p.waiting.Load() > 0:
			// A borrower began waiting meanwhile: unless it took obj itself, hand it over.
			if o, ok := p.takeHot(); ok {
				p.handOff(o)
			}
			if !hadPrev {
				return
			}
			obj = prev
		case !hadPrev:
			return
		default:
			obj = prev
		}
	}
	p.handOff(obj)
}

// handOff gives obj to the longest-waiting borrower, else to the idle stack, else
// destroys it (MaxIdle reached, or the pool closed). It takes the lock: it is Return's
// path whenever the hot slot is not enough.
func (p *Pool[T]) handOff(obj T) {
	p.mu.Lock()
	switch {
	case p.closed:
	case len(p.waiters) > 0:
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.waiting.Add(-1)
		w.grant <- grant[T]{obj: obj, hasObj: true}
		p.mu.Unlock()
		return
	case len(p.idle)+p.hotIdle() < p.opts.MaxIdle:
		p.idle = append(p.idle, idleObj[T]{obj: obj, since: p.clock.Load()})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.destroy(obj)
}
