package kete

import (
	"math/rand/v2"
	"time"
)

// Retry is a route's retry policy, with KETE's keys (kete.routes.<name>.retry.*). Both
// places that retry read it: destination.WithRetry inside Send, and the daemon from its
// spool. Zero durations mean the defaults below, read through FirstWait and LongestWait.
type Retry struct {
	// Enabled turns retrying on; KETE's default is true.
	Enabled bool
	// MaxAttempts counts the first try; 0 means retry until the context ends.
	MaxAttempts int
	// WaitDuration is the first wait (zero: DefaultRetryWait); later waits grow
	// exponentially.
	WaitDuration time.Duration
	// MaxWait caps one wait (zero: DefaultRetryMaxWait).
	MaxWait time.Duration
}

// The policy's one set of defaults.
const (
	// DefaultRetryWait is KETE's retry.wait-duration.
	DefaultRetryWait = 500 * time.Millisecond
	// DefaultRetryMaxWait caps one wait: a destination back after an outage is tried
	// again within half a minute.
	DefaultRetryMaxWait = 30 * time.Second
	// retryMultiplier and retryJitter are backoff/v4's defaults, which kete used first:
	// each wait is 1.5 times the last, give or take half.
	retryMultiplier = 1.5
	retryJitter     = 0.5
)

// DefaultRetry is KETE's policy: three attempts, the first wait 500ms.
var DefaultRetry = Retry{Enabled: true, MaxAttempts: 3, WaitDuration: DefaultRetryWait, MaxWait: DefaultRetryMaxWait}

// FirstWait is WaitDuration, or DefaultRetryWait when it is zero.
func (r Retry) FirstWait() time.Duration {
	if r.WaitDuration <= 0 {
		return DefaultRetryWait
	}
	return r.WaitDuration
}

// LongestWait is MaxWait, or DefaultRetryMaxWait when it is zero; never less than FirstWait.
func (r Retry) LongestWait() time.Duration {
	longest := r.MaxWait
	if longest <= 0 {
		longest = DefaultRetryMaxWait
	}
	return max(longest, r.FirstWait())
}

// Backoff returns the waits between one event's attempts: the first around FirstWait,
// each next one 1.5 times the last, every one with ±50 % jitter (so that routes retrying
// after one outage do not come back in step) and none longer than LongestWait.
func (r Retry) Backoff() *Backoff {
	return &Backoff{interval: r.FirstWait(), longest: r.LongestWait()}
}

// Backoff is one event's sequence of waits under a Retry policy; not safe for concurrent use.
type Backoff struct {
	interval, longest time.Duration
}

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	spread := float64(b.interval) * retryJitter
	wait := time.Duration(float64(b.interval) - spread + rand.Float64()*2*spread)
	b.interval = min(time.Duration(float64(b.interval)*retryMultiplier), b.longest)
	return min(wait, b.longest)
}
