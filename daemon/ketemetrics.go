package daemon

import (
	"time"

	"github.com/kete-dev/kete"
	"github.com/prometheus/client_golang/prometheus"
)

// keteMetrics are KETE's own series, served beside kete's so that dashboards and alerts
// built for KETE keep working. Names and labels are KETE's (FortuneN/kete
// utils/MetricsUtils.java: Micrometer meters "kete.events.forwarded.total",
// "kete.events.failed.total" and the timer "kete.forward.duration.seconds", which
// Keycloak's Prometheus registry writes as below; docs/user-guide/observability.md):
//
//   - kete_events_forwarded_total{route,event_type,realm}: events a route delivered.
//   - kete_events_failed_total{route,event_type,realm,error_type}: events a route gave up
//     on. KETE drops them; kete writes them to the route's dead letters. error_type is
//     "permanent" (a failure no retry can cure) or "max-attempts" (retry.max-attempts ran
//     out), where KETE writes an exception's class name.
//   - kete_forward_duration_seconds{route}: from the first attempt to the delivery,
//     retries included, recorded for delivered events only, as KETE's timer is. A
//     Micrometer timer has no buckets: it is a summary (_count and _sum) without
//     quantiles, which is what this is; Micrometer's decaying _max gauge is not kept.
//
// event_type is KETE's: the user event's type, or RESOURCETYPE_OPERATIONTYPE for an admin
// event (kete.Event.EventType); realm is the realm's name.
type keteMetrics struct {
	forwarded *prometheus.CounterVec
	failed    *prometheus.CounterVec
	duration  *prometheus.SummaryVec
}

// Values of kete_events_failed_total's error_type.
const (
	failedPermanent   = "permanent"
	failedMaxAttempts = "max-attempts"
)

func newKeteMetrics(reg prometheus.Registerer) *keteMetrics {
	k := &keteMetrics{
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_events_forwarded_total", Help: "Events delivered, by route, event type and realm (KETE's name)."},
			[]string{"route", "event_type", "realm"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_events_failed_total", Help: "Events given up on, by route, event type, realm and why (KETE's name)."},
			[]string{"route", "event_type", "realm", "error_type"}),
		duration: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: "kete_forward_duration_seconds", Help: "Time to deliver an event, retries included, by route (KETE's name)."},
			[]string{"route"}),
	}
	reg.MustRegister(k.forwarded, k.failed, k.duration)
	return k
}

// delivered counts an event a route delivered, took after its first attempt began.
func (k *keteMetrics) delivered(route string, e *kete.Event, took time.Duration) {
	k.forwarded.WithLabelValues(route, e.EventType(), e.Realm()).Inc()
	k.duration.WithLabelValues(route).Observe(took.Seconds())
}

// gaveUp counts an event a route gave up on.
func (k *keteMetrics) gaveUp(route string, e *kete.Event, errorType string) {
	k.failed.WithLabelValues(route, e.EventType(), e.Realm(), errorType).Inc()
}
