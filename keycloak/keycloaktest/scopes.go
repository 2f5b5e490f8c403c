package keycloaktest

import (
	"net/http"
	"slices"
	"strings"
)

// clientScope is a realm's client scope, as ClientScopeModel holds it.
type clientScope struct {
	id, name, protocol string
	// inTokenScope is the include.in.token.scope attribute: whether the scope's name
	// appears in the token's scope claim when granted.
	inTokenScope bool
}

// Keycloak's built-in OpenID Connect client scopes (DefaultClientScopes.createDefaultClientScopes)
// and which of them a new realm makes default and optional for its new clients
// (RealmManager: realm default-default and default-optional client scopes). Of the
// defaults only profile and email are shown in the scope claim: roles, web-origins, acr
// and basic have include.in.token.scope=false.
var (
	builtinDefaultScopes  = []string{"profile", "email", "roles", "web-origins", "acr", "basic"}
	builtinOptionalScopes = []string{"address", "phone", "offline_access", "microprofile-jwt"}
	hiddenFromTokenScope  = []string{"roles", "web-origins", "acr", "basic"}
)

// addBuiltinScopes gives a new realm Keycloak's built-in client scopes.
func (r *realm) addBuiltinScopes() {
	for _, name := range append(slices.Clone(builtinDefaultScopes), builtinOptionalScopes...) {
		r.addScope(name)
	}
}

// addScope creates a client scope (openid-connect, shown in the token's scope claim
// unless Keycloak hides that built-in one) and returns it; an existing one is returned.
func (r *realm) addScope(name string) *clientScope {
	if sc := r.scopeByName(name); sc != nil {
		return sc
	}
	sc := &clientScope{id: newUUID(), name: name, protocol: "openid-connect", inTokenScope: !slices.Contains(hiddenFromTokenScope, name)}
	r.scopes = append(r.scopes, sc)
	return sc
}

func (r *realm) scopeByName(name string) *clientScope {
	for _, sc := range r.scopes {
		if sc.name == name {
			return sc
		}
	}
	return nil
}

func (r *realm) scopeByID(id string) *clientScope {
	for _, sc := range r.scopes {
		if sc.id == id {
			return sc
		}
	}
	return nil
}

// assignScopes links a client to the scopes its Client value names, creating scopes the
// realm lacks (a test names them; an administrator would have created them first). Nil
// lists get the realm's defaults, as ClientManager.createClient gives a new client the
// realm's default-default and default-optional scopes.
func (r *realm) assignScopes(c *Client) {
	if c.DefaultClientScopes == nil {
		c.DefaultClientScopes = slices.Clone(builtinDefaultScopes)
	}
	if c.OptionalClientScopes == nil {
		c.OptionalClientScopes = slices.Clone(builtinOptionalScopes)
	}
	for _, name := range append(slices.Clone(c.DefaultClientScopes), c.OptionalClientScopes...) {
		r.addScope(name)
	}
}

// AddClientScope creates an OpenID Connect client scope in realm, as an administrator
// would in the admin console, and returns its id; a realm that does not exist is created.
// It is assigned to no client.
func (s *Server) AddClientScope(realmName, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		r = s.addRealm(realmName)
	}
	return r.addScope(name).id
}

// isValidScope is TokenManager.isValidScope: every requested scope but openid must be one
// of the client's default or optional client scopes; otherwise the grant answers 400
// invalid_scope "Invalid scopes: …" (OAuth2GrantTypeBase.getRequestedScopes).
func isValidScope(c *Client, requested string) bool {
	for _, sc := range strings.Fields(requested) {
		if sc == "openid" {
			continue
		}
		if !slices.Contains(c.DefaultClientScopes, sc) && !slices.Contains(c.OptionalClientScopes, sc) {
			return false
		}
	}
	return true
}

// grantedScope is the token's scope claim (TokenManager.getRequestedClientScopes): the
// client's default scopes and the requested optional ones, each only when it is shown in
// the token scope; openid first when requested.
func grantedScope(rl *realm, c *Client, requested string) string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if sc := rl.scopeByName(name); name == "openid" || (sc != nil && sc.inTokenScope) {
			out = append(out, name)
		}
	}
	if slices.Contains(strings.Fields(requested), "openid") {
		add("openid")
	}
	for _, name := range c.DefaultClientScopes {
		add(name)
	}
	for _, name := range strings.Fields(requested) {
		if slices.Contains(c.OptionalClientScopes, name) {
			add(name)
		}
	}
	return strings.Join(out, " ")
}

// scopeJSON is ClientScopeRepresentation on the wire.
type scopeJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Protocol   string            `json:"protocol,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// handleClientScopes mirrors GET /admin/realms/{realm}/client-scopes
// (ClientScopesResource.getClientScopes): every client scope of the realm.
func (s *Server) handleClientScopes(w http.ResponseWriter, _ *http.Request, rl *realm) {
	out := make([]scopeJSON, 0, len(rl.scopes))
	for _, sc := range rl.scopes {
		out = append(out, scopeJSON{ID: sc.id, Name: sc.name, Protocol: sc.protocol, Attributes: map[string]string{
			"include.in.token.scope": boolText(sc.inTokenScope),
		}})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleClientScopeLinks mirrors GET /admin/realms/{realm}/clients/{id}/default-client-scopes
// and …/optional-client-scopes (ClientResource.getDefaultClientScopes and
// getOptionalClientScopes): "Only name and ids are returned."
func (s *Server) handleClientScopeLinks(optional bool) func(http.ResponseWriter, *http.Request, *realm) {
	return func(w http.ResponseWriter, r *http.Request, rl *realm) {
		c := rl.clientByID(r.PathValue("id"))
		if c == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Could not find client"})
			return
		}
		names := c.DefaultClientScopes
		if optional {
			names = c.OptionalClientScopes
		}
		out := []scopeJSON{}
		for _, name := range names {
			if sc := rl.scopeByName(name); sc != nil {
				out = append(out, scopeJSON{ID: sc.id, Name: sc.name})
			}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// handleAddClientScopeLink mirrors PUT /admin/realms/{realm}/clients/{id}/default-client-scopes/{clientScopeId}
// and …/optional-client-scopes/{clientScopeId} (ClientResource.addDefaultClientScope): 404
// "Client scope not found" for an unknown scope id, else 204; a scope already linked to
// the client, as default or optional, stays as it was (JpaClientProvider.addClientScopes
// skips it).
func (s *Server) handleAddClientScopeLink(optional bool) func(http.ResponseWriter, *http.Request, *realm) {
	return func(w http.ResponseWriter, r *http.Request, rl *realm) {
		c := rl.clientByID(r.PathValue("id"))
		if c == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Could not find client"})
			return
		}
		sc := rl.scopeByID(r.PathValue("scope"))
		if sc == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Client scope not found"})
			return
		}
		if !slices.Contains(c.DefaultClientScopes, sc.name) && !slices.Contains(c.OptionalClientScopes, sc.name) {
			if optional {
				c.OptionalClientScopes = append(c.OptionalClientScopes, sc.name)
			} else {
				c.DefaultClientScopes = append(c.DefaultClientScopes, sc.name)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
