package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kete-dev/kete/keycloak"
)

// newWebhookRefused registers kete_webhook_refused_total{reason}, with every reason the
// receiver knows at zero, so that a dashboard sees the series before the first refusal.
func newWebhookRefused(reg *prometheus.Registry) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kete_webhook_refused_total",
		Help: "Webhook requests refused, by reason: method, unauthorized, signature, too_large, unreadable, malformed, invalid_events, full.",
	}, []string{"reason"})
	for _, r := range []string{
		keycloak.RefusedMethod, keycloak.RefusedUnauthorized, keycloak.RefusedSignature, keycloak.RefusedTooLarge,
		keycloak.RefusedUnreadable, keycloak.RefusedMalformed, keycloak.RefusedInvalidEvents, keycloak.RefusedFull,
	} {
		v.WithLabelValues(r)
	}
	reg.MustRegister(v)
	return v
}

// WebhookRefused counts one refused webhook request; it is keycloak.ReceiverOptions.Refused.
func (m *Metrics) WebhookRefused(reason string) {
	m.webhookRefused.WithLabelValues(reason).Inc()
}
