// Package pool keeps reusable, costly objects (WebSocket connections) for callers that must
// never wait forever for one.
//
// A Pool never holds more than MaxTotal objects, counting idle ones, borrowed ones and those
// being made. Borrow takes an idle object when there is one, makes a new one while there is
// room, and otherwise waits — at most MaxWait, or less when the caller's context ends
// sooner — then fails with ErrExhausted. A slot freed by a failed Make, an Invalidate or a
// Return wakes a waiting borrower at once, so a failing dial never strands the others.
// Invalidate destroys an object without making its replacement on the caller's time:
// replacements are made by the next Borrow, or in the background when MinIdle asks for warm
// objects.
//
// Idle objects are reused last-in first-out, so a steady sender keeps one hot connection
// and the others stay idle; waiting borrowers are served first-in first-out, each handed
// the returned object or the freed slot directly. The object returned last waits in a
// slot of its own, taken and refilled with atomic operations rather than the lock: a
// sender that borrows and returns one connection per event pays about a tenth of the
// locked path.
//
// The pool is written for kete's needs rather than wrapped around
// github.com/jolestar/go-commons-pool: that library has no max-wait, loses wake-ups when a
// make fails (waiters sleep until their deadline), and dials synchronously inside
// InvalidateObject when borrowers wait.
package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrExhausted is wrapped by Borrow's error when every slot stayed in use for MaxWait.
var ErrExhausted = errors.New("pool exhausted")

// ErrClosed is returned by Borrow once Close has begun.
var ErrClosed = errors.New("pool closed")

// Defaults for zero Config fields; MaxTotal, MaxIdle and MaxWait are KETE's.
const (
	DefaultMaxTotal            = 20
	DefaultMaxIdle             = 10
	DefaultMaxWait             = 30 * time.Second
	DefaultMaintenanceInterval = time.Second
)

// Factory makes, checks and destroys the pool's objects.
type Factory[T any] struct {
	// Make creates an object; ctx carries the borrower's deadline, or the pool's own
	// context (ended by Close) when the object is made to keep MinIdle warm.
	Make func(ctx context.Context) (T, error)
	// Destroy releases an object the pool drops. It must not block for long.
	Destroy func(T)
	// Validate reports whether an idle object can still be used; nil means always. It must
	// be quick (an atomic load): sweeps call it under the pool's lock.
	Validate func(T) bool
}

// Config sizes a pool. Zero values take the defaults above, except MinIdle (0 = none).
type Config struct {
	// Name identifies the pool in errors, e.g. the URL its connections go to.
	Name string
	// MinIdle idle objects are kept ready in the background (capped by MaxIdle).
	MinIdle int
	// MaxIdle caps idle objects; one returned beyond it is destroyed.
	MaxIdle int
	// MaxTotal caps objects in existence: idle, borrowed and being made.
	MaxTotal int
	// MaxWait bounds how long Borrow waits for a free slot.
	MaxWait time.Duration
	// MaintenanceInterval is how often idle objects are checked and MinIdle refilled.
	MaintenanceInterval time.Duration
	// OnFillError, when set, hears about a Make for MinIdle that failed in the background,
	// where no borrower sees the error.
	OnFillError func(error)
}

// Stats is a snapshot of a pool, for tests and metrics.
type Stats struct {
	// Open counts objects in existence or being made.
	Open int
	// Idle counts objects ready to borrow.
	Idle int
	// Waiting counts borrowers waiting for an object.
	Waiting int
}

// Pool hands out objects of type T; see the package comment. It is safe for concurrent use.
type Pool[T any] struct {
	factory Factory[T]
	cfg     Config

	// The hot slot holds the object returned last (hotFull), outside mu. waiting mirrors
	// len(waiters) for Return's fast path: a Return parks its object there only while no
	// borrower waits, and a borrower checks the slot after it registers, so between them
	// one always sees the other (both are sequentially consistent atomics).
	hotState atomic.Int32
	hotObj   T
	waiting  atomic.Int32

	mu      sync.Mutex
	idle    []T          // a stack: the top was returned last
	open    int          // objects in existence or being made, at most MaxTotal
	waiters []*waiter[T] // borrowers waiting, oldest first
	closed  bool
	drained chan struct{} // closed once the pool is closed and open is 0

	done   chan struct{}      // closed when Close begins
	ctx    context.Context    // for background makes; cancelled by Close
	cancel context.CancelFunc // ends ctx
	kick   chan struct{}      // wakes the maintenance loop
	wg     sync.WaitGroup     // the maintenance loop
}

// States of the hot slot.
const (
	hotEmpty  int32 = iota
	hotBusy         // being filled or emptied
	hotFull         // hotObj is idle
	hotClosed       // the pool is closed: nothing is parked any more
)

