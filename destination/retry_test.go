package destination

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

// flaky fails its first failures sends (all when failures < 0) with err.
type flaky struct {
	calls    atomic.Int64
	failures int64
	err      error
	onCall   func(n int64)
}

func (f *flaky) Send(ctx context.Context, e *kete.Event, body []byte) error {
	n := f.calls.Add(1)
	if f.onCall != nil {
		f.onCall(n)
	}
	if f.failures < 0 || n <= f.failures {
		return f.err
	}
	return nil
}

func (f *flaky) Close() error { return nil }

var errDown = errors.New("server down")

func TestWithRetryAttempts(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		failures    int64
		err         error
		wantCalls   int64
		wantErr     string
	}{
		{"succeeds first", 3, 0, errDown, 1, ""},
		{"succeeds on the second", 3, 1, errDown, 2, ""},
		{"succeeds on the last", 3, 2, errDown, 3, ""},
		{"gives up after max attempts", 3, -1, errDown, 3, "gave up after 3 attempts: server down"},
		{"permanent error is not retried", 3, -1, kete.Permanent(errors.New("not UTF-8")), 1, "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{failures: tt.failures, err: tt.err}
			d := WithRetry(f, kete.Retry{Enabled: true, MaxAttempts: tt.maxAttempts, WaitDuration: time.Millisecond, MaxWait: 5 * time.Millisecond})
			err := d.Send(testContext(t), login("master"), nil)
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d sends, want %d", got, tt.wantCalls)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("send: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, tt.err) {
				t.Errorf("send: %v, want %q wrapping %v", err, tt.wantErr, tt.err)
			}
		})
	}
}

func TestWithRetryDisabledIsTheDestination(t *testing.T) {
	f := &flaky{}
	for _, r := range []kete.Retry{{Enabled: false, MaxAttempts: 5}, {Enabled: true, MaxAttempts: 1}} {
		if d := WithRetry(f, r); d != kete.Destination(f) {
			t.Errorf("WithRetry(%+v) wrapped the destination", r)
		}
	}
}

func TestWithRetryUntilContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &flaky{failures: -1, err: errDown, onCall: func(n int64) {
		if n == 5 {
			cancel()
		}
	}}
	d := WithRetry(f, kete.Retry{Enabled: true, MaxAttempts: 0, WaitDuration: time.Millisecond, MaxWait: 2 * time.Millisecond})
	err := result(t, sendAsync(ctx, d, login("master"), nil), 10*time.Second)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "server down") {
		t.Errorf("send: %v, want context.Canceled with the last error", err)
	}
	if got := f.calls.Load(); got != 5 {
		t.Errorf("%d sends, want 5", got)
	}
}

func TestWithRetryStopsDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan struct{})
	f := &flaky{failures: -1, err: errDown, onCall: func(n int64) {
		if n == 1 {
			close(failed)
		}
	}}
	d := WithRetry(f, kete.Retry{Enabled: true, MaxAttempts: 3, WaitDuration: time.Hour, MaxWait: time.Hour})
	done := sendAsync(ctx, d, login("master"), nil)
	<-failed
	cancel()
	if err := result(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("send: %v, want context.Canceled", err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("%d sends, want 1", got)
	}
}

// WithRetry around a real WebSocket destination: the server is down for the first
// attempts (a closed port), and the error says how many were made.
func TestWithRetryOverWebSocket(t *testing.T) {
	url := "ws://" + closedPort(t) + "/events"
	ws := newDestination(t, url, WebSocketOptions{})
	d := WithRetry(ws, kete.Retry{Enabled: true, MaxAttempts: 3, WaitDuration: time.Millisecond, MaxWait: 5 * time.Millisecond})
	err := d.Send(testContext(t), login("master"), []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), url) {
		t.Errorf("send: %v", err)
	}
}
