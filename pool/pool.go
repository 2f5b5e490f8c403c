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
// and the others stay idle (or first-in first-out with FIFO); waiting borrowers are served
// first-in first-out, each handed the returned object or the freed slot directly. The
// object returned last waits in a slot of its own, taken and refilled with atomic
// operations rather than the lock: a sender that borrows and returns one connection per
// event pays about a tenth of the locked path.
//
// The settings follow Apache Commons Pool 2's GenericObjectPoolConfig, which KETE's pools
// use (FortuneN/kete Route.java, DestinationConfig.java), with KETE's defaults:
// FailWhenExhausted is block-when-exhausted=false, a negative MaxWait is max-wait=-1,
// FIFO is lifo=false, the Skip… fields are test-on-*=false, and the eviction settings are
// the evictor's (evict.go). Waiting borrowers are always served in arrival order, as
// fairness=true asks.
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

// ErrInvalidNew is wrapped by Borrow's error when a newly made object fails Validate
// (test on create); the object was destroyed.
var ErrInvalidNew = errors.New("new object failed validation")

// Defaults for zero Config fields; MaxTotal, MaxIdle and MaxWait are KETE's.
const (
	DefaultMaxTotal            = 20
	DefaultMaxIdle             = 10
	DefaultMaxWait             = 30 * time.Second
	DefaultMaintenanceInterval = time.Second
	// DefaultEvictionInterval is KETE's time-between-eviction-runs-seconds.
	DefaultEvictionInterval = 60 * time.Second
	// DefaultSoftMinEvictableIdle is KETE's soft-min-evictable-idle-time-seconds.
	DefaultSoftMinEvictableIdle = 30 * time.Minute
	// DefaultTestsPerEvictionRun is KETE's num-tests-per-eviction-run.
	DefaultTestsPerEvictionRun = 3
)

// NoMaxWait, as Config.MaxWait, lets Borrow wait for a free slot until its context ends
// (KETE's max-wait-seconds=-1).
const NoMaxWait time.Duration = -1

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
	// MaxWait bounds how long Borrow waits for a free slot; negative (NoMaxWait): until
	// the borrower's context ends.
	MaxWait time.Duration
	// FailWhenExhausted makes Borrow fail at once, wrapping ErrExhausted, when MaxTotal
	// objects are in use, instead of waiting (KETE's block-when-exhausted=false).
	FailWhenExhausted bool
	// FIFO reuses the idle object returned first instead of the one returned last
	// (KETE's lifo=false). It spreads sends over every idle connection, and gives up the
	// hot slot: each Borrow and Return takes the lock.
	FIFO bool
	// Validate runs when an object is made, borrowed, returned and while it is idle (in
	// every maintenance and eviction run) unless skipped here (KETE's test-on-create,
	// test-on-borrow, test-on-return and test-while-idle, each true by default).
	SkipTestOnCreate, SkipTestOnBorrow, SkipTestOnReturn, SkipTestWhileIdle bool
	// MaintenanceInterval is how often dead idle objects are dropped and MinIdle refilled.
	MaintenanceInterval time.Duration
	// EvictionInterval is the time between eviction runs (evict.go); negative: none.
	EvictionInterval time.Duration
	// MinEvictableIdle: an object idle at least this long is evicted, even below MinIdle
	// (which is then refilled with a fresh one). Zero or negative: never (KETE's -1).
	MinEvictableIdle time.Duration
	// SoftMinEvictableIdle: an object idle at least this long is evicted while more than
	// MinIdle objects are idle. Negative: never.
	SoftMinEvictableIdle time.Duration
	// TestsPerEvictionRun is how many idle objects, oldest first, one eviction run
	// examines; -n examines a 1/n share of them (rounded up), as Commons Pool does.
	TestsPerEvictionRun int
	// Now is the clock idle times are read from; nil means time.Now. Tests set it.
	Now func() time.Time
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

	hotSince int64 // p.clock when hotObj was parked

	mu      sync.Mutex
	idle    []idleObj[T] // oldest first: the end was returned last
	open    int          // objects in existence or being made, at most MaxTotal
	waiters []*waiter[T] // borrowers waiting, oldest first
	closed  bool
	drained chan struct{} // closed once the pool is closed and open is 0

	done   chan struct{}      // closed when Close begins
	ctx    context.Context    // for background makes; cancelled by Close
	cancel context.CancelFunc // ends ctx
	kick   chan struct{}      // wakes the maintenance loop
	wg     sync.WaitGroup     // the maintenance loop

	// clock is the time of the last maintenance run, in nanoseconds since start: a
	// Return stamps its object with it for an atomic load, where reading the clock would
	// cost as much as the rest of the hot path (evict.go).
	clock atomic.Int64
	start time.Time
	// evictMu serialises eviction runs (the loop's and Evict's).
	evictMu sync.Mutex
}

