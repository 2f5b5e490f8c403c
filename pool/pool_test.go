package pool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/pool"
)

// object is what the test pools hold.
type object struct {
	id   int64
	dead atomic.Bool
}

// factory counts what the pool does with its objects.
type factory struct {
	made, destroyed atomic.Int64
	live, maxLive   atomic.Int64
	// makeHook, when set, runs inside Make before the object exists.
	makeHook func(ctx context.Context) error
}

func (f *factory) Factory() pool.Factory[*object] {
	return pool.Factory[*object]{
		Make: func(ctx context.Context) (*object, error) {
			if f.makeHook != nil {
				if err := f.makeHook(ctx); err != nil {
					return nil, err
				}
			}
			n := f.live.Add(1)
			for {
				m := f.maxLive.Load()
				if n <= m || f.maxLive.CompareAndSwap(m, n) {
					break
				}
			}
			return &object{id: f.made.Add(1)}, nil
		},
		Destroy: func(o *object) {
			f.live.Add(-1)
			f.destroyed.Add(1)
		},
		Validate: func(o *object) bool { return !o.dead.Load() },
	}
}

func newPool(t *testing.T, f *factory, opts pool.Options) *pool.Pool[*object] {
	t.Helper()
	p, err := pool.New(context.Background(), f.Factory(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or 5 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBorrowReusesReturnedObject(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "reuse", MaxTotal: 2})
	ctx := testContext(t)
	for i := range 5 {
		o, err := p.Borrow(ctx)
		if err != nil {
			t.Fatalf("borrow %d: %v", i, err)
		}
		p.Return(o)
	}
	if got := f.made.Load(); got != 1 {
		t.Errorf("made %d objects, want 1", got)
	}
	if s := p.Stats(); s.Open != 1 || s.Idle != 1 {
		t.Errorf("stats %+v, want 1 open, 1 idle", s)
	}
}

func TestMaxTotalUnderConcurrency(t *testing.T) {
	for _, maxTotal := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(maxTotal), func(t *testing.T) {
			f := &factory{}
			p := newPool(t, f, pool.Options{Name: "concurrent", MaxTotal: maxTotal, MaxIdle: maxTotal})
			ctx := testContext(t)
			var wg sync.WaitGroup
			var inUse, maxInUse atomic.Int64
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					for range 20 {
						o, err := p.Borrow(ctx)
						if err != nil {
							errs <- err
							return
						}
						n := inUse.Add(1)
						for m := maxInUse.Load(); n > m && !maxInUse.CompareAndSwap(m, n); m = maxInUse.Load() {
						}
						inUse.Add(-1)
						p.Return(o)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("borrow: %v", err)
			}
			if got := f.maxLive.Load(); got > int64(maxTotal) {
				t.Errorf("%d objects existed at once, max-total %d", got, maxTotal)
			}
			if got := maxInUse.Load(); got > int64(maxTotal) {
				t.Errorf("%d objects borrowed at once, max-total %d", got, maxTotal)
			}
		})
	}
}

func TestBorrowExhausted(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "ws://127.0.0.1:1/x", MaxTotal: 1, MaxWait: 50 * time.Millisecond})
	ctx := testContext(t)
	held, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Borrow(ctx)
	if !errors.Is(err, pool.ErrExhausted) {
		t.Fatalf("second borrow: %v, want ErrExhausted", err)
	}
	for _, want := range []string{"ws://127.0.0.1:1/x", "50ms", "max-total 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	p.Return(held)
	again, err := p.Borrow(ctx)
	if err != nil {
		t.Fatalf("borrow after return: %v", err)
	}
	p.Return(again)
}

func TestBorrowContextEndsFirst(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &factory{}
			p := newPool(t, f, pool.Options{Name: "ctx", MaxTotal: 1, MaxWait: time.Minute})
			held, err := p.Borrow(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Return(held)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err = p.Borrow(ctx)
			if !errors.Is(err, tt.want) || errors.Is(err, pool.ErrExhausted) {
				t.Errorf("borrow: %v, want %v", err, tt.want)
			}
		})
	}
}

