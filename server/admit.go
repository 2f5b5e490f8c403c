package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/kete-dev/kete/server/auth"
)

// remoteAddr returns the request's peer address.
func remoteAddr(r *http.Request) (netip.Addr, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host
	}
	return a.Unmap(), r.RemoteAddr
}

// writeError writes the API's error body {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	_, _ = w.Write(append(b, '\n'))
}

// authenticate verifies the request's token (with v) or API key (with keys) and returns
// its claims; on failure it has written the 401 and counted the reason.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, v *auth.Verifier, keys *auth.APIKeys) *auth.Claims {
	cr := auth.FromRequest(r)
	var (
		cl  *auth.Claims
		err error
	)
	switch {
	case cr.Token != "":
		if v == nil {
			err = &auth.Error{Status: http.StatusUnauthorized, Code: "token_invalid", Reason: "app has no key to verify tokens"}
		} else {
			cl, err = v.VerifyContext(r.Context(), cr.Token)
		}
	case cr.APIKey != "":
		if keys == nil {
			err = &auth.Error{Status: http.StatusUnauthorized, Code: auth.CodeAPIKeyInvalid, Reason: "app has no API keys"}
		} else {
			cl, err = keys.Verify(cr.APIKey)
		}
	default:
		err = &auth.Error{Status: http.StatusUnauthorized, Code: "token_missing", Reason: "no access token or API key"}
	}
	if err == nil {
		return cl
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = &auth.Error{Status: http.StatusUnauthorized, Code: "token_invalid", Reason: err.Error()}
	}
	if ae.Status == 0 {
		ae.Status = http.StatusUnauthorized
	}
	s.refusals.note(ae.Status, ae.Code, ae.Reason, requestAttrs(r)...)
	ae.WriteHTTP(w)
	return nil
}

// refuse writes an error and counts and logs it as a refusal with reason code (without
// the request's details: refuseRequest has them).
func (s *Server) refuse(w http.ResponseWriter, status int, code, message string) {
	s.refuseRequest(w, nil, status, code, message)
}

// enabledApp finds the request's app, refuses it when unknown (404) or disabled (403),
// and checks the request's source address (403) against the app's admin policy for the
// HTTP API, else its client policy. It writes the refusal.
func (s *Server) enabledApp(w http.ResponseWriter, r *http.Request, admin bool) (*appRuntime, *hub) {
	if s.closed.Load() {
		// Close empties the app table while the listener may still answer: without this a
		// client would be told 404 app_not_found, which a destination takes as permanent.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "shutting_down", "server is shutting down")
		return nil, nil
	}
	appID := r.PathValue("appId")
	rt, h := s.app(appID)
	if rt == nil {
		s.refuseRequest(w, r, http.StatusNotFound, "app_not_found", "no app "+appID)
		return nil, nil
	}
	if !rt.app.Enabled {
		s.refuseRequest(w, r, http.StatusForbidden, "app_disabled", "app "+appID+" is disabled")
		return nil, nil
	}
	policy, what, policyKey := rt.clientSrc, "app ", "clientSourceAddress"
	if admin {
		policy, what, policyKey = rt.adminSrc, "the admin API of app ", "adminSourceAddress"
	}
	addr, _ := remoteAddr(r)
	if !policy.Allows(addr) {
		s.refuseRequest(w, r, http.StatusForbidden, auth.CodeSourceForbidden, "source address "+addr.String()+" is not allowed to reach "+what+appID+" (its "+policyKey+")")
		return nil, nil
	}
	return rt, h
}

// admit runs the checks every WebSocket upgrade shares, before the upgrade, so that a
// refusal is a real HTTP status with a JSON body (gws answers 400 to anything it refuses).
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*appRuntime, *hub, *auth.Claims) {
	rt, h := s.enabledApp(w, r, false)
	if rt == nil {
		return nil, nil, nil
	}
	appID := rt.app.AppID
	if origin, derived := requestOrigin(r); origin != "" && len(rt.origins) > 0 && !rt.anyOrigin && !originAllowed(rt.origins, origin, derived) {
		s.refuseRequest(w, r, http.StatusForbidden, "origin_denied", "origin "+origin+" is not in the allowedOrigins of app "+appID)
		return nil, nil, nil
	}
	cl := s.authenticate(w, r, rt.authV, rt.apiKeys)
	if cl == nil {
		return nil, nil, nil
	}
	return rt, h, cl
}

// refuseAdmission answers a hub's refusal to reserve a connection (hub.reserve): 503
// too_many_connections or 409 already_connected. r, when not nil, adds the request's
// details to the log.
func (s *Server) refuseAdmission(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusServiceUnavailable, "too_many_connections"
	var ar *admissionRefusal
	if errors.As(err, &ar) && ar.kind == refusedSubjectConnected {
		status, code = http.StatusConflict, "already_connected"
	}
	s.refuseRequest(w, r, status, code, err.Error())
}

// wantsUpgrade answers 426 to a request that passed auth but asks for no WebSocket, before
// anything is reserved: a plain GET must not count against limits or, under the replace
// policy, close the subject's live connection. (Auth failures still answer a plain GET, so
// a browser can learn why its WebSocket was refused.)
func (s *Server) wantsUpgrade(w http.ResponseWriter, r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return true
	}
	w.Header().Set("Upgrade", "websocket")
	writeError(w, http.StatusUpgradeRequired, "upgrade_required", "this endpoint is a WebSocket: send Upgrade: websocket")
	return false
}

// subjectOf is the subject of a connection with id authenticated by cl: a token without
// "sub" makes the connection a user of its own, so that it shares no priv/ topic and no
// one-connection-per-user slot with every other such token.
func subjectOf(cl *auth.Claims, connID string) string {
	if cl.Subject == "" {
		return connID
	}
	return cl.Subject
}

// newSession builds a connection's session from verified claims.
func newSession(cl *auth.Claims) *session {
	ss := &session{subject: cl.Subject, permissions: cl.Permissions}
	if !cl.ExpiresAt.IsZero() {
		ss.expires = cl.ExpiresAt.UnixNano()
	}
	return ss
}
