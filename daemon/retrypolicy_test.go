package daemon

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/spool"
)

// failing refuses every send, counting them.
type failing struct{ sends atomic.Int64 }

func (f *failing) Send(context.Context, *kete.Event, []byte) error {
	f.sends.Add(1)
	return errors.New("server said 500")
}
func (f *failing) Close() error { return nil }

// A route's retry policy decides the attempts the daemon makes from its spool: retry off
// is one attempt whatever max-attempts says, on is max-attempts; then the dead-letter file.
func TestRetryRouteAttempts(t *testing.T) {
	quick := kete.Retry{WaitDuration: time.Millisecond, MaxWait: 2 * time.Millisecond}
	for _, tc := range []struct {
		name  string
		retry kete.Retry
		want  int64
	}{
		{"retry off", kete.Retry{Enabled: false, MaxAttempts: 5, WaitDuration: quick.WaitDuration, MaxWait: quick.MaxWait}, 1},
		{"three attempts", kete.Retry{Enabled: true, MaxAttempts: 3, WaitDuration: quick.WaitDuration, MaxWait: quick.MaxWait}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dst := &failing{}
			p, _, stop := start(t, dir, RetryRoute(route("r", dst, ""), tc.retry, 1))
			if err := p.Ingest(context.Background(), "test", events(1, "LOGIN")); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if dls, err := spool.DeadLetters(dir, "r"); err == nil && len(dls) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the event was not dead-lettered")
				}
				time.Sleep(5 * time.Millisecond)
			}
			stop()
			if got := dst.sends.Load(); got != tc.want {
				t.Errorf("%d sends, want %d", got, tc.want)
			}
		})
	}
}
