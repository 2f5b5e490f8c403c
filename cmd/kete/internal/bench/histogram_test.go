package bench

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHistogramQuantilesUniform(t *testing.T) {
	h := NewHistogram()
	const n = 1_000_000
	for v := int64(1); v <= n; v++ {
		h.RecordValue(v * 1000) // 1µs .. 1s
	}
	tests := []struct {
		q    float64
		want float64 // ns
	}{
		{0.5, 500e6}, {0.9, 900e6}, {0.99, 990e6}, {0.999, 999e6}, {1, 1e9},
	}
	for _, tt := range tests {
		got := float64(h.Quantile(tt.q))
		if rel := (got - tt.want) / tt.want; rel < -0.01 || rel > 0.01 {
			t.Errorf("Quantile(%v) = %v, want %v ±1%%", tt.q, time.Duration(got), time.Duration(tt.want))
		}
	}
	if h.Count() != n || h.Min() != time.Microsecond || h.Max() != time.Second {
		t.Errorf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	if m := h.Mean(); m < 499*time.Millisecond || m > 501*time.Millisecond {
		t.Errorf("mean %v, want 500ms", m)
	}
}

func TestHistogramExponentialAgainstSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	vals := make([]int64, 200_000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * 1e6) // mean 1ms
		h.RecordValue(vals[i])
	}
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		exact := float64(sorted[int(q*float64(len(sorted)))-1])
		got := float64(h.Quantile(q))
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
	a, b := NewHistogram(), NewHistogram()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				a.RecordValue(int64(g*1000 + i))
			}
		})
	}
	wg.Wait()
	b.RecordValue(10_000_000)
	a.Merge(b)
	if a.Count() != 4001 || a.Max() != 10*time.Millisecond || a.Min() != 0 {
		t.Fatalf("count %d max %v min %v", a.Count(), a.Max(), a.Min())
	}
	var sum uint64
	for _, bk := range a.Buckets() {
		sum += bk.Count
	}
	if sum != 4001 {
		t.Fatalf("buckets hold %d values, want 4001", sum)
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, size := range []int{0, 40, 100, 300} {
		b := AppendPayload(nil, 1764201600123456789, 42, size)
		if size >= 60 && len(b) != size {
			t.Errorf("size %d: payload is %d bytes", size, len(b))
		}
		got, ok := Stamp([]byte(`{"topic":"x","messageType":"broadcast","data":` + string(b) + `}`))
		if !ok || got != 1764201600123456789 {
			t.Errorf("size %d: Stamp = %d, %v", size, got, ok)
		}
	}
	if got, ok := Stamp([]byte(`{"details":{"t":"1234"}}`)); !ok || got != 1234 {
		t.Errorf("quoted stamp = %d, %v", got, ok)
	}
	if _, ok := Stamp([]byte(`{"topic":"t"}`)); ok {
		t.Error("found a stamp in a frame without one")
	}
}
