package pool

import "time"

// Defaults for zero Options fields; MaxTotal, MaxIdle and MaxWait are KETE's.
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

// NoMaxWait, as Options.MaxWait, lets Borrow wait for a free slot until its context ends
// (KETE's max-wait-seconds=-1).
const NoMaxWait time.Duration = -1

// Options size a pool. Zero values take the defaults above, except MinIdle (0 = none).
type Options struct {
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

// withDefaults returns o with every zero field set to its default and the idle bounds
// clamped to MaxTotal.
func (o Options) withDefaults() Options {
	if o.MaxTotal <= 0 {
		o.MaxTotal = DefaultMaxTotal
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = DefaultMaxIdle
	}
	o.MaxIdle = min(o.MaxIdle, o.MaxTotal)
	o.MinIdle = max(0, min(o.MinIdle, o.MaxIdle))
	if o.MaxWait == 0 {
		o.MaxWait = DefaultMaxWait
	} else if o.MaxWait < 0 {
		o.MaxWait = NoMaxWait
	}
	if o.MaintenanceInterval <= 0 {
		o.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if o.EvictionInterval == 0 {
		o.EvictionInterval = DefaultEvictionInterval
	}
	if o.SoftMinEvictableIdle == 0 {
		o.SoftMinEvictableIdle = DefaultSoftMinEvictableIdle
	}
	if o.TestsPerEvictionRun == 0 {
		o.TestsPerEvictionRun = DefaultTestsPerEvictionRun
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
