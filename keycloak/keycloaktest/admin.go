package keycloaktest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
)

// admin wraps an Admin REST handler with Keycloak's checks: a bearer token issued by the
// master realm to its admin user or admin client (401 {"error":"HTTP 401 Unauthorized"}
// otherwise; 403 for a valid token without admin rights), and an existing realm (404
// {"error":"Realm not found."}). The handler runs holding s.mu.
// Simplified: admin rights are all or nothing, no realm-management roles.
func (s *Server) admin(h func(http.ResponseWriter, *http.Request, *realm)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.adminAuthorized(w, r) {
			return
		}
		rl := s.realms[r.PathValue("realm")]
		if rl == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm not found."})
			return
		}
		h(w, r, rl)
	}
}

// adminAuthorized checks the admin bearer token and answers 401 or 403 when it does not
// pass. Caller holds s.mu.
func (s *Server) adminAuthorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(auth, "bearer ")
	}
	if !ok || tok == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
		return false
	}
	claims, err := s.verify(tok)
	if err != nil || claims.Iss != s.Issuer("master") {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
		return false
	}
	if !s.adminIDs[claims.Sub] {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "HTTP 403 Forbidden"})
		return false
	}
	return true
}

// clientJSON is ClientRepresentation on the wire; pointers tell absent from false.
type clientJSON struct {
	ID                        string            `json:"id,omitempty"`
	ClientID                  string            `json:"clientId,omitempty"`
	Enabled                   *bool             `json:"enabled,omitempty"`
	ClientAuthenticatorType   string            `json:"clientAuthenticatorType,omitempty"`
	Secret                    string            `json:"secret,omitempty"`
	PublicClient              *bool             `json:"publicClient,omitempty"`
	BearerOnly                *bool             `json:"bearerOnly,omitempty"`
	ServiceAccountsEnabled    *bool             `json:"serviceAccountsEnabled,omitempty"`
	StandardFlowEnabled       *bool             `json:"standardFlowEnabled,omitempty"`
	ImplicitFlowEnabled       *bool             `json:"implicitFlowEnabled,omitempty"`
	DirectAccessGrantsEnabled *bool             `json:"directAccessGrantsEnabled,omitempty"`
	Protocol                  string            `json:"protocol,omitempty"`
	Attributes                map[string]string `json:"attributes,omitempty"`
}

func toJSON(c *Client) clientJSON {
	b := func(v bool) *bool { return &v }
	return clientJSON{
		ID: c.ID, ClientID: c.ClientID, Enabled: b(c.Enabled),
		ClientAuthenticatorType: c.ClientAuthenticatorType, Secret: c.Secret,
		PublicClient: b(c.PublicClient), BearerOnly: b(c.BearerOnly),
		ServiceAccountsEnabled: b(c.ServiceAccountsEnabled), StandardFlowEnabled: b(c.StandardFlowEnabled),
		ImplicitFlowEnabled: b(c.ImplicitFlowEnabled), DirectAccessGrantsEnabled: b(c.DirectAccessGrantsEnabled),
		Protocol: c.Protocol, Attributes: c.Attributes,
	}
}

