package pool_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/pool"
	"github.com/lxzan/gws"
)

// fakeClock is the pool's Now, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// closeServer is a gws server on 127.0.0.1 that reports each connection the client closes.
type closeServer struct {
	gws.BuiltinEventHandler
	url    string
	closed chan struct{}
}

func (s *closeServer) OnClose(*gws.Conn, error) { s.closed <- struct{}{} }

func (s *closeServer) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func newCloseServer(t *testing.T) *closeServer {
	t.Helper()
	s := &closeServer{closed: make(chan struct{}, 16)}
	up := gws.NewUpgrader(s, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	}))
	t.Cleanup(hs.Close)
	s.url = "ws://" + strings.TrimPrefix(hs.URL, "http://")
	return s
}

// clientHandler keeps a gws client connection's ReadLoop going and notes its end.
type clientHandler struct {
	gws.BuiltinEventHandler
	gone chan struct{}
}

func (h *clientHandler) OnClose(*gws.Conn, error) { close(h.gone) }

type wsConn struct {
	ws *gws.Conn
	h  *clientHandler
}

// TestEvictClosesIdleConnection: a connection idle for min-evictable-idle-time is closed
// by the evictor, and the server sees it go; one idle for less stays open.
func TestEvictClosesIdleConnection(t *testing.T) {
	srv := newCloseServer(t)
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	const minIdle = 5 * time.Second
	p := newWSPool(t, srv, pool.Options{
		Name:                "evict",
		MinEvictableIdle:    minIdle,
		EvictionInterval:    time.Hour, // runs only when the test calls Evict
		MaintenanceInterval: time.Hour,
		Now:                 clock.Now,
	})
	c, err := p.Borrow(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Return(c)

	// Idle for less than min-evictable-idle-time (the stamp may be one interval early,
	// and the evictor never overstates idle time).
	clock.Advance(minIdle)
	p.Evict()
	if s := p.Stats(); s.Idle != 1 || s.Open != 1 {
		t.Fatalf("after %s idle: stats %+v, want the connection kept", minIdle, s)
	}
	select {
	case <-srv.closed:
		t.Fatal("server saw the connection close before it was evictable")
	default:
	}

	clock.Advance(time.Hour + time.Second) // past min-evictable plus the stamp's slack
	p.Evict()
	select {
	case <-srv.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the idle connection close")
	}
	if s := p.Stats(); s.Idle != 0 || s.Open != 0 {
		t.Fatalf("after eviction: stats %+v, want nothing open", s)
	}
	select {
	case <-c.h.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("client ReadLoop still running after eviction")
	}
}

// TestEvictLoopRunsOnItsOwn: with a real clock and short intervals, the pool's own
// evictor closes an idle connection without anyone calling Evict, and Close stops it.
func TestEvictLoopRunsOnItsOwn(t *testing.T) {
	srv := newCloseServer(t)
	p := newWSPool(t, srv, pool.Options{
		Name:                "evict-loop",
		MinEvictableIdle:    20 * time.Millisecond,
		EvictionInterval:    5 * time.Millisecond,
		MaintenanceInterval: 5 * time.Millisecond,
	})
	c, err := p.Borrow(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Return(c)
	select {
	case <-srv.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the idle connection evicted")
	}
	waitFor(t, "pool empty", func() bool { return p.Stats().Open == 0 })
}

func newWSPool(t *testing.T, srv *closeServer, opts pool.Options) *pool.Pool[*wsConn] {
	t.Helper()
	p, err := pool.New(context.Background(), pool.Factory[*wsConn]{
		Make: func(ctx context.Context) (*wsConn, error) {
			h := &clientHandler{gone: make(chan struct{})}
			ws, _, err := gws.NewClient(h, &gws.ClientOption{Addr: srv.url})
			if err != nil {
				return nil, err
			}
			go ws.ReadLoop()
			return &wsConn{ws: ws, h: h}, nil
		},
		Destroy: func(c *wsConn) { _ = c.ws.WriteClose(1000, nil) },
		Validate: func(c *wsConn) bool {
			select {
			case <-c.h.gone:
				return false
			default:
				return true
			}
		},
	}, opts)
	if err != nil {
		t.Fatal(err)
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

// TestSoftEvictKeepsMinIdle: soft-min-evictable-idle-time evicts only while more than
// min-idle objects are idle, oldest first.
func TestSoftEvictKeepsMinIdle(t *testing.T) {
	f := &factory{}
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	p := newPool(t, f, pool.Options{
		Name: "soft", MinIdle: 1, MaxIdle: 3, MaxTotal: 3,
		SoftMinEvictableIdle: time.Minute, EvictionInterval: time.Hour,
		MaintenanceInterval: time.Hour, Now: clock.Now,
	})
	ctx := testContext(t)
	waitFor(t, "min-idle filled", func() bool { return p.Stats().Idle == 1 })
	var objs []*object
	for range 3 {
		o, err := p.Borrow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		p.Return(o)
	}
	clock.Advance(2 * time.Hour)
	p.Evict()
	if s := p.Stats(); s.Idle != 1 || s.Open != 1 {
		t.Fatalf("stats %+v, want min-idle 1 kept", s)
	}
	if got := f.destroyed.Load(); got != 2 {
		t.Fatalf("destroyed %d, want 2", got)
	}
	// The one kept is the newest: the last returned.
	o, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o != objs[2] {
		t.Errorf("kept object %d, want the last returned (%d)", o.id, objs[2].id)
	}
	p.Return(o)
}

// TestTestsPerEvictionRun: one run examines at most num-tests-per-eviction-run objects.
func TestTestsPerEvictionRun(t *testing.T) {
	f := &factory{}
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	p := newPool(t, f, pool.Options{
		Name: "ntests", MaxIdle: 5, MaxTotal: 5, MinEvictableIdle: time.Second,
		TestsPerEvictionRun: 2, EvictionInterval: time.Hour, MaintenanceInterval: time.Hour,
		Now: clock.Now,
	})
	ctx := testContext(t)
	var objs []*object
	for range 5 {
		o, _ := p.Borrow(ctx)
		objs = append(objs, o)
	}
	for _, o := range objs {
		p.Return(o)
	}
	clock.Advance(2 * time.Hour)
	p.Evict()
	if got := p.Stats().Idle; got != 3 {
		t.Fatalf("idle %d after one run, want 3", got)
	}
	p.Evict()
	p.Evict()
	if got := p.Stats().Idle; got != 0 {
		t.Fatalf("idle %d after three runs, want 0", got)
	}
}

func TestFailWhenExhausted(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "nowait", MaxTotal: 1, MaxWait: time.Hour, FailWhenExhausted: true})
	ctx := testContext(t)
	o, err := p.Borrow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// With MaxWait an hour, only failing at once lets this return before the test's
	// own deadline.
	_, err = p.Borrow(ctx)
	if !errors.Is(err, pool.ErrExhausted) {
		t.Fatalf("second borrow: %v, want ErrExhausted", err)
	}
	if !strings.Contains(err.Error(), "all 1 objects in use") {
		t.Errorf("error %q does not say why", err)
	}
	if s := p.Stats(); s.Waiting != 0 {
		t.Errorf("stats %+v, want nobody waiting", s)
	}
	p.Return(o)
	o2, err := p.Borrow(ctx)
	if err != nil || o2 != o {
		t.Fatalf("borrow after return: %v, %v", o2, err)
	}
	p.Return(o2)
}

func TestFIFO(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		f := &factory{}
		p := newPool(t, f, pool.Options{Name: "order", MaxTotal: 3, MaxIdle: 3, FIFO: fifo})
		ctx := testContext(t)
		var objs []*object
		for range 3 {
			o, _ := p.Borrow(ctx)
			objs = append(objs, o)
		}
		for _, o := range objs {
			p.Return(o)
		}
		var got []int64
		for range 3 {
			o, err := p.Borrow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o.id)
			defer p.Return(o)
		}
		want := []int64{3, 2, 1} // last in, first out
		if fifo {
			want = []int64{1, 2, 3}
		}
		if !equal(got, want) {
			t.Errorf("FIFO=%v: borrowed %v, want %v", fifo, got, want)
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNoMaxWaitWaitsUntilContextEnds: with MaxWait NoMaxWait a borrower waits past any
// default, until its context ends, and is served if an object comes back first.
func TestNoMaxWaitWaitsUntilContextEnds(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "forever", MaxTotal: 1, MaxWait: pool.NoMaxWait})
	if got := p.Options().MaxWait; got != pool.NoMaxWait {
		t.Fatalf("MaxWait %v, want NoMaxWait", got)
	}
	held, err := p.Borrow(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Borrow(ctx)
		done <- err
	}()
	waitFor(t, "a waiting borrower", func() bool { return p.Stats().Waiting == 1 })
	cause := errors.New("caller gave up")
	cancel(cause)
	select {
	case err := <-done:
		if !errors.Is(err, cause) || errors.Is(err, pool.ErrExhausted) {
			t.Fatalf("borrow: %v, want the context's cause", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("borrow did not end with its context")
	}
	p.Return(held)
}

func TestTestOnCreate(t *testing.T) {
	for _, skip := range []bool{false, true} {
		f := &factory{}
		fac := f.Factory()
		make := fac.Make
		fac.Make = func(ctx context.Context) (*object, error) {
			o, err := make(ctx)
			if o != nil {
				o.dead.Store(true) // born dead: the server closed at once
			}
			return o, err
		}
		p, err := pool.New(context.Background(), fac, pool.Options{Name: "create", SkipTestOnCreate: skip})
		if err != nil {
			t.Fatal(err)
		}
		o, err := p.Borrow(testContext(t))
		if skip && err != nil {
			t.Errorf("SkipTestOnCreate: borrow: %v, want the object unchecked", err)
		}
		if err == nil {
			p.Invalidate(o)
		}
		if !skip && !errors.Is(err, pool.ErrInvalidNew) {
			t.Errorf("borrow: %v, want ErrInvalidNew", err)
		}
		if !skip && p.Stats().Open != 0 {
			t.Errorf("stats %+v, want the invalid object's slot freed", p.Stats())
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.Close(closeCtx); err != nil {
			t.Error(err)
		}
		cancel()
	}
}

func TestSkipTestOnBorrowAndReturn(t *testing.T) {
	f := &factory{}
	p := newPool(t, f, pool.Options{Name: "skip", SkipTestOnBorrow: true, SkipTestOnReturn: true, SkipTestWhileIdle: true})
	ctx := testContext(t)
	o, _ := p.Borrow(ctx)
	o.dead.Store(true)
	p.Return(o) // not tested on return: kept idle
	if s := p.Stats(); s.Idle != 1 {
		t.Fatalf("stats %+v, want the untested object idle", s)
	}
	got, err := p.Borrow(ctx) // not tested on borrow: handed out
	if err != nil || got != o {
		t.Fatalf("borrow: %v %v, want the same object", got, err)
	}
	p.Invalidate(got)
}
