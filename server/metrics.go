package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus series, on a registry of its own so that two
// servers in one process (tests) do not collide.
type metrics struct {
	connections   prometheus.Gauge
	subscriptions prometheus.Gauge
	framesIn      prometheus.Counter
	bytesIn       prometheus.Counter
	framesOut     prometheus.Counter
	bytesOut      prometheus.Counter
	slowConsumers prometheus.Counter
	authFailures  *prometheus.CounterVec
	publishes     *prometheus.CounterVec
	closes        *prometheus.CounterVec
	clusterNodes  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kete", Subsystem: "server", Name: "connections",
			Help: "Open WebSocket connections (clients and ingest publishers).",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kete", Subsystem: "server", Name: "subscriptions",
			Help: "Topic subscriptions held by open connections (priv/ topics not counted).",
		}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "frames_in_total",
			Help: "WebSocket data frames received from clients and ingest publishers.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "bytes_in_total",
			Help: "Payload bytes of the frames received.",
		}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "frames_out_total",
			Help: "Broadcast frames delivered to subscribers (one per subscriber per message).",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "bytes_out_total",
			Help: "Bytes of broadcast frames handed to subscriber sockets.",
		}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "slow_consumer_closes_total",
			Help: "Connections closed because their outbound backlog went over maxBacklog.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "auth_failures_total",
			Help: "Refused connections and API calls, by reason.",
		}, []string{"reason"}),
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "publishes_total",
			Help: "Messages published, by source (websocket, message, api, ingest).",
		}, []string{"source"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "closes_total",
			Help: "Connections the server closed, by reason.",
		}, []string{"reason"}),
		clusterNodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kete", Subsystem: "server", Name: "cluster_nodes",
			Help: "Other server nodes this one hears heartbeats from (0 on the memory broker): a drop means a node left or this one lost NATS.",
		}),
	}
	// Every label value is exported at zero from the start, so that alerts can be written
	// before the first close or publish (refusals.go does the same for refusals).
	for _, src := range []string{"websocket", "message", "api", "ingest"} {
		m.publishes.WithLabelValues(src)
	}
	for _, r := range []string{"admin", "replaced", "invalid_format", "token_invalid", "token_expired",
		"rate_limited", "connected_elsewhere", "idle", "slow_consumer"} {
		m.closes.WithLabelValues(r)
	}
	reg.MustRegister(m.connections, m.subscriptions, m.framesIn, m.bytesIn, m.framesOut,
		m.bytesOut, m.slowConsumers, m.authFailures, m.publishes, m.closes, m.clusterNodes)
	return m
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
		}, func() float64 { return float64(s.out.backlogPeak.v.Load()) }),
	)
}

// backlogBytes sums every connection's outbound queue.
func (s *Server) backlogBytes() int {
	hubs := s.hubList()
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
