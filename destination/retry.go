package destination

import (
	"context"
	"fmt"
	"time"

	"github.com/kete-dev/kete"
)

// WithRetry applies a route's retry policy to d: a failed Send is tried again after the
// policy's waits (kete.Retry.Backoff: from WaitDuration, ×1.5 each time with ±50%
// jitter, each at most MaxWait), until MaxAttempts sends have been made (counting the
// first; 0 = until ctx ends). A permanent error (kete.IsPermanent), or ctx ending, stops
// at once; the latter returns an error wrapping ctx's. A disabled policy returns d itself.
func WithRetry(d kete.Destination, r kete.Retry) kete.Destination {
	if !r.Enabled || r.MaxAttempts == 1 {
		return d
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
	b := r.policy.Backoff()
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
		wait := b.Next()
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

// Close closes the wrapped destination.
func (r *retrying) Close() error { return r.next.Close() }
