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
// make fails (waiters sleep until their deadline: jolestar/go-commons-pool issue #50,
// "deadlock in BorrowObject"), and dials synchronously inside
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
	opts    Options

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

// New starts a pool. Make and Destroy are required. When MinIdle > 0 or eviction can
// evict (the defaults: soft eviction after 30 minutes), a maintenance goroutine, stopped
// by Close, fills the pool at once, keeps it filled and runs the evictor.
func New[T any](ctx context.Context, f Factory[T], opts Options) (*Pool[T], error) {
	if f.Make == nil || f.Destroy == nil {
		return nil, fmt.Errorf("pool %s: factory needs Make and Destroy", opts.Name)
	}
	opts = opts.withDefaults()
	p := &Pool[T]{
		factory: f,
		opts:    opts,
		idle:    make([]idleObj[T], 0, opts.MaxIdle),
		drained: make(chan struct{}),
		done:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		start:   opts.Now(),
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if opts.MinIdle > 0 || p.evicts() {
		if opts.MinIdle > 0 {
			p.kick <- struct{}{}
		}
		p.wg.Go(p.maintain)
	}
	return p, nil
}

// Options returns the pool's settings with defaults applied.
func (p *Pool[T]) Options() Options { return p.opts }

// Stats returns how many objects exist, are idle, and how many borrowers wait.
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Open: p.open, Idle: len(p.idle) + p.hotIdle(), Waiting: len(p.waiters)}
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
		return fmt.Errorf("pool %s: closing with %d objects still borrowed: %w", p.opts.Name, open, ctx.Err())
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
