package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kete-dev/kete/spool"
)

// IsBackPressure tells an Ingest error that means "not now" — the spool is full, its
// disk cannot take writes, or a route cannot read it — which a source answers with 503
// and Retry-After, from any other failure. What such a call wrote was undone.
func IsBackPressure(err error) bool {
	return errors.Is(err, spool.ErrFull) || errors.Is(err, spool.ErrUnavailable)
}

// readStallLocked is the first route that cannot read the spool, as an error wrapping
// spool.ErrUnavailable: while one cannot, sources take nothing in (p.mu held).
func (p *Pipeline) readStallLocked() error {
	for _, r := range p.opts.Routes {
		if h := p.health[r.Name]; h.readErr != "" {
			return fmt.Errorf("daemon: route %s cannot read the spool (%s): %w", r.Name, h.readErr, spool.ErrUnavailable)
		}
	}
	return nil
}

func (p *Pipeline) readStall() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readStallLocked()
}

// setReadError records whether route's last read of the spool failed.
func (p *Pipeline) setReadError(route string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.health[route].readErr = ""
		return
	}
	p.health[route].readErr = err.Error()
}

// waitToReadAgain logs a failed read of the spool (the first, then one a minute), marks
// the route stalled and waits before the next try; false once ctx ends.
func (p *Pipeline) waitToReadAgain(ctx context.Context, r *Route, err error, failures int) bool {
	p.setReadError(r.Name, err)
	if failures == 1 || failures%600 == 0 {
		p.opts.Logger.Error("route cannot read the spool; sources answer 503 until it can", "route", r.Name, "failures", failures, "err", err)
	}
	wait := min(time.Duration(failures)*10*time.Millisecond, 100*time.Millisecond)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// SpoolStatus is the spool's part of /readyz.
type SpoolStatus struct {
	Bytes    int64 `json:"bytes"`
	MaxBytes int64 `json:"maxBytes"`
	// WriteError is set while the spool cannot write (a full disk): sources answer 503.
	WriteError string `json:"writeError,omitempty"`
	// Damaged lists stretches found damaged or missing since the daemon started, with
	// the offsets of the records lost and where their bytes were saved.
	Damaged []spool.Damage `json:"damaged,omitempty"`
}

func (p *Pipeline) spoolStatus() SpoolStatus {
	st := p.opts.Spool.Stats()
	p.refreshSpoolMetrics(st)
	return SpoolStatus{Bytes: st.Bytes, MaxBytes: st.MaxBytes, WriteError: st.WriteError, Damaged: p.opts.Spool.Damaged()}
}

func (p *Pipeline) refreshSpoolMetrics(st spool.Stats) {
	m := p.opts.Metrics
	m.spoolBytes.Set(float64(st.Bytes))
	m.spoolDamaged.Set(float64(st.Damaged))
	unavailable := 0.0
	if st.WriteError != "" || p.readStall() != nil {
		unavailable = 1
	}
	m.spoolUnavailable.Set(unavailable)
}
