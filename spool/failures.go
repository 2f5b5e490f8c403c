package spool

import (
	"fmt"
	"sync"
	"time"
)

// failureLog logs a failing write once per interval, with the number of failures since
// the last line, instead of once per call: a full disk under load fails thousands of
// calls a second.
type failureLog struct {
	interval time.Duration

	mu      sync.Mutex
	lastErr error
	lastLog time.Time
	since   int
}

func (l *failureLog) last() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}

// failed records a write that failed and returns it as ErrUnavailable.
func (s *Spool) failed(cause error) error {
	err := fmt.Errorf("%w: %w", ErrUnavailable, cause)
	s.failing.Store(true)
	l := &s.failures
	l.mu.Lock()
	l.lastErr = err
	l.since++
	now := time.Now()
	if now.Sub(l.lastLog) < l.interval {
		l.mu.Unlock()
		return err
	}
	n := l.since
	l.lastLog, l.since = now, 0
	l.mu.Unlock()
	s.opts.Logger.Error("spool: cannot write; sources answer 503 until it can", "err", cause, "failures", n, "dir", s.opts.Dir, "every", l.interval)
	return err
}

// recovered notes a write that succeeded; the first after failures is logged.
func (s *Spool) recovered() {
	if !s.failing.Load() || !s.failing.CompareAndSwap(true, false) {
		return
	}
	s.failures.mu.Lock()
	s.failures.lastLog = time.Time{} // the next failure is news again
	s.failures.mu.Unlock()
	s.opts.Logger.Info("spool: writing again", "dir", s.opts.Dir)
}