// takeHot empties the hot slot.
func (p *Pool[T]) takeHot() (obj T, ok bool) {
	if !p.hotState.CompareAndSwap(hotFull, hotBusy) {
		return obj, false
	}
	obj = p.hotObj
	var zero T
	p.hotObj = zero
	p.hotState.Store(hotEmpty)
	return obj, true
}

// parkHot puts obj in the empty hot slot.
func (p *Pool[T]) parkHot(obj T) bool {
	if !p.hotState.CompareAndSwap(hotEmpty, hotBusy) {
		return false
	}
	p.hotObj = obj
	p.hotState.Store(hotFull)
	return true
}

// hotIdle is 1 while an object is parked in the hot slot.
func (p *Pool[T]) hotIdle() int {
	if p.hotState.Load() == hotFull {
		return 1
	}
	return 0
}

// waiter is a borrower waiting for a grant: a returned object, or a slot to make one in.
type waiter[T any] struct{ grant chan grant[T] }

type grant[T any] struct {
	obj    T
	hasObj bool // false: the slot is the waiter's, to make an object in
}

// New starts a pool. Make and Destroy are required. When MinIdle > 0 a maintenance
// goroutine, stopped by Close, fills the pool at once and keeps it filled.
func New[T any](ctx context.Context, f Factory[T], cfg Config) (*Pool[T], error) {
	if f.Make == nil || f.Destroy == nil {
		return nil, fmt.Errorf("pool %s: factory needs Make and Destroy", cfg.Name)
	}
	if cfg.MaxTotal <= 0 {
		cfg.MaxTotal = DefaultMaxTotal
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = DefaultMaxIdle
	}
	cfg.MaxIdle = min(cfg.MaxIdle, cfg.MaxTotal)
	cfg.MinIdle = max(0, min(cfg.MinIdle, cfg.MaxIdle))
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = DefaultMaintenanceInterval
	}
	p := &Pool[T]{
		factory: f,
		cfg:     cfg,
		idle:    make([]T, 0, cfg.MaxIdle),
		drained: make(chan struct{}),
		done:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.MinIdle > 0 {
		p.kick <- struct{}{}
		p.wg.Go(p.maintain)
	}
	return p, nil
}

// Config returns the pool's settings with defaults applied.
func (p *Pool[T]) Config() Config { return p.cfg }

// Stats returns how many objects exist, are idle, and how many borrowers wait.
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Open: p.open, Idle: len(p.idle) + p.hotIdle(), Waiting: len(p.waiters)}
}

// Borrow returns an idle object that passes Validate, or a new one. When MaxTotal objects
// exist it waits for one to come back, at most MaxWait: then the error wraps ErrExhausted.
// When ctx ends first the error wraps ctx's error. A new object is made with ctx, so Make
// must bound its own time (a dial timeout). The caller must hand the object back with
// Return or Invalidate.
func (p *Pool[T]) Borrow(ctx context.Context) (T, error) {
	if obj, ok := p.takeHot(); ok {
		if p.valid(obj) {
			return obj, nil
		}
		p.destroy(obj)
	}
	return p.borrow(ctx)
}

// borrow is Borrow past the hot slot.
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
			if p.valid(obj) {
				return obj, nil
			}
			p.destroy(obj)
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return zero, fmt.Errorf("pool %s: %w", p.cfg.Name, ErrClosed)
		}
		if n := len(p.idle); n > 0 {
			obj := p.idle[n-1]
			p.idle[n-1] = zero
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			if p.valid(obj) {
				return obj, nil
			}
			p.destroy(obj)
			continue
		}
		if p.open < p.cfg.MaxTotal {
			p.open++
			p.mu.Unlock()
			return p.make(ctx)
		}
		w := &waiter[T]{grant: make(chan grant[T], 1)}
		p.waiters = append(p.waiters, w)
		p.waiting.Add(1)
		p.mu.Unlock()
		// An object parked just before we registered is ours to take.
		if obj, ok := p.takeHot(); ok {
			p.abandon(w)
			if p.valid(obj) {
				return obj, nil
			}
			p.destroy(obj)
			continue
		}

		if timer == nil {
			timer = time.NewTimer(p.cfg.MaxWait)
		}
		var err error
		select {
		case g := <-w.grant:
			if !g.hasObj {
				return p.make(ctx)
			}
			if p.valid(g.obj) {
				return g.obj, nil
			}
			p.destroy(g.obj)
			continue
		case <-timer.C:
			err = fmt.Errorf("pool %s: exhausted after %s with max-total %d: %w",
				p.cfg.Name, p.cfg.MaxWait, p.cfg.MaxTotal, ErrExhausted)
		case <-ctx.Done():
			err = fmt.Errorf("pool %s: waiting for a free slot: %w", p.cfg.Name, context.Cause(ctx))
		case <-p.done:
			err = fmt.Errorf("pool %s: %w", p.cfg.Name, ErrClosed)
		}
		p.abandon(w)
		return zero, err
	}
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
	return obj, nil
}

