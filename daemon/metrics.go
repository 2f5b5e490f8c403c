package daemon

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the daemon's Prometheus series in a registry of its own, so that two
// daemons in one test process do not collide.
type Metrics struct {
	Registry    *prometheus.Registry
	eventsIn    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	eventsOut   *prometheus.CounterVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	spoolBytes  prometheus.Gauge
	sources     *sourceHealth
	// webhookRefused counts refused webhook requests by reason (webhookmetrics.go).
	webhookRefused *prometheus.CounterVec
	// spoolDamaged and spoolUnavailable are set from the spool when scraped.
	spoolDamaged     prometheus.Gauge
	spoolUnavailable prometheus.Gauge
	// kete holds KETE's series, beside these (ketemetrics.go).
	kete *keteMetrics
}

// NewMetrics registers the daemon's series and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_events_in_total", Help: "Events made durable, by source."}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_events_rejected_total", Help: "Events refused because the spool was full, by source."}, []string{"source"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_events_out_total", Help: "Events delivered, by route."}, []string{"route"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_delivery_retries_total", Help: "Failed delivery attempts that will be retried, by route."}, []string{"route"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_dead_letters_total", Help: "Events given up on and written to the route's dead-letter file."}, []string{"route"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kete_delivery_latency_seconds",
			Help:    "From the event's time to its delivery, by route.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kete_spool_bytes", Help: "Bytes of segments in the spool."}),
		sources: newSourceHealth(),
		spoolDamaged: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kete_spool_damaged", Help: "Stretches of the spool found damaged or missing since the start; see /readyz and <spool.dir>/damaged/."}),
		spoolUnavailable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kete_spool_unavailable", Help: "1 while the spool cannot write (a full disk) or a route cannot read it: sources answer 503."}),
	}
	m.Registry.MustRegister(m.sources.collectors()...)
	m.webhookRefused = newWebhookRefused(m.Registry)
	m.kete = newKeteMetrics(m.Registry)
	m.Registry.MustRegister(m.eventsIn, m.rejected, m.eventsOut, m.retries, m.deadLetters, m.latency, m.spoolBytes, m.spoolDamaged, m.spoolUnavailable,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SourceKnown exports an intake source's series (events in and rejected) at zero before
// its first event, so that an alert on them can be written before the first failure; a
// polled source also gets kete_source_poll_errors_total at zero.
func (m *Metrics) SourceKnown(source string, polled ...string) {
	m.eventsIn.WithLabelValues(source)
	m.rejected.WithLabelValues(source)
	for _, ps := range polled {
		m.sources.errors.WithLabelValues(ps)
	}
}

// routeKnown exports a route's series at zero before its first delivery.
func (m *Metrics) routeKnown(route string) {
	m.eventsOut.WithLabelValues(route)
	m.retries.WithLabelValues(route)
	m.deadLetters.WithLabelValues(route)
	m.latency.WithLabelValues(route)
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
