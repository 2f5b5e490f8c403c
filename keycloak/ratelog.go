package keycloak

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// rateLog lets through at most one log line per key per interval; the next line that
// passes says how many were left out since, so a flood shows as a count, not as lines.
type rateLog struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*rateKey
}

type rateKey struct {
	last    time.Time
	dropped int
}

func newRateLog(every time.Duration) *rateLog {
	return &rateLog{every: every, now: time.Now, keys: map[string]*rateKey{}}
}

// log writes msg with attrs unless a line with the same key went out within the interval.
func (l *rateLog) log(logger *slog.Logger, key string, level slog.Level, msg string, attrs ...any) {
	l.mu.Lock()
	k := l.keys[key]
	if k == nil {
		k = &rateKey{}
		l.keys[key] = k
	}
	now := l.now()
	if !k.last.IsZero() && now.Sub(k.last) < l.every {
		k.dropped++
		l.mu.Unlock()
		return
	}
	dropped := k.dropped
	k.last, k.dropped = now, 0
	l.mu.Unlock()
	if dropped > 0 {
		attrs = append(attrs, "suppressed", dropped)
	}
	logger.Log(context.Background(), level, msg, attrs...)
}
