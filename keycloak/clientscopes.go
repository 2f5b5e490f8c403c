package keycloak

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// ClientScopeRepresentation is the part of Keycloak's ClientScopeRepresentation kete reads.
type ClientScopeRepresentation struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Protocol string `json:"protocol,omitempty"`
}

// ClientScopes lists the client scopes of realm (GET /admin/realms/{realm}/client-scopes,
// ClientScopesResource.getClientScopes).
func (a *Admin) ClientScopes(ctx context.Context, realm string) ([]ClientScopeRepresentation, error) {
	var out []ClientScopeRepresentation
	if _, err := a.do(ctx, http.MethodGet, realmPath(realm)+"/client-scopes", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("keycloak: client scopes of realm %q: %w", realm, err)
	}
	return out, nil
}

// ClientScopeLinks lists the client scopes linked to the client with internal id id, the
// optional ones or the default ones (GET /admin/realms/{realm}/clients/{id}/optional-client-scopes
// or …/default-client-scopes, ClientResource; Keycloak returns only id and name).
func (a *Admin) ClientScopeLinks(ctx context.Context, realm, id string, optional bool) ([]ClientScopeRepresentation, error) {
	var out []ClientScopeRepresentation
	if _, err := a.do(ctx, http.MethodGet, clientScopeLinkPath(realm, id, optional), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("keycloak: client scopes of client %s in realm %q: %w", id, realm, err)
	}
	return out, nil
}

// AddOptionalClientScope links the client scope scopeID to the client with internal id id
// as an optional scope, one the client gets in a token when it asks for it with the scope
// parameter (PUT /admin/realms/{realm}/clients/{id}/optional-client-scopes/{scopeId},
// ClientResource.addOptionalClientScope). Keycloak leaves a scope already linked as it is.
func (a *Admin) AddOptionalClientScope(ctx context.Context, realm, id, scopeID string) error {
	p := clientScopeLinkPath(realm, id, true) + "/" + url.PathEscape(scopeID)
	if _, err := a.do(ctx, http.MethodPut, p, nil, nil, nil); err != nil {
		return fmt.Errorf("keycloak: link client scope %s to client %s in realm %q: %w", scopeID, id, realm, err)
	}
	return nil
}

func clientScopeLinkPath(realm, id string, optional bool) string {
	kind := "/default-client-scopes"
	if optional {
		kind = "/optional-client-scopes"
	}
	return realmPath(realm) + "/clients/" + url.PathEscape(id) + kind
}
