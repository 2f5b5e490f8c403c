package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram layout: values below 256 ns have a bucket each; above, every power of two is
// split into 128 linear sub-buckets, so a bucket is never wider than 1/128 (0.8%) of its
// value. Values over histMax are counted in the last bucket.
const (
	histSubBits  = 7
	histSub      = 1 << histSubBits // sub-buckets per power of two
	histExact    = 2 * histSub      // values below this have a bucket each
	histMaxShift = 34               // largest power-of-two shift: values up to ~2^42 ns (73 min)
	histBuckets  = histExact + histMaxShift*histSub
)

// histogram records durations (nanoseconds) into log-linear buckets, HDR style: recording
// is one atomic add, with no allocation, safe from any number of goroutines, so that
// thousands of receivers can record every delivery.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
	min1   atomic.Int64 // smallest value + 1; 0 while empty
}

// newHistogram returns an empty histogram.
func newHistogram() *histogram { return &histogram{} }

// bucketOf returns the bucket index of v.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < histExact {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - (histSubBits + 1) // >= 1
	if e > histMaxShift {
		return histBuckets - 1
	}
	m := int(v >> e) // in [histSub, 2*histSub)
	return histExact + (e-1)*histSub + (m - histSub)
}

// bucketBounds returns the smallest and largest value bucket i holds.
func bucketBounds(i int) (lo, hi int64) {
	if i < histExact {
		return int64(i), int64(i)
	}
	e := (i-histExact)/histSub + 1
	m := int64((i-histExact)%histSub + histSub)
	return m << e, (m+1)<<e - 1
}

// record adds one duration.
func (h *histogram) record(d time.Duration) { h.recordValue(int64(d)) }

// recordValue adds one value in nanoseconds; negative values count as 0 (clocks of two
// processes on one host may disagree by a little).
func (h *histogram) recordValue(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
	h.lowerMin(v + 1)
}

func (h *histogram) lowerMin(v1 int64) {
	for {
		m := h.min1.Load()
		if (m != 0 && v1 >= m) || h.min1.CompareAndSwap(m, v1) {
			return
		}
	}
}

// count is how many values were recorded.
func (h *histogram) count() uint64 { return h.total.Load() }

// maximum is the largest value recorded (0 when empty).
func (h *histogram) maximum() time.Duration { return time.Duration(h.max.Load()) }

// minimum is the smallest value recorded (0 when empty).
func (h *histogram) minimum() time.Duration {
	if m := h.min1.Load(); m > 0 {
		return time.Duration(m - 1)
	}
	return 0
}

// mean is the average value (0 when empty).
func (h *histogram) mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// quantile returns the value at quantile q (0..1): the upper bound of the bucket holding
// that rank, never more than the largest value recorded.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(hi, h.max.Load()))
		}
	}
	return h.maximum()
}

// merge adds every count of o to h.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	if o.total.Load() > 0 {
		for {
			m := h.max.Load()
			v := o.max.Load()
			if v <= m || h.max.CompareAndSwap(m, v) {
				break
			}
		}
		if m := o.min1.Load(); m > 0 {
			h.lowerMin(m)
		}
	}
}

// bucket is one non-empty histogram bucket, for charts and JSON.
type bucket struct {
	// LowNs and HighNs are the smallest and largest value the bucket holds.
	LowNs  int64  `json:"lowNs"`
	HighNs int64  `json:"highNs"`
	Count  uint64 `json:"count"`
}

// buckets returns the non-empty buckets in increasing order.
func (h *histogram) buckets() []bucket {
	var out []bucket
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			lo, hi := bucketBounds(i)
			out = append(out, bucket{LowNs: lo, HighNs: hi, Count: c})
		}
	}
	return out
}

// latency is a histogram's summary, for reports.
type latency struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"minNs"`
	Mean  time.Duration `json:"meanNs"`
	P50   time.Duration `json:"p50Ns"`
	P90   time.Duration `json:"p90Ns"`
	P99   time.Duration `json:"p99Ns"`
	P999  time.Duration `json:"p999Ns"`
	Max   time.Duration `json:"maxNs"`
}

// summary returns the usual quantiles.
func (h *histogram) summary() latency {
	return latency{
		Count: h.count(), Min: h.minimum(), Mean: h.mean(),
		P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99), P999: h.quantile(0.999),
		Max: h.maximum(),
	}
}
