package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/pool"
)

// TestPoolKeys: every KETE destination.pool.* key is read, and reaches the destination's
// pool in Commons Pool's meaning.
func TestPoolKeys(t *testing.T) {
	c := parse(t, `
kete.routes.ws.destination.url=ws://127.0.0.1/events
kete.routes.ws.destination.pool.max-wait-seconds=-1
kete.routes.ws.destination.pool.block-when-exhausted=false
kete.routes.ws.destination.pool.lifo=false
kete.routes.ws.destination.pool.fairness=true
kete.routes.ws.destination.pool.test-on-create=false
kete.routes.ws.destination.pool.test-on-borrow=false
kete.routes.ws.destination.pool.test-on-return=false
kete.routes.ws.destination.pool.test-while-idle=false
kete.routes.ws.destination.pool.num-tests-per-eviction-run=-2
kete.routes.ws.destination.pool.time-between-eviction-runs-seconds=5
kete.routes.ws.destination.pool.min-evictable-idle-time-seconds=240
kete.routes.ws.destination.pool.soft-min-evictable-idle-time-seconds=-1
`)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v, want none", c.Warnings)
	}
	got := poolOptions(c.Routes[0].Destination.Pool)
	want := destination.PoolOptions{
		MinIdle: 1, MaxIdle: 10, MaxTotal: 20, MaxWait: pool.NoMaxWait,
		FailWhenExhausted: true, FIFO: true,
		SkipTestOnCreate: true, SkipTestOnBorrow: true, SkipTestOnReturn: true, SkipTestWhileIdle: true,
		TestsPerEvictionRun: -2, EvictionInterval: 5 * time.Second,
		MinEvictableIdle: 240 * time.Second, SoftMinEvictableIdle: -1,
	}
	if !reflect.DeepEqual(got, want) { // PoolOptions holds funcs: == does not compile
		t.Errorf("pool options\n got %+v\nwant %+v", got, want)
	}
}

// TestPoolDefaults: without pool keys, KETE's defaults: wait 30s, LIFO, every test on,
// an eviction run a minute examining 3, soft eviction after 30 minutes, no hard eviction.
func TestPoolDefaults(t *testing.T) {
	c := parse(t, "kete.routes.ws.destination.url=ws://127.0.0.1/events\n")
	got := poolOptions(c.Routes[0].Destination.Pool)
	want := destination.PoolOptions{
		MinIdle: 1, MaxIdle: 10, MaxTotal: 20, MaxWait: 30 * time.Second,
		TestsPerEvictionRun: 3, EvictionInterval: time.Minute,
		SoftMinEvictableIdle: 30 * time.Minute,
	}
	if !reflect.DeepEqual(got, want) { // PoolOptions holds funcs: == does not compile
		t.Errorf("pool options\n got %+v\nwant %+v", got, want)
	}
}

// TestPoolOffSwitches: Commons Pool's zero and negative values: max-wait 0 does not wait,
// no eviction runs, no tests per run.
func TestPoolOffSwitches(t *testing.T) {
	for _, tc := range []struct {
		props string
		check func(destination.PoolOptions) bool
	}{
		{"max-wait-seconds=0", func(o destination.PoolOptions) bool { return o.FailWhenExhausted }},
		{"time-between-eviction-runs-seconds=-1", func(o destination.PoolOptions) bool { return o.EvictionInterval < 0 }},
		{"time-between-eviction-runs-seconds=0", func(o destination.PoolOptions) bool { return o.EvictionInterval < 0 }},
		{"num-tests-per-eviction-run=0", func(o destination.PoolOptions) bool { return o.EvictionInterval < 0 }},
		{"soft-min-evictable-idle-time-seconds=0", func(o destination.PoolOptions) bool { return o.SoftMinEvictableIdle < 0 }},
	} {
		c := parse(t, "kete.routes.ws.destination.url=ws://127.0.0.1/events\nkete.routes.ws.destination.pool."+tc.props+"\n")
		if o := poolOptions(c.Routes[0].Destination.Pool); !tc.check(o) {
			t.Errorf("%s: options %+v", tc.props, o)
		}
	}
}

func TestPoolKeyErrors(t *testing.T) {
	for _, tc := range []struct{ props, want string }{
		{"max-wait-seconds=-2", "want -1 or more"},
		{"lifo=maybe", "want true or false"},
		{"num-tests-per-eviction-run=x", "want a whole number"},
	} {
		ps := problems(t, FormatProperties, "kete.routes.ws.destination.url=ws://h/\nkete.routes.ws.destination.pool."+tc.props+"\n")
		key := "kete.routes.ws.destination.pool." + strings.SplitN(tc.props, "=", 2)[0]
		if len(ps) != 1 || ps[0].Key != key || !strings.Contains(ps[0].Reason, tc.want) {
			t.Errorf("%s: problems %+v, want one for %s saying %q", tc.props, ps, key, tc.want)
		}
	}
}

// TestPoolFairnessFalseWarns: kete cannot serve waiters out of order, so fairness=false
// is accepted with a warning that says so.
func TestPoolFairnessFalseWarns(t *testing.T) {
	c := parse(t, "kete.routes.ws.destination.url=ws://h/\nkete.routes.ws.destination.pool.fairness=false\n")
	if len(c.Warnings) != 1 || c.Warnings[0].Key != "kete.routes.ws.destination.pool.fairness" ||
		!strings.Contains(c.Warnings[0].Reason, "arrival order") {
		t.Errorf("warnings %+v, want one for pool.fairness", c.Warnings)
	}
}