func or(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// handleListClients mirrors GET /admin/realms/{realm}/clients (Admin REST API, Clients:
// "Get clients belonging to the realm"): clientId filters exactly, or by substring with
// search=true; first and max page.
func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request, rl *realm) {
	q := r.URL.Query()
	want, search := q.Get("clientId"), q.Get("search") == "true"
	out := []clientJSON{}
	for _, c := range rl.clients {
		switch {
		case want == "":
		case search && strings.Contains(strings.ToLower(c.ClientID), strings.ToLower(want)):
		case !search && c.ClientID == want:
		default:
			continue
		}
		out = append(out, toJSON(c))
	}
	first, max, ok := paging(w, q, -1)
	if !ok {
		return
	}
	if first >= len(out) {
		out = []clientJSON{}
	} else {
		out = out[first:]
	}
	if max >= 0 && max < len(out) {
		out = out[:max]
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCreateClient mirrors POST /admin/realms/{realm}/clients ("Create a new client.
// Client's client_id must be unique!"): 201 with a Location header naming the new id, 409
// {"errorMessage":"Client x already exists"} for a taken clientId. Keycloak's defaults for
// absent members: enabled and standardFlowEnabled true, the rest false, authenticator
// client-secret, and a generated secret for a confidential client.
func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request, rl *realm) {
	var in clientJSON
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errorMessage": "Unable to read the client representation: " + err.Error()})
		return
	}
	if strings.TrimSpace(in.ClientID) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errorMessage": "Client id is missing"})
		return
	}
	if rl.client(in.ClientID) != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"errorMessage": "Client " + in.ClientID + " already exists"})
		return
	}
	if in.ID != "" && rl.clientByID(in.ID) != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"errorMessage": "Client " + in.ID + " already exists"})
		return
	}
	c := s.addClientLocked(rl, Client{
		ID: in.ID, ClientID: in.ClientID, Secret: in.Secret,
		Enabled:                   or(in.Enabled, true),
		PublicClient:              or(in.PublicClient, false),
		BearerOnly:                or(in.BearerOnly, false),
		ServiceAccountsEnabled:    or(in.ServiceAccountsEnabled, false),
		StandardFlowEnabled:       or(in.StandardFlowEnabled, true),
		ImplicitFlowEnabled:       or(in.ImplicitFlowEnabled, false),
		DirectAccessGrantsEnabled: or(in.DirectAccessGrantsEnabled, false),
		ClientAuthenticatorType:   in.ClientAuthenticatorType,
		Protocol:                  in.Protocol,
		Attributes:                in.Attributes,
	})
	w.Header().Set("Location", s.URL+"/admin/realms/"+url.PathEscape(rl.name)+"/clients/"+url.PathEscape(c.ID))
	w.WriteHeader(http.StatusCreated)
}

// handleGetClient mirrors GET /admin/realms/{realm}/clients/{client-uuid}.
func (s *Server) handleGetClient(w http.ResponseWriter, r *http.Request, rl *realm) {
	c := rl.clientByID(r.PathValue("id"))
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Could not find client"})
		return
	}
	writeJSON(w, http.StatusOK, toJSON(c))
}

// handleGetSecret mirrors GET /admin/realms/{realm}/clients/{client-uuid}/client-secret
// ("Get the client secret"): a CredentialRepresentation {"type":"secret","value":…}.
func (s *Server) handleGetSecret(w http.ResponseWriter, r *http.Request, rl *realm) {
	c := rl.clientByID(r.PathValue("id"))
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Could not find client"})
		return
	}
	rep := map[string]string{"type": "secret"}
	if !c.PublicClient {
		rep["value"] = c.Secret
	}
	writeJSON(w, http.StatusOK, rep)
}

// handleRegenerateSecret mirrors POST …/client-secret ("Generate a new secret for the client").
func (s *Server) handleRegenerateSecret(w http.ResponseWriter, r *http.Request, rl *realm) {
	c := rl.clientByID(r.PathValue("id"))
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Could not find client"})
		return
	}
	if c.PublicClient {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errorMessage": "Public client doesn't have a secret"})
		return
	}
	c.Secret = randomHex(16)
	writeJSON(w, http.StatusOK, map[string]string{"type": "secret", "value": c.Secret})
}

// paging reads first (default 0) and max (default def, -1 for none); a bad value answers 400.
func paging(w http.ResponseWriter, q url.Values, def int) (first, max int, ok bool) {
	first, max = 0, def
	if v := q.Get("first"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"errorMessage": "Invalid value for 'first': " + v})
			return 0, 0, false
		}
		first = n
	}
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"errorMessage": "Invalid value for 'max': " + v})
			return 0, 0, false
		}
		if n >= 0 {
			max = n
		}
	}
	return first, max, true
}

