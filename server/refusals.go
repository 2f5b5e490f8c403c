package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kete-dev/kete/server/auth"
)

// Refusal reasons: the "code" of a refusal's JSON body and the reason label of
// kete_server_refused_total. Each is exported at zero from the start, so that an alert on
// any of them can be written before the first refusal.
const (
	RefusedAppNotFound      = "app_not_found"                    // 404: no such app
	RefusedAppDisabled      = "app_disabled"                     // 403: the app has enabled: false
	RefusedSourceDenied     = auth.CodeSourceForbidden           // 403: clientSourceAddress / adminSourceAddress
	RefusedOriginDenied     = "origin_denied"                    // 403: Origin not in allowedOrigins
	RefusedForbidden        = auth.CodeForbidden                 // 403: the token lacks the permission
	RefusedTooManyConns     = "too_many_connections"             // 503: the app's maxConnections
	RefusedAddressCap       = "too_many_connections_per_address" // 503: kete.server.http.max-conns-per-address
	RefusedAlreadyConnected = "already_connected"                // 409: oneConnectionPerUser: reject
	RefusedSubjectMismatch  = "subject_mismatch"                 // a refreshed token for another subject
	RefusedShuttingDown     = "shutting_down"                    // 503: the server is closing
)

// refusalReasons is every reason kete_server_refused_total is pre-set to zero for: the
// codes above and every token/API-key code of package auth.
var refusalReasons = []string{
	RefusedAppNotFound, RefusedAppDisabled, RefusedSourceDenied, RefusedOriginDenied,
	RefusedForbidden, RefusedTooManyConns, RefusedAddressCap, RefusedAlreadyConnected,
	RefusedSubjectMismatch, RefusedShuttingDown,
	auth.CodeTokenMissing, auth.CodeTokenMalformed, auth.CodeTokenExpired,
	auth.CodeTokenNotYetValid, auth.CodeTokenInvalid, auth.CodeAPIKeyInvalid,
	auth.CodeKeysUnavailable,
}

// refusalLogInterval is how often one reason may be logged: the first refusal of a reason
// is logged at once, later ones at most once per interval with the count left out since.
const refusalLogInterval = 10 * time.Second

// refusals counts and logs every request, upgrade and connection the server turns away,
// so that a browser told "403 origin_denied" is matched by a line in the server's log and
// a series an alert can watch. The log is rate-limited per reason: a client retrying every
// second (or a scanner) costs one line per interval, not one per attempt.
type refusals struct {
	total *prometheus.CounterVec
	auth  *prometheus.CounterVec // kete_server_auth_failures_total, kept for existing dashboards
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	byCode map[string]*refusalLogState
}

type refusalLogState struct {
	next       time.Time // the earliest time the next line of this reason may be written
	suppressed int       // refusals of this reason not logged since the last line
}

func newRefusals(reg prometheus.Registerer, authFailures *prometheus.CounterVec, log *slog.Logger, now func() time.Time) *refusals {
	rf := &refusals{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kete", Subsystem: "server", Name: "refused_total",
			Help: "Refused upgrades, API calls and connections, by reason (the code of the refusal's JSON body).",
		}, []string{"reason"}),
		auth:   authFailures,
		log:    log,
		now:    now,
		byCode: map[string]*refusalLogState{},
	}
	for _, r := range refusalReasons {
		rf.total.WithLabelValues(r)
		if r != RefusedAddressCap {
			authFailures.WithLabelValues(r)
		}
	}
	reg.MustRegister(rf.total)
	return rf
}

// note counts one refusal and logs it unless its reason was logged within the interval.
// attrs say whom it was refused to (app, source address, origin); never a token.
func (rf *refusals) note(status int, code, message string, attrs ...slog.Attr) {
	rf.total.WithLabelValues(code).Inc()
	if code != RefusedAddressCap {
		rf.auth.WithLabelValues(code).Inc()
	}
	now := rf.now()
	rf.mu.Lock()
	st := rf.byCode[code]
	if st == nil {
		st = &refusalLogState{}
		rf.byCode[code] = st
	}
	if now.Before(st.next) {
		st.suppressed++
		rf.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.suppressed, st.next = 0, now.Add(refusalLogInterval)
	rf.mu.Unlock()

	args := make([]any, 0, len(attrs)+4)
	args = append(args, slog.String("reason", code), slog.Int("status", status), slog.String("message", message))
	for _, a := range attrs {
		args = append(args, a)
	}
	if suppressed > 0 {
		args = append(args, slog.Int("refused_since_last_line", suppressed))
	}
	rf.log.Warn("refused", args...)
}

// requestAttrs are the log attributes of a refused request: app, source address, origin
// and path (the query, which may hold a token, is left out).
func requestAttrs(r *http.Request) []slog.Attr {
	if r == nil {
		return nil
	}
	attrs := []slog.Attr{slog.String("path", r.URL.Path)}
	if app := r.PathValue("appId"); app != "" {
		attrs = append(attrs, slog.String("app", app))
	}
	if addr, _ := remoteAddr(r); addr.IsValid() {
		attrs = append(attrs, slog.String("remote", addr.String()))
	}
	if o := r.Header.Get("Origin"); o != "" {
		attrs = append(attrs, slog.String("origin", o))
	}
	return attrs
}

// refuseRequest counts and logs the refusal of r and answers it with status and the JSON
// body {"error":{"code","message"}}: a browser's page can show message, which says in a
// sentence what was refused and why.
func (s *Server) refuseRequest(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	s.refusals.note(status, code, message, requestAttrs(r)...)
	writeError(w, status, code, message)
}

// RefusedConnection counts and logs a connection refused before any request was read,
// because its source address holds too many connections already (the listener's cap,
// internal/httpguard); cmd/kete hands it to the listener.
func (s *Server) RefusedConnection(addr netip.Addr) {
	s.refusals.note(http.StatusServiceUnavailable, RefusedAddressCap,
		"this address has too many open connections", slog.String("remote", addr.String()))
}

// requestOrigin is the origin allowedOrigins is checked against: the Origin header, which
// browsers send with every WebSocket upgrade. A browser hides why an upgrade failed, so
// the dashboard asks the same URL again with a plain same-origin fetch — which carries no
// Origin header. For such a request (no upgrade, Sec-Fetch-Site: same-origin) the page's
// origin is the server's own, derived from the request (derived is then true), so that the
// page is told "origin … is not in the allowedOrigins" instead of retrying for ever.
func requestOrigin(r *http.Request) (origin string, derived bool) {
	if o := r.Header.Get("Origin"); o != "" {
		return o, false
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-Fetch-Site") != "same-origin" || r.Host == "" {
		return "", false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host, true
}

// originAllowed reports whether origin is in allowed. A derived origin is matched on its
// host alone: behind a proxy that ends TLS the scheme seen here may not be the page's.
func originAllowed(allowed map[string]bool, origin string, derived bool) bool {
	if allowed[origin] {
		return true
	}
	if !derived {
		return false
	}
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	for o := range allowed {
		if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Host, host) {
			return true
		}
	}
	return false
}
