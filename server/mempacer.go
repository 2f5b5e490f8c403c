package server

import (
	"time"
)

// Defaults of Options.ReturnMemoryAfter and Options.ReturnMemoryInterval.
const (
	DefaultReturnMemoryAfter    = 1000
	DefaultReturnMemoryInterval = 10 * time.Second
)

// osMemoryPacer paces handing freed memory back to the OS: it decides when the sweeper
// calls Options.freeOSMemory.
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
type osMemoryPacer struct {
	minGrowth   int   // connections; <= 0: never
	minInterval int64 // nanoseconds

	last      int64 // time of the last return; 0: none yet
	baseConns int   // connections at the last return, or the fewest seen since
	prevConns int   // connections at the previous sweep
}

// due records the connection count conns seen at now (unix nanoseconds) and reports
// whether memory should be returned now; when it does, it counts the return as made.
func (m *osMemoryPacer) due(now int64, conns int) bool {
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