// A make that fails frees its slot for a waiting borrower at once (go-commons-pool's
// lost wake-up, issue #50, left that borrower asleep until its deadline).
func TestFailedMakeWakesWaiter(t *testing.T) {
	f := &factory{}
	release := make(chan struct{})
	var calls atomic.Int64
	f.makeHook = func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			<-release
			return errors.New("dial failed")
		}
		return nil
	}
	p := newPool(t, f, pool.Options{Name: "wake", MaxTotal: 1, MaxWait: time.Minute})
	ctx := testContext(t)
	first := make(chan error, 1)
	go func() {
		_, err := p.Borrow(ctx)
		first <- err
	}()
	waitFor(t, "first make to start", func() bool { return calls.Load() == 1 })
	second := make(chan error, 1)
	go func() {
		o, err := p.Borrow(ctx)
		if err == nil {
			p.Return(o)
		}
		second <- err
	}()
	close(release)
	if err := <-first; err == nil || !strings.Contains(err.Error(), "dial failed") {
		t.Errorf("first borrow: %v, want the dial error", err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Errorf("second borrow: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("second borrower never woke after the failed make")
	}
}

func TestInvalidateNeverMakes(t *testing.T) {
	f := &factory{}
	block := make(chan struct{})
	var calls atomic.Int64
	f.makeHook = func(ctx context.Context) error {
		if calls.Add(1) > 1 {
			<-block // every make after the first hangs like a slow dial
		}
		return nil
	}
	p := newPool(t, f, pool.Options{Name: "invalidate", MaxTotal: 1, MaxWait: time.Minute})
	ctx := testContext(t)
	o, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() {
		o, err := p.Borrow(ctx)
		if err == nil {
			p.Return(o)
		}
		waiter <- err
	}()
	invalidated := make(chan struct{})
	go func() {
		p.Invalidate(o)
		close(invalidated)
	}()
	select {
	case <-invalidated:
	case <-ctx.Done():
		t.Fatal("Invalidate blocked on a make")
	}
	close(block)
	if err := <-waiter; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if got := f.made.Load(); got != 2 {
		t.Errorf("made %d, want 2 (the invalidated one and the waiter's)", got)
	}
	if got := f.destroyed.Load(); got != 1 {
		t.Errorf("destroyed %d, want 1", got)
	}
}

func TestIdleIsLastInFirstOut(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "lifo", MaxTotal: 3})
	ctx := testContext(t)
	a, _ := p.Borrow(ctx)
	b, _ := p.Borrow(ctx)
	p.Return(a)
	p.Return(b)
	for range 3 {
		got, err := p.Borrow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != b {
			t.Fatalf("borrowed object %d, want the last returned (%d)", got.id, b.id)
		}
		p.Return(got)
	}
}

// Waiters are served oldest first, each handed the returned object itself.
func TestWaitersServedInOrder(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "order", MaxTotal: 1, MaxWait: time.Minute})
	ctx := testContext(t)
	o, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		obj *object
		err error
	}
	first, second := make(chan got, 1), make(chan got, 1)
	go func() { obj, err := p.Borrow(ctx); first <- got{obj, err} }()
	waitFor(t, "the first waiter", func() bool { return p.Stats().Waiting == 1 })
	go func() { obj, err := p.Borrow(ctx); second <- got{obj, err} }()
	waitFor(t, "the second waiter", func() bool { return p.Stats().Waiting == 2 })

	p.Return(o)
	g := <-first
	if g.err != nil || g.obj != o {
		t.Fatalf("first waiter got %v, %v; want the returned object", g.obj, g.err)
	}
	if s := p.Stats(); s.Waiting != 1 {
		t.Fatalf("stats %+v, want the second still waiting", s)
	}
	p.Return(g.obj)
	g = <-second
	if g.err != nil || g.obj != o {
		t.Fatalf("second waiter got %v, %v; want the returned object", g.obj, g.err)
	}
	p.Return(g.obj)
	if got := f.made.Load(); got != 1 {
		t.Errorf("made %d, want 1", got)
	}
}

func TestBorrowSkipsDeadIdle(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "dead", MaxTotal: 2})
	ctx := testContext(t)
	o, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Return(o)
	o.dead.Store(true)
	o2, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o2 == o {
		t.Error("borrow returned the dead idle object")
	}
	if f.destroyed.Load() != 1 {
		t.Errorf("destroyed %d, want 1", f.destroyed.Load())
	}
	p.Return(o2)
}

func TestMaxIdle(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "maxidle", MaxTotal: 5, MaxIdle: 2})
	ctx := testContext(t)
	var held []*object
	for range 5 {
		o, err := p.Borrow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, o)
	}
	for _, o := range held {
		p.Return(o)
	}
	if s := p.Stats(); s.Idle != 2 || s.Open != 2 {
		t.Errorf("stats %+v, want 2 idle of 2 open", s)
	}
	if got := f.destroyed.Load(); got != 3 {
		t.Errorf("destroyed %d, want 3", got)
	}
}

