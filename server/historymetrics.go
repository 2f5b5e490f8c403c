package server

import "github.com/prometheus/client_golang/prometheus"

// historyCollector exports, per app, what its history holds on this node, read at scrape
// time from the hubs, so that an app that goes away takes its series with it.
type historyCollector struct {
	s             *Server
	bytes, topics *prometheus.Desc
}

func newHistoryCollector(s *Server) *historyCollector {
	return &historyCollector{
		s: s,
		bytes: prometheus.NewDesc("kete_server_history_bytes",
			"Memory the app's history holds on this node: kept frames plus a fixed overhead per message and topic (bounded by historyMaxBytes).",
			[]string{"app"}, nil),
		topics: prometheus.NewDesc("kete_server_history_topics",
			"Topics whose history the app keeps on this node (bounded by historyMaxTopics).",
			[]string{"app"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *historyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.topics
}

// Collect implements prometheus.Collector: one pair of series per app that keeps history.
func (c *historyCollector) Collect(ch chan<- prometheus.Metric) {
	hubs := c.s.hubList()
	for _, h := range hubs {
		if h.cfg.Load().app.HistorySize <= 0 {
			continue
		}
		bytes, topics := h.history.size()
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(bytes), h.appID)
		ch <- prometheus.MustNewConstMetric(c.topics, prometheus.GaugeValue, float64(topics), h.appID)
	}
}
