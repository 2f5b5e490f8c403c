package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/lxzan/gws"
)

// hubReadyFrame is the text frame the Hub sends a subscriber once it is registered, so
// that a load tool knows no broadcast can miss it (the server's subscribe confirmation
// plays the same part).
const hubReadyFrame = `{"ready":true}`

// maxHubMessage bounds one published message.
const maxHubMessage = 1 << 20

// bareHub is the baseline every fan-out figure is measured against: a bare gws broadcast hub
// with no auth and no protocol. Every WebSocket connection at "/" is a subscriber; each
// frame of a publisher WebSocket at "/pub", and the body of each POST /publish, is
// broadcast as it is to every subscriber with gws.NewBroadcaster (one encoded frame
// shared by all, gws's per-connection write queues). GET /stats answers
// {"subscribers":N,"published":M}.
type bareHub struct {
	gws.BuiltinEventHandler
	up  *gws.Upgrader
	mux *http.ServeMux

	mu    sync.RWMutex
	subs  map[*gws.Conn]struct{}
	pubs  map[*gws.Conn]struct{}
	loops sync.WaitGroup

	published atomic.Int64
	closed    atomic.Bool
}

// newBareHub returns a Hub; serve it with net/http and Close it when done.
func newBareHub() *bareHub {
	h := &bareHub{subs: map[*gws.Conn]struct{}{}, pubs: map[*gws.Conn]struct{}{}}
	h.up = gws.NewUpgrader(h, &gws.ServerOption{
		ReadMaxPayloadSize: maxHubMessage,
		NewSession:         func() gws.SessionStorage { return &hubSession{} },
	})
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { h.upgrade(w, r, false) })
	m.HandleFunc("GET /pub", func(w http.ResponseWriter, r *http.Request) { h.upgrade(w, r, true) })
	m.HandleFunc("POST /publish", h.handlePublish)
	m.HandleFunc("GET /stats", h.handleStats)
	h.mux = m
	return h
}

// ServeHTTP implements http.Handler.
func (h *bareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// subscriberCount is the number of registered subscribers.
func (h *bareHub) subscriberCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// broadcast sends payload as one text frame to every subscriber.
func (h *bareHub) broadcast(payload []byte) {
	b := gws.NewBroadcaster(gws.OpcodeText, payload)
	h.mu.RLock()
	for c := range h.subs {
		_ = b.Broadcast(c)
	}
	h.mu.RUnlock()
	_ = b.Close()
	h.published.Add(1)
}

// Close closes every connection and waits for their read loops.
func (h *bareHub) Close() error {
	h.closed.Store(true)
	h.mu.Lock()
	var all []*gws.Conn
	for c := range h.subs {
		all = append(all, c)
	}
	for c := range h.pubs {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		_ = c.NetConn().Close()
	}
	h.loops.Wait()
	return nil
}

type hubSession struct{ pub bool }

func (s *hubSession) Len() int { return 1 }
func (s *hubSession) Load(key string) (any, bool) {
	if key == "pub" {
		return s.pub, true
	}
	return nil, false
}
func (s *hubSession) Delete(string) {}
func (s *hubSession) Store(key string, v any) {
	if b, ok := v.(bool); ok && key == "pub" {
		s.pub = b
	}
}
func (s *hubSession) Range(f func(string, any) bool) { f("pub", s.pub) }

func isPub(c *gws.Conn) bool {
	v, _ := c.Session().Load("pub")
	b, _ := v.(bool)
	return b
}

func (h *bareHub) upgrade(w http.ResponseWriter, r *http.Request, pub bool) {
	if h.closed.Load() {
		http.Error(w, "hub closed", http.StatusServiceUnavailable)
		return
	}
	c, err := h.up.Upgrade(w, r)
	if err != nil {
		return
	}
	c.Session().Store("pub", pub)
	h.loops.Add(1)
	go func() {
		defer h.loops.Done()
		c.ReadLoop()
	}()
}

// OnOpen registers the connection, then (subscribers) sends hubReadyFrame.
func (h *bareHub) OnOpen(c *gws.Conn) {
	h.mu.Lock()
	if isPub(c) {
		h.pubs[c] = struct{}{}
	} else {
		h.subs[c] = struct{}{}
	}
	h.mu.Unlock()
	if !isPub(c) {
		_ = c.WriteString(hubReadyFrame)
	}
}

// OnClose forgets the connection.
func (h *bareHub) OnClose(c *gws.Conn, _ error) {
	h.mu.Lock()
	delete(h.subs, c)
	delete(h.pubs, c)
	h.mu.Unlock()
}

// OnMessage broadcasts a publisher's frame; subscribers' frames are dropped.
func (h *bareHub) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if !isPub(c) {
		return
	}
	h.broadcast(bytes.Clone(m.Bytes()))
}

func (h *bareHub) handlePublish(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxHubMessage+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(b) > maxHubMessage {
		http.Error(w, "body over 1 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	h.broadcast(b)
	w.WriteHeader(http.StatusNoContent)
}

func (h *bareHub) handleStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int64{"subscribers": int64(h.subscriberCount()), "published": h.published.Load()})
}
