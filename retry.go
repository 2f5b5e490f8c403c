package kete

import (
	"time"

	"github.com/cenkalti/backoff/v4"
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
// after one outage do not come back in step) and none longer than LongestWait. The
// sequence is backoff/v4's ExponentialBackOff with its default multiplier and jitter; kete
// only caps the jittered wait, which backoff/v4 lets reach 1.5 × its maximum.
func (r Retry) Backoff() *Backoff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.FirstWait()),
		backoff.WithMaxInterval(r.LongestWait()),
		backoff.WithMaxElapsedTime(0), // the caller's context or MaxAttempts ends retrying
	)
	return &Backoff{exp: b, longest: r.LongestWait()}
}

// Backoff is one event's sequence of waits under a Retry policy; not safe for concurrent use.
type Backoff struct {
	exp     *backoff.ExponentialBackOff
	longest time.Duration
}

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	return min(b.exp.NextBackOff(), b.longest)
}
