package daemon

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SourceStatus is how a polling source stands, as /readyz reports it.
type SourceStatus struct {
	Source string `json:"source"`
	// Failing is true while the source's last poll failed: events it should have read
	// are not coming in.
	Failing   bool   `json:"failing"`
	LastError string `json:"lastError,omitempty"`
	// LastSuccess is the time of the last poll that succeeded, zero if none yet.
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
}

// sourceHealth holds the polling sources' statuses and their series.
type sourceHealth struct {
	errors      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec

	mu     sync.Mutex
	status map[string]*SourceStatus
}

func newSourceHealth() *sourceHealth {
	return &sourceHealth{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kete_source_poll_errors_total",
			Help: "Polls of a source that failed (Keycloak unreachable, refused, or the spool full), by source."}, []string{"source"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kete_source_last_success_timestamp_seconds",
			Help: "Unix time of the last poll of a source that succeeded, by source."}, []string{"source"}),
		status: map[string]*SourceStatus{},
	}
}

func (h *sourceHealth) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.errors, h.lastSuccess}
}

func (h *sourceHealth) polled(source string, err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.status[source]
	if st == nil {
		st = &SourceStatus{Source: source}
		h.status[source] = st
		h.errors.WithLabelValues(source) // show 0 before the first failure
	}
	if err != nil {
		st.Failing, st.LastError = true, err.Error()
		h.errors.WithLabelValues(source).Inc()
		return
	}
	st.Failing, st.LastError, st.LastSuccess = false, "", now
	h.lastSuccess.WithLabelValues(source).Set(float64(now.UnixMilli()) / 1000)
}

func (h *sourceHealth) statuses() []SourceStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SourceStatus, 0, len(h.status))
	for _, st := range h.status {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b SourceStatus) int {
		switch {
		case a.Source < b.Source:
			return -1
		case a.Source > b.Source:
			return 1
		}
		return 0
	})
	return out
}

// SourcePolled records the outcome of one poll by a polling source, such as the Keycloak
// events poller of one realm ("keycloak-poller/acme"): a failure counts in
// kete_source_poll_errors_total and makes /readyz answer 503 naming the source and its
// error until a poll succeeds; a success sets kete_source_last_success_timestamp_seconds.
func (p *Pipeline) SourcePolled(source string, err error) {
	p.opts.Metrics.sources.polled(source, err, p.opts.Now())
}

// Sources reports every polling source that has polled.
func (p *Pipeline) Sources() []SourceStatus { return p.opts.Metrics.sources.statuses() }
