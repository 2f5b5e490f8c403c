package daemon

import (
	"encoding/json"
	"net/http"
)

// Handler serves /metrics, /healthz (the process answers) and /readyz (200 once Run has
// started every route, with each route's status; a route that is retrying is still
// ready: its events wait safely in the spool; 503 while a polling source's last poll
// failed, since events it should read are not coming in). /readyz also reports the spool:
// a write failure (a full disk) and every damaged or missing stretch found, which stay
// listed after the spool recovers, so that an operator sees what was lost.
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	metrics := p.opts.Metrics.Handler()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		p.refreshSpoolMetrics(p.opts.Spool.Stats())
		metrics.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready := p.running.Load()
		sources := p.Sources()
		for _, s := range sources {
			ready = ready && !s.Failing
		}
		body := struct {
			Ready   bool           `json:"ready"`
			Routes  []RouteStatus  `json:"routes"`
			Sources []SourceStatus `json:"sources,omitempty"`
			Spool   SpoolStatus    `json:"spool"`
		}{ready, p.Status(), sources, p.spoolStatus()}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
	return mux
}
