package config

import (
	"math"
	"time"

	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/pool"
)

// KETE's destination.pool.* keys beyond the sizes, with KETE's defaults (FortuneN/kete
// DestinationConfig.java: DEFAULT_POOL_*, read into GenericObjectPoolConfig by Route.java).
const (
	defaultPoolNumTestsPerEvictionRun  = 3
	defaultPoolTimeBetweenEvictionRuns = 60 * time.Second
	defaultPoolMinEvictableIdle        = -1 * time.Second
	defaultPoolSoftMinEvictableIdle    = 1800 * time.Second
)

func defaultPool() PoolSettings {
	return PoolSettings{
		MinIdle: defaultPoolMinIdle, MaxIdle: defaultPoolMaxIdle,
		MaxTotal: defaultPoolMaxTotal, MaxWait: defaultPoolMaxWait,
		BlockWhenExhausted: true, Lifo: true,
		TestOnCreate: true, TestOnBorrow: true, TestOnReturn: true, TestWhileIdle: true,
		NumTestsPerEvictionRun:  defaultPoolNumTestsPerEvictionRun,
		TimeBetweenEvictionRuns: defaultPoolTimeBetweenEvictionRuns,
		MinEvictableIdle:        defaultPoolMinEvictableIdle,
		SoftMinEvictableIdle:    defaultPoolSoftMinEvictableIdle,
	}
}

// poolFields are KETE's Commons Pool keys, relative to the route.
func poolFields(p *PoolSettings) []field {
	const pre = "destination.pool."
	return []field{
		{key: pre + "block-when-exhausted", set: boolVar(&p.BlockWhenExhausted)},
		{key: pre + "lifo", set: boolVar(&p.Lifo)},
		{key: pre + "fairness", set: fairnessVar(&p.Fairness)},
		{key: pre + "test-on-create", set: boolVar(&p.TestOnCreate)},
		{key: pre + "test-on-borrow", set: boolVar(&p.TestOnBorrow)},
		{key: pre + "test-on-return", set: boolVar(&p.TestOnReturn)},
		{key: pre + "test-while-idle", set: boolVar(&p.TestWhileIdle)},
		{key: pre + "num-tests-per-eviction-run", set: intVar(&p.NumTestsPerEvictionRun, -maxPoolSize, maxPoolSize)},
		{key: pre + "time-between-eviction-runs-seconds", set: signedSecondsVar(&p.TimeBetweenEvictionRuns, math.MinInt32)},
		{key: pre + "min-evictable-idle-time-seconds", set: signedSecondsVar(&p.MinEvictableIdle, math.MinInt32)},
		{key: pre + "soft-min-evictable-idle-time-seconds", set: signedSecondsVar(&p.SoftMinEvictableIdle, math.MinInt32)},
	}
}

// signedSecondsVar reads a *-seconds key where KETE allows negative values (-1: off, or
// no limit): a whole number of seconds, at least min.
func signedSecondsVar(p *time.Duration, min int) func(string, string) error {
	return func(_, v string) error {
		n, err := parseInt(v, min, math.MaxInt32)
		if err != nil {
			return err
		}
		*p = time.Duration(n) * time.Second
		return nil
	}
}

// fairnessVar reads pool.fairness. kete's pool hands a freed connection to the send that
// has waited longest, always: that is fairness=true, and false cannot be had.
func fairnessVar(p *bool) func(string, string) error {
	set := boolVar(p)
	return func(name, v string) error {
		if err := set(name, v); err != nil {
			return err
		}
		if !*p {
			return ignored("kete's pool always serves waiting sends in arrival order (as fairness=true); false has no effect")
		}
		return nil
	}
}

// poolOptions turns destination.pool.* into the destination's pool options, in Commons
// Pool's meanings: max-wait 0 does not wait (pollFirst(0)), -1 waits without limit; a
// non-positive eviction interval, or 0 tests per run, runs no evictor; a non-positive
// idle time evicts nothing.
func poolOptions(p PoolSettings) destination.PoolOptions {
	o := destination.PoolOptions{
		MinIdle: p.MinIdle, MaxIdle: p.MaxIdle, MaxTotal: p.MaxTotal, MaxWait: p.MaxWait,
		FailWhenExhausted:    !p.BlockWhenExhausted,
		FIFO:                 !p.Lifo,
		SkipTestOnCreate:     !p.TestOnCreate,
		SkipTestOnBorrow:     !p.TestOnBorrow,
		SkipTestOnReturn:     !p.TestOnReturn,
		SkipTestWhileIdle:    !p.TestWhileIdle,
		EvictionInterval:     p.TimeBetweenEvictionRuns,
		MinEvictableIdle:     max(p.MinEvictableIdle, 0),
		SoftMinEvictableIdle: p.SoftMinEvictableIdle,
		TestsPerEvictionRun:  p.NumTestsPerEvictionRun,
	}
	switch {
	case p.MaxWait < 0:
		o.MaxWait = pool.NoMaxWait
	case p.MaxWait == 0:
		o.FailWhenExhausted = true
	}
	if o.EvictionInterval <= 0 || o.TestsPerEvictionRun == 0 {
		o.EvictionInterval = -1
	}
	if o.SoftMinEvictableIdle <= 0 {
		o.SoftMinEvictableIdle = -1
	}
	return o
}
