package pool

import (
	"context"
	"fmt"
	"time"
)

// waiter is a borrower waiting for a grant: a returned object, or a slot to make one in.
type waiter[T any] struct{ grant chan grant[T] }

type grant[T any] struct {
	obj    T
	hasObj bool // false: the slot is the waiter's, to make an object in
}

// Borrow returns an idle object that passes Validate, or a new one. When MaxTotal objects
// exist it waits for one to come back, at most MaxWait: then the error wraps ErrExhausted.
// When ctx ends first the error wraps ctx's error. A new object is made with ctx, so Make
// must bound its own time (a dial timeout). The caller must hand the object back with
// Return or Invalidate.
func (p *Pool[T]) Borrow(ctx context.Context) (T, error) {
	if obj, ok := p.takeHot(); ok {
		if p.validOnBorrow(obj) {
			return obj, nil
		}
		p.destroy(obj)
	}
	return p.borrow(ctx)
}

// claim is what one locked look at the pool gave a borrower.
type claim int

const (
	claimedIdle claim = iota // an idle object
	claimedSlot              // a free slot, counted in open, to make an object in
	claimedWait              // nothing: the borrower is queued as a waiter
	claimFailed              // the pool is closed or exhausted with waiting off
)

// borrow is Borrow past the hot slot: it loops until it lends a valid object, makes one,
// or gives up. One MaxWait timer spans every round.
func (p *Pool[T]) borrow(ctx context.Context) (T, error) {
	var zero T
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if obj, ok := p.takeHot(); ok {
			if p.lendable(obj) {
				return obj, nil
			}
			continue
		}
		obj, w, got, err := p.claim()
		switch got {
		case claimFailed:
			return zero, err
		case claimedIdle:
			if p.lendable(obj) {
				return obj, nil
			}
			continue
		case claimedSlot:
			return p.make(ctx)
		}
		// An object parked just before w registered is ours to take.
		if obj, ok := p.takeHot(); ok {
			p.abandon(w)
			if p.lendable(obj) {
				return obj, nil
			}
			continue
		}
		g, err := p.await(ctx, w, &timer)
		if err != nil {
			p.abandon(w)
			return zero, err
		}
		if !g.hasObj {
			return p.make(ctx)
		}
		if p.lendable(g.obj) {
			return g.obj, nil
		}
	}
}

// claim takes an idle object or a free slot under the lock, or queues the caller as a
// waiter when MaxTotal objects exist.
func (p *Pool[T]) claim() (obj T, w *waiter[T], got claim, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return obj, nil, claimFailed, fmt.Errorf("pool %s: %w", p.opts.Name, ErrClosed)
	case len(p.idle) > 0:
		return p.popIdle(), nil, claimedIdle, nil
	case p.open < p.opts.MaxTotal:
		p.open++
		return obj, nil, claimedSlot, nil
	case p.opts.FailWhenExhausted:
		return obj, nil, claimFailed, fmt.Errorf("pool %s: all %d objects in use and waiting is off: %w",
			p.opts.Name, p.opts.MaxTotal, ErrExhausted)
	}
	w = &waiter[T]{grant: make(chan grant[T], 1)}
	p.waiters = append(p.waiters, w)
	p.waiting.Add(1)
	return obj, w, claimedWait, nil
}

// await waits for w's grant until MaxWait (timed by *timer, started on the first wait),
// ctx or Close ends the wait. The caller abandons w when it returns an error.
func (p *Pool[T]) await(ctx context.Context, w *waiter[T], timer **time.Timer) (grant[T], error) {
	var expired <-chan time.Time
	if p.opts.MaxWait > 0 {
		if *timer == nil {
			*timer = time.NewTimer(p.opts.MaxWait)
		}
		expired = (*timer).C
	}
	select {
	case g := <-w.grant:
		return g, nil
	case <-expired:
		return grant[T]{}, fmt.Errorf("pool %s: exhausted after %s with max-total %d: %w",
			p.opts.Name, p.opts.MaxWait, p.opts.MaxTotal, ErrExhausted)
	case <-ctx.Done():
		return grant[T]{}, fmt.Errorf("pool %s: waiting for a free slot: %w", p.opts.Name, context.Cause(ctx))
	case <-p.done:
		return grant[T]{}, fmt.Errorf("pool %s: %w", p.opts.Name, ErrClosed)
	}
}

// lendable reports whether obj passes the borrow check; one that fails is destroyed.
func (p *Pool[T]) lendable(obj T) bool {
	if p.validOnBorrow(obj) {
		return true
	}
	p.destroy(obj)
	return false
}

// abandon withdraws a waiter that gave up; a grant that reached it anyway is passed on.
func (p *Pool[T]) abandon(w *waiter[T]) {
	p.mu.Lock()
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.waiting.Add(-1)
			p.mu.Unlock()
			return
		}
	}
	p.mu.Unlock()
	// Already granted: the grant is in the channel or on its way.
	if g := <-w.grant; g.hasObj {
		p.Return(g.obj)
	} else {
		p.release()
	}
}

// make fills a slot the caller holds.
func (p *Pool[T]) make(ctx context.Context) (T, error) {
	var zero T
	obj, err := p.factory.Make(ctx)
	if err != nil {
		p.release()
		return zero, err
	}
	if !p.opts.SkipTestOnCreate && !p.valid(obj) {
		p.destroy(obj)
		return zero, fmt.Errorf("pool %s: %w", p.opts.Name, ErrInvalidNew)
	}
	return obj, nil
}

// popIdle takes the idle object Borrow reuses: the last returned, or with FIFO the first.
// The caller holds mu and has checked that one is idle.
func (p *Pool[T]) popIdle() T {
	var zero idleObj[T]
	n := len(p.idle)
	if !p.opts.FIFO {
		e := p.idle[n-1]
		p.idle[n-1] = zero
		p.idle = p.idle[:n-1]
		return e.obj
	}
	e := p.idle[0]
	copy(p.idle, p.idle[1:])
	p.idle[n-1] = zero
	p.idle = p.idle[:n-1]
	return e.obj
}

func (p *Pool[T]) validOnBorrow(obj T) bool {
	return p.opts.SkipTestOnBorrow || p.valid(obj)
}
