package kete_test

import (
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	const first = 10 * time.Millisecond
	policy := kete.Retry{Enabled: true, MaxAttempts: 10, WaitDuration: first, MaxWait: time.Second}
	for range 100 {
		b := policy.Backoff()
		var waits []time.Duration
		for range 4 {
			waits = append(waits, b.Next())
		}
		// ±50% jitter around 10ms, then ×1.5 per step: the fourth wait (≥ 16.9ms) always
		// exceeds the first (≤ 15ms).
		if waits[0] < first/2 || waits[0] > first*3/2 {
			t.Fatalf("first wait %s, want %s ± 50%%", waits[0], first)
		}
		if waits[3] <= waits[0] {
			t.Fatalf("waits %v do not grow", waits)
		}
	}
	capped := kete.Retry{WaitDuration: first, MaxWait: 20 * time.Millisecond}.Backoff()
	for i := range 20 {
		if w := capped.Next(); w > 20*time.Millisecond {
			t.Fatalf("wait %d is %s, above max-wait 20ms", i, w)
		}
	}
}

// A zero policy has one set of defaults, whoever reads it.
func TestRetryDefaults(t *testing.T) {
	var zero kete.Retry
	if got := zero.FirstWait(); got != kete.DefaultRetryWait {
		t.Errorf("zero WaitDuration: first wait %s, want %s", got, kete.DefaultRetryWait)
	}
	if got := zero.LongestWait(); got != kete.DefaultRetryMaxWait {
		t.Errorf("zero MaxWait: longest wait %s, want %s", got, kete.DefaultRetryMaxWait)
	}
	if d := kete.DefaultRetry; d.WaitDuration != zero.FirstWait() || d.MaxWait != zero.LongestWait() {
		t.Errorf("DefaultRetry %+v disagrees with the zero policy's defaults", d)
	}
	// A first wait longer than the default cap is not cut short by it.
	long := kete.Retry{WaitDuration: time.Minute}
	if got := long.LongestWait(); got != time.Minute {
		t.Errorf("WaitDuration 1m, MaxWait unset: longest wait %s, want 1m", got)
	}
	b := long.Backoff()
	for range 5 {
		if w := b.Next(); w > time.Minute {
			t.Fatalf("wait %s above the longest wait", w)
		}
	}
}