// Return hands back a borrowed object: it goes to the longest-waiting borrower, or becomes
// idle; it is destroyed when it fails Validate, MaxIdle objects are already idle, or the
// pool is closed.
func (p *Pool[T]) Return(obj T) {
	if !p.valid(obj) {
		p.destroy(obj)
		p.Kick()
		return
	}
	if p.waiting.Load() == 0 {
		// The hot slot takes obj; what it held goes onto the idle stack, below obj.
		prev, hadPrev := p.takeHot()
		switch {
		case !p.parkHot(obj):
			if hadPrev {
				p.returnLocked(prev)
			}
		case p.waiting.Load() > 0:
			// A borrower began waiting meanwhile: unless it took obj itself, hand it over.
			if o, ok := p.takeHot(); ok {
				p.returnLocked(o)
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
	p.returnLocked(obj)
}

// returnLocked is Return's path under the lock: to a waiter, the idle stack, or destroyed.
func (p *Pool[T]) returnLocked(obj T) {
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
	case len(p.idle)+p.hotIdle() < p.cfg.MaxIdle:
		p.idle = append(p.idle, obj)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.destroy(obj)
}

// Invalidate destroys a borrowed object that failed (a write error, a lost peer). It never
// makes the replacement itself: the next Borrow does, or the maintenance loop when MinIdle
// is set, which it wakes.
func (p *Pool[T]) Invalidate(obj T) {
	p.destroy(obj)
	p.Kick()
}

// Kick wakes the maintenance loop, so that idle objects that died (a connection closed by
// its peer) are dropped and MinIdle refilled now rather than at the next interval.
func (p *Pool[T]) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Close stops the maintenance loop, destroys idle objects, makes later Borrows fail with
// ErrClosed, and waits until every borrowed object has come back (each is destroyed on
// Return or Invalidate) or ctx ends, whose error it then returns.
func (p *Pool[T]) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
		p.cancel()
		if p.open == 0 {
			close(p.drained)
		}
	}
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	// Shut the hot slot for good; a Return that finds it shut takes the locked path and
	// destroys its object there.
	for !p.hotState.CompareAndSwap(hotEmpty, hotClosed) && p.hotState.Load() != hotClosed {
		if obj, ok := p.takeHot(); ok {
			idle = append(idle, obj)
		} else {
			runtime.Gosched() // another goroutine is mid-way through filling or emptying it
		}
	}
	p.wg.Wait()
	for _, obj := range idle {
		p.destroy(obj)
	}
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		open := p.open
		p.mu.Unlock()
		return fmt.Errorf("pool %s: closing with %d objects still borrowed: %w", p.cfg.Name, open, ctx.Err())
	}
}

func (p *Pool[T]) valid(obj T) bool {
	return p.factory.Validate == nil || p.factory.Validate(obj)
}

func (p *Pool[T]) destroy(obj T) {
	p.factory.Destroy(obj)
	p.release()
}

// release frees a slot: the longest-waiting borrower gets it to make an object in.
func (p *Pool[T]) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 && !p.closed {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.waiting.Add(-1)
		w.grant <- grant[T]{}
		return
	}
	p.open--
	if p.closed && p.open == 0 {
		close(p.drained)
	}
}

// maintain drops dead idle objects and keeps MinIdle objects idle, on every interval and
// every Kick, until Close.
func (p *Pool[T]) maintain() {
	ticker := time.NewTicker(p.cfg.MaintenanceInterval)
	defer ticker.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-ticker.C:
		case <-p.kick:
		}
		p.sweep()
		p.fill()
	}
}

// sweep destroys the idle objects that fail Validate.
func (p *Pool[T]) sweep() {
	var dead []T
	if obj, ok := p.takeHot(); ok {
		if p.valid(obj) {
			if !p.parkHot(obj) {
				p.Return(obj) // a Return refilled the slot meanwhile
			}
		} else {
			dead = append(dead, obj)
		}
	}
	p.mu.Lock()
	live := p.idle[:0]
	for _, obj := range p.idle {
		if p.valid(obj) {
			live = append(live, obj)
		} else {
			dead = append(dead, obj)
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
		if p.closed || len(p.idle)+p.hotIdle() >= p.cfg.MinIdle || p.open >= p.cfg.MaxTotal {
			p.mu.Unlock()
			return
		}
		p.open++
		p.mu.Unlock()
		obj, err := p.factory.Make(p.ctx)
		if err != nil {
			p.release()
			if p.cfg.OnFillError != nil && p.ctx.Err() == nil {
				p.cfg.OnFillError(err)
			}
			return
		}
		p.Return(obj)
	}
}