func TestMinIdleKeptWarm(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "minidle", MinIdle: 2, MaxTotal: 4, MaintenanceInterval: time.Hour})
	waitFor(t, "two idle objects", func() bool { return p.Stats().Idle == 2 })

	// An idle object that dies is replaced on the next Kick, long before the interval.
	ctx := testContext(t)
	o, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.dead.Store(true)
	p.Return(o) // invalid on return: destroyed, and the loop is kicked
	waitFor(t, "refill to two idle", func() bool { return p.Stats().Idle == 2 })
	if got := f.destroyed.Load(); got != 1 {
		t.Errorf("destroyed %d, want 1", got)
	}

	// A dead object sitting idle is swept out and replaced after a Kick.
	var idle []*object
	for range 2 {
		o, err := p.Borrow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, o)
	}
	for _, o := range idle {
		p.Return(o)
	}
	waitFor(t, "idle back to two", func() bool { return p.Stats().Idle == 2 })
	made := f.made.Load()
	for _, o := range idle {
		o.dead.Store(true)
	}
	p.Kick()
	waitFor(t, "replacements for the dead idle objects", func() bool {
		return f.made.Load() >= made+2 && p.Stats().Idle == 2
	})
}

func TestMinIdleFillRespectsMaxTotal(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "fill", MinIdle: 2, MaxIdle: 2, MaxTotal: 2, MaintenanceInterval: time.Millisecond})
	ctx := testContext(t)
	waitFor(t, "two idle objects", func() bool { return p.Stats().Idle == 2 })
	a, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The loop runs every millisecond and is kicked too: give it rounds to misbehave in
	// (maxLive records any moment with too many objects).
	for range 50 {
		p.Kick()
		time.Sleep(time.Millisecond)
	}
	if got := f.maxLive.Load(); got > 2 {
		t.Fatalf("%d objects existed at once, max-total 2", got)
	}
	p.Return(a)
	p.Return(b)
}

func TestClose(t *testing.T) {
	f := &factory{}
	p, err := pool.New(context.Background(), f.Factory(), pool.Options{Name: "close", MaxTotal: 2, MinIdle: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	waitFor(t, "one idle", func() bool { return p.Stats().Idle == 1 })
	a, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := p.Borrow(ctx)
		waiter <- err
	}()

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := p.Close(short); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 objects still borrowed") {
		t.Errorf("Close with borrowed objects: %v", err)
	}
	if err := <-waiter; !errors.Is(err, pool.ErrClosed) {
		t.Errorf("waiting borrower: %v, want ErrClosed", err)
	}
	if _, err := p.Borrow(ctx); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("borrow after close: %v, want ErrClosed", err)
	}
	p.Return(a)
	p.Invalidate(b)
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := f.live.Load(); got != 0 {
		t.Errorf("%d objects live after close", got)
	}
}

func TestNewNeedsFactory(t *testing.T) {
	_, err := pool.New(context.Background(), pool.Factory[*object]{}, pool.Options{Name: "bad"})
	if err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("New without Make: %v", err)
	}
}

func ExamplePool() {
	type conn struct{ id int }
	var next int
	p, err := pool.New(context.Background(), pool.Factory[*conn]{
		Make:    func(ctx context.Context) (*conn, error) { next++; return &conn{id: next}, nil },
		Destroy: func(c *conn) {},
	}, pool.Options{Name: "ws://127.0.0.1:8080/events", MaxTotal: 1, MaxWait: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	c, _ := p.Borrow(ctx)
	fmt.Println("borrowed", c.id)
	if _, err := p.Borrow(ctx); errors.Is(err, pool.ErrExhausted) {
		fmt.Println(err)
	}
	p.Return(c)
	c, _ = p.Borrow(ctx)
	fmt.Println("borrowed", c.id, "again")
	p.Return(c)
	_ = p.Close(ctx)
	// Output:
	// borrowed 1
	// pool ws://127.0.0.1:8080/events: exhausted after 10ms with max-total 1: pool exhausted
	// borrowed 1 again
}

// TestHotSlotNeverStrandsAWaiter: with one object passed back and forth as fast as it
// goes, a borrower that starts waiting just as the object is parked in the hot slot is
// still served: every Borrow succeeds, none sits out MaxWait.
func TestHotSlotNeverStrandsAWaiter(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "hot", MaxTotal: 1, MaxWait: 5 * time.Second})
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for range 3000 {
				o, err := p.Borrow(ctx)
				if err != nil {
					errs <- err
					return
				}
				p.Return(o)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("borrow: %v", err)
	}
	if got := f.made.Load(); got != 1 {
		t.Errorf("made %d objects, want 1", got)
	}
	if s := p.Stats(); s.Open != 1 || s.Idle != 1 || s.Waiting != 0 {
		t.Errorf("stats %+v, want 1 open and idle, none waiting", s)
	}
}

// BenchmarkBorrowReturn is one sender's cost per event for its connection.
func BenchmarkBorrowReturn(b *testing.B) {
	f := &factory{}
	p, err := pool.New(context.Background(), f.Factory(), pool.Options{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		o, err := p.Borrow(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.Return(o)
	}
}
