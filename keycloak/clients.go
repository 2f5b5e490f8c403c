package keycloak

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// ClientRepresentation is the part of Keycloak's ClientRepresentation kete reads and
// writes. Booleans are pointers because Keycloak fills in its own default for an absent
// field (standardFlowEnabled defaults to true), so "false" has to be sent explicitly.
type ClientRepresentation struct {
	// ID is Keycloak's internal id (a UUID) used in admin URLs; ClientID is the OAuth client_id.
	ID                        string            `json:"id,omitempty"`
	ClientID                  string            `json:"clientId,omitempty"`
	Name                      string            `json:"name,omitempty"`
	Description               string            `json:"description,omitempty"`
	Enabled                   *bool             `json:"enabled,omitempty"`
	Protocol                  string            `json:"protocol,omitempty"`
	ClientAuthenticatorType   string            `json:"clientAuthenticatorType,omitempty"`
	Secret                    string            `json:"secret,omitempty"`
	PublicClient              *bool             `json:"publicClient,omitempty"`
	BearerOnly                *bool             `json:"bearerOnly,omitempty"`
	ServiceAccountsEnabled    *bool             `json:"serviceAccountsEnabled,omitempty"`
	StandardFlowEnabled       *bool             `json:"standardFlowEnabled,omitempty"`
	ImplicitFlowEnabled       *bool             `json:"implicitFlowEnabled,omitempty"`
	DirectAccessGrantsEnabled *bool             `json:"directAccessGrantsEnabled,omitempty"`
	RedirectURIs              []string          `json:"redirectUris,omitempty"`
	WebOrigins                []string          `json:"webOrigins,omitempty"`
	Attributes                map[string]string `json:"attributes,omitempty"`
}

// Bool returns a pointer to v, for ClientRepresentation's optional booleans.
func Bool(v bool) *bool { return &v }

// CredentialRepresentation is what the client-secret endpoints answer.
type CredentialRepresentation struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// FindClient looks a client up by its OAuth client_id (GET /admin/realms/{realm}/clients?clientId=…).
// It returns nil and no error when the realm has no such client.
func (a *Admin) FindClient(ctx context.Context, realm, clientID string) (*ClientRepresentation, error) {
	if clientID == "" {
		return nil, fmt.Errorf("keycloak: find client in realm %q: empty client id", realm)
	}
	var found []ClientRepresentation
	q := url.Values{"clientId": {clientID}}
	if _, err := a.do(ctx, http.MethodGet, realmPath(realm)+"/clients", q, nil, &found); err != nil {
		return nil, fmt.Errorf("keycloak: find client %q in realm %q: %w", clientID, realm, err)
	}
	// The clientId filter is exact unless search=true; check anyway, Keycloak versions differ.
	for i := range found {
		if found[i].ClientID == clientID {
			return &found[i], nil
		}
	}
	return nil, nil
}

// CreateClient registers c in realm (POST /admin/realms/{realm}/clients) and returns the
// new client's internal id, read from the Location header Keycloak answers 201 with. A
// client whose clientId exists already fails with an error matching ErrConflict.
func (a *Admin) CreateClient(ctx context.Context, realm string, c ClientRepresentation) (string, error) {
	if c.ClientID == "" {
		return "", fmt.Errorf("keycloak: create client in realm %q: empty clientId", realm)
	}
	resp, err := a.do(ctx, http.MethodPost, realmPath(realm)+"/clients", nil, c, nil)
	if err != nil {
		return "", fmt.Errorf("keycloak: create client %q in realm %q: %w", c.ClientID, realm, err)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("keycloak: create client %q in realm %q: answer %d has no Location header", c.ClientID, realm, resp.StatusCode)
	}
	lu, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("keycloak: create client %q in realm %q: Location %q: %w", c.ClientID, realm, loc, err)
	}
	id := path.Base(strings.TrimRight(lu.Path, "/"))
	if id == "" || id == "." || id == "/" || id == "clients" {
		return "", fmt.Errorf("keycloak: create client %q in realm %q: Location %q names no client id", c.ClientID, realm, loc)
	}
	return id, nil
}

// ClientSecret reads the secret of the client with internal id id
// (GET /admin/realms/{realm}/clients/{id}/client-secret).
func (a *Admin) ClientSecret(ctx context.Context, realm, id string) (string, error) {
	return a.secret(ctx, http.MethodGet, realm, id)
}

// RegenerateClientSecret makes Keycloak issue a new secret for the client with internal
// id id and returns it (POST /admin/realms/{realm}/clients/{id}/client-secret).
func (a *Admin) RegenerateClientSecret(ctx context.Context, realm, id string) (string, error) {
	return a.secret(ctx, http.MethodPost, realm, id)
}

func (a *Admin) secret(ctx context.Context, method, realm, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("keycloak: client secret in realm %q: empty client id", realm)
	}
	var cred CredentialRepresentation
	p := realmPath(realm) + "/clients/" + url.PathEscape(id) + "/client-secret"
	if _, err := a.do(ctx, method, p, nil, nil, &cred); err != nil {
		return "", fmt.Errorf("keycloak: client secret of %s in realm %q: %w", id, realm, err)
	}
	if cred.Value == "" {
		return "", fmt.Errorf("keycloak: client secret of %s in realm %q: %s %s: the client has no secret (a public client?)", id, realm, method, p)
	}
	return cred.Value, nil
}
