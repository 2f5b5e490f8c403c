package bench

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHistogramQuantilesUniform(t *testing.T) {
	h := newHistogram()
	const n = 1_000_000
	for v := int64(1); v <= n; v++ {
		h.recordValue(v * 1000) // 1µs .. 1s
	}
	tests := []struct {
		q    float64
		want float64 // ns
	}{
		{0.5, 500e6}, {0.9, 900e6}, {0.99, 990e6}, {0.999, 999e6}, {1, 1e9},
	}
	for _, tt := range tests {
		got := float64(h.quantile(tt.q))
		if rel := (got - tt.want) / tt.want; rel < -0.01 || rel > 0.01 {
			t.Errorf("Quantile(%v) = %v, want %v ±1%%", tt.q, time.Duration(got), time.Duration(tt.want))
		}
	}
	if h.count() != n || h.minimum() != time.Microsecond || h.maximum() != time.Second {
		t.Errorf("count %d min %v max %v", h.count(), h.minimum(), h.maximum())
	}
	if m := h.mean(); m < 499*time.Millisecond || m > 501*time.Millisecond {
		t.Errorf("mean %v, want 500ms", m)
	}
}

func TestHistogramExponentialAgainstSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := newHistogram()
	vals := make([]int64, 200_000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * 1e6) // mean 1ms
		h.recordValue(vals[i])
	}
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		exact := float64(sorted[int(q*float64(len(sorted)))-1])
		got := float64(h.quantile(q))
		if rel := (got - exact) / exact; rel < -0.01 || rel > 0.01 {
			t.Errorf("Quantile(%v) = %v, exact %v", q, got, exact)
		}
	}
}

func TestHistogramBucketsRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 255, 256, 257, 1000, 123456789, 1 << 40} {
		lo, hi := bucketBounds(bucketOf(v))
		if v < lo || v > hi {
			t.Errorf("value %d in bucket [%d,%d]", v, lo, hi)
		}
		if v >= histExact && float64(hi-lo+1)/float64(lo) > 1.0/histSub+1e-9 {
			t.Errorf("bucket of %d is %d wide, over 1/%d of %d", v, hi-lo+1, histSub, lo)
		}
	}
	if i := bucketOf(1 << 62); i != histBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last (%d)", i, histBuckets-1)
	}
}

func TestHistogramConcurrentAndMerge(t *testing.T) {
	a, b := newHistogram(), newHistogram()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				a.recordValue(int64(g*1000 + i))
			}
		})
	}
	wg.Wait()
	b.recordValue(10_000_000)
	a.merge(b)
	if a.count() != 4001 || a.maximum() != 10*time.Millisecond || a.minimum() != 0 {
		t.Fatalf("count %d max %v min %v", a.count(), a.maximum(), a.minimum())
	}
	var sum uint64
	for _, bk := range a.buckets() {
		sum += bk.Count
	}
	if sum != 4001 {
		t.Fatalf("buckets hold %d values, want 4001", sum)
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, size := range []int{0, 40, 100, 300} {
		b := appendPayload(nil, 1764201600123456789, 42, size)
		if size >= 60 && len(b) != size {
			t.Errorf("size %d: payload is %d bytes", size, len(b))
		}
		got, ok := stampOf([]byte(`{"topic":"x","messageType":"broadcast","data":` + string(b) + `}`))
		if !ok || got != 1764201600123456789 {
			t.Errorf("size %d: Stamp = %d, %v", size, got, ok)
		}
	}
	if got, ok := stampOf([]byte(`{"details":{"t":"1234"}}`)); !ok || got != 1234 {
		t.Errorf("quoted stamp = %d, %v", got, ok)
	}
	if _, ok := stampOf([]byte(`{"topic":"t"}`)); ok {
		t.Error("found a stamp in a frame without one")
	}
}

// TestHistogramMilliseconds was the package's example: log-linear buckets, at most 1/128
// wide, give 1..100ms back to the millisecond.
func TestHistogramMilliseconds(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 100; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	p50, p99 := h.quantile(0.5).Round(time.Millisecond), h.quantile(0.99).Round(time.Millisecond)
	if p50 != 50*time.Millisecond || p99 != 99*time.Millisecond || h.maximum() != 100*time.Millisecond {
		t.Errorf("p50 %v, p99 %v, max %v; want 50ms 99ms 100ms", p50, p99, h.maximum())
	}
}
