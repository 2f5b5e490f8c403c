package server

import (
	"sync"
	"time"
)

// fanoutTask is one chunk of a large fan-out.
type fanoutTask struct {
	buf   []byte
	conns []*conn
	wg    *sync.WaitGroup
}

// fanout writes buf to every conn: small sets inline, large ones split across the
// fan-out workers, returning when all writes were made or queued.
func (s *Server) fanout(buf []byte, conns []*conn) {
	if len(conns) <= fanoutChunk || s.opts.FanoutWorkers <= 1 {
		for _, c := range conns {
			c.send(buf)
		}
		return
	}
	var wg sync.WaitGroup
	rest := conns[fanoutChunk:]
	for len(rest) > 0 {
		n := min(fanoutChunk, len(rest))
		wg.Add(1)
		s.fanCh <- fanoutTask{buf: buf, conns: rest[:n], wg: &wg}
		rest = rest[n:]
	}
	for _, c := range conns[:fanoutChunk] {
		c.send(buf)
	}
	wg.Wait()
}

// fanoutWorker runs until Close closes fanCh, after every dispatcher has stopped.
func (s *Server) fanoutWorker() {
	defer s.bg.Done()
	for t := range s.fanCh {
		for _, c := range t.conns {
			c.send(t.buf)
		}
		t.wg.Done()
	}
}

// coarseNow is the sweeper's clock: cheap to read on every frame.
func (s *Server) coarseNow() int64 { return s.now.Load() }

// sweeper advances the coarse clock and, per connection, closes expired tokens and idle
// sockets and sends pings.
func (s *Server) sweeper() {
	defer s.bg.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	var scratch []*conn
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			scratch = s.sweep(scratch[:0])
			clear(scratch)
		}
	}
}

var pingFrame = encodeFrame(opPing, nil)

// sweep runs one pass at the current time; tests call it after moving the clock.
func (s *Server) sweep(scratch []*conn) []*conn {
	now := s.opts.Now().UnixNano()
	s.now.Store(now)
	hubs := s.hubList()
	conns := 0
	for _, h := range hubs {
		rt := h.cfg.Load()
		idle := int64(rt.limits.IdleTimeout)
		ping := int64(rt.limits.PingInterval)
		scratch = h.snapshot(scratch[:0])
		conns += len(scratch)
		h.sweepGroups() // groups.go
		for _, c := range scratch {
			if exp := c.session().expires; exp != 0 && now >= exp {
				s.metrics.closes.WithLabelValues("token_expired").Inc()
				c.closeWith(ClosePolicyViolation, ReasonTokenExpired, false)
				continue
			}
			seen := c.lastSeen.Load()
			if now-seen >= idle {
				s.metrics.closes.WithLabelValues("idle").Inc()
				c.closeWith(ClosePolicyViolation, ReasonIdle, false)
				continue
			}
			if now-seen >= ping && now-c.lastPing >= ping {
				c.lastPing = now
				c.send(pingFrame)
			}
		}
	}
	if s.memPacer.due(now, conns) {
		s.opts.freeOSMemory()
	}
	return scratch
}

// fanoutChunk is how many subscribers one fan-out task writes to.
const fanoutChunk = 256
