// Package outage logs something that keeps failing as one outage, not as one line per
// failure: a line when it goes down, then lines at growing intervals (1 min, 2, 4, … at
// most 1 h apart), each saying how many failures there were since the last line and how
// long it has been down, and a line when it works again. A destination that is down and
// retried every second used to write a WARN a second for as long as it stayed down.
package outage

import (
	"log/slog"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultFirstInterval = time.Minute
	DefaultMaxInterval   = time.Hour
)

// Options name the lines and pace them; zero fields take the defaults in their comments.
type Options struct {
	// Down, StillDown and Up are the messages of the three kinds of line
	// ("down", "still down", "up again").
	Down, StillDown, Up string
	// FirstInterval is the wait after the first line before the next (1 min); each later
	// wait is twice the one before, up to MaxInterval (1 h).
	FirstInterval, MaxInterval time.Duration
	// Now is the clock (time.Now); tests replace it.
	Now func() time.Time
}

// withDefaults returns o with each zero field set to the default its comment names.
func (o Options) withDefaults() Options {
	if o.Down == "" {
		o.Down = "down"
	}
	if o.StillDown == "" {
		o.StillDown = "still down"
	}
	if o.Up == "" {
		o.Up = "up again"
	}
	if o.FirstInterval <= 0 {
		o.FirstInterval = DefaultFirstInterval
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = DefaultMaxInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Log tracks one thing's outages and logs them to its logger. It is safe for concurrent
// use; its zero value is not usable (use New).
type Log struct {
	log  *slog.Logger
	opts Options

	mu       sync.Mutex
	down     bool
	since    time.Time     // when the outage began
	next     time.Time     // when the next "still down" line is due
	interval time.Duration // the wait before next
	failures int           // failures since the last line
	total    int           // failures since the outage began
}

// New returns a Log that writes to log.
func New(log *slog.Logger, o Options) *Log {
	return &Log{log: log, opts: o.withDefaults()}
}

// Failed records a failure: the first of an outage is logged at once (warn), later ones
// when the next line is due.
func (l *Log) Failed(err error) {
	now := l.opts.Now()
	l.mu.Lock()
	if !l.down {
		l.down, l.since, l.interval = true, now, l.opts.FirstInterval
		l.next, l.failures, l.total = now.Add(l.interval), 0, 1
		l.mu.Unlock()
		l.log.Warn(l.opts.Down, "err", err)
		return
	}
	l.failures++
	l.total++
	if now.Before(l.next) {
		l.mu.Unlock()
		return
	}
	failures, downFor := l.failures, now.Sub(l.since)
	l.interval = min(2*l.interval, l.opts.MaxInterval)
	l.next, l.failures = now.Add(l.interval), 0
	l.mu.Unlock()
	l.log.Warn(l.opts.StillDown, "failures_since_last_line", failures, "down_for", downFor, "err", err)
}

// Succeeded ends an outage, if there is one, with an info line saying how long it lasted.
func (l *Log) Succeeded() {
	l.mu.Lock()
	if !l.down {
		l.mu.Unlock()
		return
	}
	l.down = false
	downFor, total := l.opts.Now().Sub(l.since), l.total
	l.mu.Unlock()
	l.log.Info(l.opts.Up, "down_for", downFor, "failures", total)
}

// Down reports whether an outage is going on.
func (l *Log) Down() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down
}