func oneOf(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// eventJSON is EventRepresentation on the wire.
type eventJSON struct {
	ID        string            `json:"id,omitempty"`
	Time      int64             `json:"time"`
	Type      string            `json:"type"`
	RealmID   string            `json:"realmId,omitempty"`
	ClientID  string            `json:"clientId,omitempty"`
	UserID    string            `json:"userId,omitempty"`
	SessionID string            `json:"sessionId,omitempty"`
	IPAddress string            `json:"ipAddress,omitempty"`
	Error     string            `json:"error,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// handleEvents mirrors GET /admin/realms/{realm}/events (Admin REST API, Realms Admin: "Get
// events. Returns all events, or filters them based on URL query parameters"): type
// (repeatable), client, user, ipAddress, dateFrom, dateTo, first, max (default 100) and,
// from 26.2, direction (default desc, newest first); see events.go for how each version
// reads them.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, rl *realm) {
	q := r.URL.Query()
	types := q["type"]
	keep := func(e *kete.Event) bool {
		return oneOf(types, e.Type) &&
			(q.Get("client") == "" || e.ClientID == q.Get("client")) &&
			(q.Get("user") == "" || e.UserID == q.Get("user")) &&
			(q.Get("ipAddress") == "" || e.IPAddress == q.Get("ipAddress"))
	}
	events, ok := s.events.query(w, q, rl.events, keep)
	if !ok {
		return
	}
	out := []eventJSON{}
	for _, e := range events {
		out = append(out, eventJSON{
			ID: e.ID, Time: e.Time, Type: e.Type, RealmID: e.RealmID, ClientID: e.ClientID,
			UserID: e.UserID, SessionID: e.SessionID, IPAddress: e.IPAddress, Error: e.Error, Details: e.Details,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

type authDetailsJSON struct {
	RealmID   string `json:"realmId,omitempty"`
	ClientID  string `json:"clientId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	IPAddress string `json:"ipAddress,omitempty"`
}

// adminEventJSON is AdminEventRepresentation on the wire.
type adminEventJSON struct {
	ID             string            `json:"id,omitempty"`
	Time           int64             `json:"time"`
	RealmID        string            `json:"realmId,omitempty"`
	AuthDetails    *authDetailsJSON  `json:"authDetails,omitempty"`
	OperationType  string            `json:"operationType"`
	ResourceType   string            `json:"resourceType"`
	ResourcePath   string            `json:"resourcePath,omitempty"`
	Representation string            `json:"representation,omitempty"`
	Error          string            `json:"error,omitempty"`
	Details        map[string]string `json:"details,omitempty"`
}

// handleAdminEvents mirrors GET /admin/realms/{realm}/admin-events ("Get admin events"):
// operationTypes and resourceTypes (repeatable), authRealm, authClient, authUser,
// authIpAddress, resourcePath (with * wildcards), dateFrom, dateTo, first, max (default
// 100) and direction (default desc).
func (s *Server) handleAdminEvents(w http.ResponseWriter, r *http.Request, rl *realm) {
	q := r.URL.Query()
	var pathRE *regexp.Regexp
	if p := q.Get("resourcePath"); p != "" {
		pathRE = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$")
	}
	auth := func(e *kete.Event, get func(*kete.AuthDetails) string, param string) bool {
		want := q.Get(param)
		if want == "" {
			return true
		}
		return e.AuthDetails != nil && get(e.AuthDetails) == want
	}
	keep := func(e *kete.Event) bool {
		return oneOf(q["operationTypes"], e.OperationType) && oneOf(q["resourceTypes"], e.ResourceType) &&
			(pathRE == nil || pathRE.MatchString(e.ResourcePath)) &&
			auth(e, func(a *kete.AuthDetails) string { return a.RealmID }, "authRealm") &&
			auth(e, func(a *kete.AuthDetails) string { return a.ClientID }, "authClient") &&
			auth(e, func(a *kete.AuthDetails) string { return a.UserID }, "authUser") &&
			auth(e, func(a *kete.AuthDetails) string { return a.IPAddress }, "authIpAddress")
	}
	events, ok := s.events.query(w, q, rl.adminEvents, keep)
	if !ok {
		return
	}
	out := []adminEventJSON{}
	for _, e := range events {
		ev := adminEventJSON{
			ID: e.ID, Time: e.Time, RealmID: e.RealmID, OperationType: e.OperationType,
			ResourceType: e.ResourceType, ResourcePath: e.ResourcePath,
			Representation: e.Representation, Error: e.Error, Details: e.Details,
		}
		if a := e.AuthDetails; a != nil {
			ev.AuthDetails = &authDetailsJSON{RealmID: a.RealmID, ClientID: a.ClientID, UserID: a.UserID, IPAddress: a.IPAddress}
		}
		out = append(out, ev)
	}
	writeJSON(w, http.StatusOK, out)
}
