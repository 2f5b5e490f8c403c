package bench

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// countingSink is a WebSocket server that only counts the frames it receives and the latency
// from the stamp each carries: the far end of `kete bench destination`.
type countingSink struct {
	gws.BuiltinEventHandler
	up     *gws.Upgrader
	frames atomic.Int64
	hist   atomic.Pointer[histogram]

	mu    sync.Mutex
	conns map[*gws.Conn]struct{}
	loops sync.WaitGroup
}

// newSink returns a Sink; serve it with net/http and Close it when done.
func newSink() *countingSink {
	s := &countingSink{conns: map[*gws.Conn]struct{}{}}
	s.up = gws.NewUpgrader(s, &gws.ServerOption{ReadMaxPayloadSize: maxHubMessage})
	s.hist.Store(newHistogram())
	return s
}

// ServeHTTP upgrades every request and reads its frames.
func (s *countingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := s.up.Upgrade(w, r)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		c.ReadLoop()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// OnMessage counts a frame and records its latency.
func (s *countingSink) OnMessage(_ *gws.Conn, m *gws.Message) {
	now := time.Now().UnixNano()
	if sent, ok := stampOf(m.Bytes()); ok {
		s.hist.Load().recordValue(now - sent)
	}
	s.frames.Add(1)
	_ = m.Close()
}

// count is how many frames arrived since the last Reset.
func (s *countingSink) count() int64 { return s.frames.Load() }

// reset starts counting afresh and returns the latencies recorded so far.
func (s *countingSink) reset() *histogram {
	s.frames.Store(0)
	return s.hist.Swap(newHistogram())
}

// Close closes every connection and waits for the read loops.
func (s *countingSink) Close() error {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.NetConn().Close()
	}
	s.mu.Unlock()
	s.loops.Wait()
	return nil
}
