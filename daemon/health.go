package daemon

import (
	"encoding/json"
	"net/http"
)

// Handler serves /metrics, /healthz (the process answers) and /readyz (200 once Run has
// started every route, with each route's status; a route that is retrying is still
// ready: its events wait safely in the spool; 503 while a polling source's last poll
// failed, since events it should read are not coming in).
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.opts.Metrics.Handler())
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
		}{ready, p.Status(), sources}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
	return mux
}
