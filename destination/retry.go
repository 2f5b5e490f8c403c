package destination

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/kete-dev/kete"
)

// Defaults for zero kete.Retry durations.
const (
	// DefaultRetryWait is KETE's retry.wait-duration.
	DefaultRetryWait = 500 * time.Millisecond
	// DefaultRetryMaxWait is backoff/v4's cap on one wait.
	DefaultRetryMaxWait = 60 * time.Second
)

// WithRetry applies a route's retry policy to d: a failed Send is tried again after
// waits that start at WaitDuration and grow exponentially (×1.5, with ±50% jitter, via
// backoff/v4), each capped by MaxWait, until MaxAttempts sends have been made (counting
// the first; 0 = until ctx ends). A permanent error (kete.IsPermanent), or ctx ending, stops at once; the
// latter returns an error wrapping ctx's. A disabled policy returns d itself.
func WithRetry(d kete.Destination, r kete.Retry) kete.Destination {
	if !r.Enabled || r.MaxAttempts == 1 {
		return d
	}
	if r.WaitDuration <= 0 {
		r.WaitDuration = DefaultRetryWait
	}
	if r.MaxWait <= 0 {
		r.MaxWait = DefaultRetryMaxWait
	}
	return &retrying{next: d, policy: r}
}

type retrying struct {
	next   kete.Destination
	policy kete.Retry
}

// Send tries once, and only on failure builds the backoff: the common case costs nothing.
func (r *retrying) Send(ctx context.Context, e *kete.Event, body []byte) error {
	err := r.next.Send(ctx, e, body)
	if err == nil || kete.IsPermanent(err) {
		return err
	}
	b := r.backOff()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for attempts := 1; ; attempts++ {
		if ctx.Err() != nil {
			return fmt.Errorf("retry stopped after %d attempts: %w (last error: %v)", attempts, context.Cause(ctx), err)
		}
		if r.policy.MaxAttempts > 0 && attempts >= r.policy.MaxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempts, err)
		}
		wait := b.NextBackOff()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("retry stopped after %d attempts: %w (last error: %v)", attempts, context.Cause(ctx), err)
		case <-timer.C:
		}
		if err = r.next.Send(ctx, e, body); err == nil || kete.IsPermanent(err) {
			return err
		}
	}
}

// backOff is the policy's wait sequence: exponential with jitter, each wait at most MaxWait.
func (r *retrying) backOff() backoff.BackOff {
	return capped{
		next: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(r.policy.WaitDuration),
			backoff.WithMaxInterval(r.policy.MaxWait),
			backoff.WithMaxElapsedTime(0), // attempts and ctx decide when to stop
		),
		max: r.policy.MaxWait,
	}
}

// capped keeps jitter from pushing a wait past the policy's MaxWait.
type capped struct {
	next backoff.BackOff
	max  time.Duration
}

func (c capped) NextBackOff() time.Duration { return min(c.next.NextBackOff(), c.max) }
func (c capped) Reset()                     { c.next.Reset() }

// Close closes the wrapped destination.
func (r *retrying) Close() error { return r.next.Close() }