// idleObj is an idle object and the clock when it was returned.
type idleObj[T any] struct {
	obj   T
	since int64
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

// New starts a pool. Make and Destroy are required. When MinIdle > 0 or eviction can
// evict (the defaults: soft eviction after 30 minutes), a maintenance goroutine, stopped
// by Close, fills the pool at once, keeps it filled and runs the evictor.
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
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	} else if cfg.MaxWait < 0 {
		cfg.MaxWait = NoMaxWait
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if cfg.EvictionInterval == 0 {
		cfg.EvictionInterval = DefaultEvictionInterval
	}
	if cfg.SoftMinEvictableIdle == 0 {
		cfg.SoftMinEvictableIdle = DefaultSoftMinEvictableIdle
	}
	if cfg.TestsPerEvictionRun == 0 {
		cfg.TestsPerEvictionRun = DefaultTestsPerEvictionRun
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pool[T]{
		factory: f,
		cfg:     cfg,
		idle:    make([]idleObj[T], 0, cfg.MaxIdle),
		drained: make(chan struct{}),
		done:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		start:   cfg.Now(),
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.MinIdle > 0 || p.evicts() {
		if cfg.MinIdle > 0 {
			p.kick <- struct{}{}
		}
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
		if p.validOnBorrow(obj) {
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
			if p.validOnBorrow(obj) {
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
		if len(p.idle) > 0 {
			obj := p.popIdle()
			p.mu.Unlock()
			if p.validOnBorrow(obj) {
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
		if p.cfg.FailWhenExhausted {
			p.mu.Unlock()
			return zero, fmt.Errorf("pool %s: all %d objects in use and waiting is off: %w",
				p.cfg.Name, p.cfg.MaxTotal, ErrExhausted)
		}
		w := &waiter[T]{grant: make(chan grant[T], 1)}
		p.waiters = append(p.waiters, w)
		p.waiting.Add(1)
		p.mu.Unlock()
		// An object parked just before we registered is ours to take.
		if obj, ok := p.takeHot(); ok {
			p.abandon(w)
			if p.validOnBorrow(obj) {
				return obj, nil
			}
			p.destroy(obj)
			continue
		}

		var expired <-chan time.Time
		if p.cfg.MaxWait > 0 {
			if timer == nil {
				timer = time.NewTimer(p.cfg.MaxWait)
			}
			expired = timer.C
		}
		var err error
		select {
		case g := <-w.grant:
			if !g.hasObj {
				return p.make(ctx)
			}
			if p.validOnBorrow(g.obj) {
				return g.obj, nil
			}
			p.destroy(g.obj)
			continue
		case <-expired:
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
	if !p.cfg.SkipTestOnCreate && !p.valid(obj) {
		p.destroy(obj)
		return zero, fmt.Errorf("pool %s: %w", p.cfg.Name, ErrInvalidNew)
	}
	return obj, nil
}

// Return hands back a borrowed object: it goes to the longest-waiting borrower, or becomes
// idle; it is destroyed when it fails Validate, MaxIdle objects are already idle, or the
// pool is closed.
func (p *Pool[T]) Return(obj T) {
	if !p.cfg.SkipTestOnReturn && !p.valid(obj) {
		p.destroy(obj)
		p.Kick()
		return
	}
	if p.waiting.Load() == 0 && !p.cfg.FIFO {
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
		p.idle = append(p.idle, idleObj[T]{obj: obj, since: p.clock.Load()})
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
			idle = append(idle, idleObj[T]{obj: obj})
		} else {
			runtime.Gosched() // another goroutine is mid-way through filling or emptying it
		}
	}
	p.wg.Wait()
	for _, e := range idle {
		p.destroy(e.obj)
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

func (p *Pool[T]) validOnBorrow(obj T) bool {
	return p.cfg.SkipTestOnBorrow || p.valid(obj)
}

// popIdle takes the idle object Borrow reuses: the last returned, or with FIFO the first.
// The caller holds mu and has checked that one is idle.
func (p *Pool[T]) popIdle() T {
	var zero idleObj[T]
	n := len(p.idle)
	if !p.cfg.FIFO {
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
// every Kick, and runs the evictor every EvictionInterval, until Close.
func (p *Pool[T]) maintain() {
	ticker := time.NewTicker(p.cfg.MaintenanceInterval)
	defer ticker.Stop()
	var evictions <-chan time.Time
	if p.evicts() {
		t := time.NewTicker(p.cfg.EvictionInterval)
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
		if !p.cfg.SkipTestWhileIdle {
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

// reparkHot puts back an object sweep took from the hot slot, keeping its idle time.
func (p *Pool[T]) reparkHot(obj T, since int64) {
	if p.hotState.CompareAndSwap(hotEmpty, hotBusy) {
		p.hotObj, p.hotSince = obj, since
		p.hotState.Store(hotFull)
		return
	}
	p.Return(obj) // a Return refilled the slot meanwhile
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
		if err == nil && !p.cfg.SkipTestOnCreate && !p.valid(obj) {
			p.factory.Destroy(obj) // the slot is released below
			err = ErrInvalidNew
		}
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
