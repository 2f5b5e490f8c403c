package server

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.ReturnMemoryAfter and Options.ReturnMemoryInterval.
const (
	DefaultReturnMemoryAfter    = 1000
	DefaultReturnMemoryInterval = 10 * time.Second
)

// memoryReturn decides when the sweeper hands freed memory back to the OS.
//
// Accepting a connection allocates far more than the connection keeps (net/http's
// request, headers and 4 KiB buffers, dropped at the hijack), so a burst of new
// connections grows the heap to twice what stays live; idle, the Go runtime keeps that
// headroom for a long time. Once a burst has settled, one forced return
// (runtime/debug.FreeOSMemory: a GC and a full scavenge) brings the process down to what
// the connections really hold. It costs a GC, so it is rate limited: only after the count
// grew by at least minGrowth since the last return, once the count stopped growing (no
// more than 1% since the previous sweep), and at most once per minInterval.
//
// It is owned by the sweeper goroutine.
type memoryReturn struct {
	minGrowth   int   // connections; <= 0: never
	minInterval int64 // nanoseconds

	last      int64 // time of the last return; 0: none yet
	baseConns int   // connections at the last return, or the fewest seen since
	prevConns int   // connections at the previous sweep
}

// due records the connection count conns seen at now (unix nanoseconds) and reports
// whether memory should be returned now; when it does, it counts the return as made.
func (m *memoryReturn) due(now int64, conns int) bool {
	prev := m.prevConns
	m.prevConns = conns
	if m.minGrowth <= 0 {
		return false
	}
	if conns < m.baseConns {
		// Connections left: growth is measured from the low point, so that a later
		// burst that only refills the same number still counts.
		m.baseConns = conns
	}
	if conns-m.baseConns < m.minGrowth {
		return false
	}
	if conns-prev > conns/100 {
		return false // still growing: wait for the burst to end
	}
	if m.last != 0 && now-m.last < m.minInterval {
		return false
	}
	m.last = now
	m.baseConns = conns
	return true
}

// highWater is the largest outbound queue one connection has held since the server
// started. Connections whose socket has room never touch it; a queueing one reads it (a
// shared, rarely written cache line) and writes only when it sets a new record.
type highWater struct{ v atomic.Int64 }

func (h *highWater) observe(n int) {
	for {
		cur := h.v.Load()
		if int64(n) <= cur || h.v.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// registerBacklogMetrics exports what slow subscribers cost: the bytes queued for all
// connections now (summed at scrape time, so the fan-out path pays nothing for it) and
// the largest queue one connection held, which stays within the app's maxBacklog.
func (s *Server) registerBacklogMetrics() {
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kete", Subsystem: "server", Name: "backlog_bytes",
			Help: "Outbound bytes queued for subscribers whose sockets are full, all connections, now.",
		}, func() float64 { return float64(s.backlogBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kete", Subsystem: "server", Name: "backlog_peak_bytes",
			Help: "The largest outbound queue one connection has held since start (bounded by the app's limits.maxBacklog).",
		}, func() float64 { return float64(s.backlogPeak.v.Load()) }),
	)
}

// backlogBytes sums every connection's outbound queue.
func (s *Server) backlogBytes() int {
	s.hubsMu.RLock()
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.hubsMu.RUnlock()
	total := 0
	var conns []*conn
	for _, h := range hubs {
		conns = h.snapshot(conns[:0])
		for _, c := range conns {
			total += c.queued()
		}
	}
	return total
}
