package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kete-dev/kete/keycloak"
)

// DefaultInternalClientID is the client internal mode registers, as KETE names it.
const DefaultInternalClientID = "kete-oauth-client"

// Internal configures internal mode: the attached Keycloak is the token server, and kete
// registers (or reuses) a confidential client with a service account in Realm.
type Internal struct {
	// KeycloakURL is the base URL tokens are requested from; blank means the admin
	// client's URL. Set it when the destination must reach Keycloak by another address.
	KeycloakURL string
	// TokenURL, when set, is the token endpoint itself, over the one derived from
	// KeycloakURL and Realm, as KETE's oauth.token-url overrides its derived URL in
	// internal mode (OAuthMaterial.configureInternalMode, FortuneN/kete).
	TokenURL string
	// Realm holds the client and issues the tokens; required.
	Realm string
	// ClientID defaults to kete-oauth-client.
	ClientID string
	// ClientSecret, when set, is the secret a new client is created with and the one
	// used for tokens; blank lets Keycloak generate one and reads it back.
	ClientSecret string
	Scopes       []string
	// HTTPClient is used for the token endpoint; nil means the admin client's.
	HTTPClient *http.Client
	// EarlyExpiry and Timeout are as in External.
	EarlyExpiry, Timeout time.Duration
}

// NewInternal finds the client cfg.ClientID in cfg.Realm through admin, creates it when
// absent (confidential, service accounts on, standard flow and direct access grants off,
// authenticator client-secret), reads its secret unless cfg.ClientSecret overrides it,
// links each of cfg.Scopes to it as an optional client scope unless it is linked already
// (Keycloak's token endpoint answers 400 invalid_scope for a requested scope that is not
// one of the client's default or optional scopes, TokenManager.isValidScope), and returns
// a client-credentials Source on the realm's token endpoint. A scope the realm does not
// have is an error that names it and the realm. An existing client that is public or has
// no service account is reported, not changed.
func NewInternal(ctx context.Context, admin *keycloak.Admin, cfg Internal) (*Source, error) {
	if admin == nil {
		return nil, errors.New("oauth: internal mode needs a Keycloak admin client")
	}
	if strings.TrimSpace(cfg.Realm) == "" {
		return nil, errors.New("oauth: internal mode needs a realm")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultInternalClientID
	}
	c, err := admin.FindClient(ctx, cfg.Realm, cfg.ClientID)
	if err != nil {
		return nil, fmt.Errorf("oauth: internal mode: %w", err)
	}
	var id string
	if c == nil {
		id, err = admin.CreateClient(ctx, cfg.Realm, internalClient(cfg))
		if errors.Is(err, keycloak.ErrConflict) {
			// Another kete registered it between our look-up and create: use theirs.
			c, err = admin.FindClient(ctx, cfg.Realm, cfg.ClientID)
			if err == nil && c == nil {
				err = fmt.Errorf("keycloak: client %q in realm %q conflicts but cannot be found", cfg.ClientID, cfg.Realm)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("oauth: internal mode: %w", err)
		}
	}
	if c != nil {
		if err := suitable(c, cfg.Realm); err != nil {
			return nil, err
		}
		id = c.ID
	}
	if err := linkScopes(ctx, admin, cfg.Realm, cfg.ClientID, id, cfg.Scopes); err != nil {
		return nil, err
	}
	secret := cfg.ClientSecret
	if secret == "" {
		secret, err = admin.ClientSecret(ctx, cfg.Realm, id)
		if err != nil {
			return nil, fmt.Errorf("oauth: internal mode: %w", err)
		}
	}
	base := cfg.KeycloakURL
	if base == "" {
		base = admin.URL()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = admin.HTTPClient()
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = keycloak.TokenURL(base, cfg.Realm)
	}
	return NewExternal(External{
		TokenURL: tokenURL, ClientID: cfg.ClientID, ClientSecret: secret,
		Scopes: cfg.Scopes, HTTPClient: hc, EarlyExpiry: cfg.EarlyExpiry, Timeout: cfg.Timeout,
	})
}

// internalClient is the client KETE registers: confidential, service account only.
func internalClient(cfg Internal) keycloak.ClientRepresentation {
	return keycloak.ClientRepresentation{
		ClientID:                  cfg.ClientID,
		Name:                      "kete OAuth client",
		Description:               "Registered by kete for OAuth 2.0 client credentials to event destinations",
		Enabled:                   keycloak.Bool(true),
		Protocol:                  "openid-connect",
		ClientAuthenticatorType:   "client-secret",
		Secret:                    cfg.ClientSecret,
		PublicClient:              keycloak.Bool(false),
		BearerOnly:                keycloak.Bool(false),
		ServiceAccountsEnabled:    keycloak.Bool(true),
		StandardFlowEnabled:       keycloak.Bool(false),
		ImplicitFlowEnabled:       keycloak.Bool(false),
		DirectAccessGrantsEnabled: keycloak.Bool(false),
	}
}

func suitable(c *keycloak.ClientRepresentation, realm string) error {
	if c.PublicClient != nil && *c.PublicClient {
		return fmt.Errorf("oauth: internal mode: client %q in realm %q is public; it must be confidential with a service account", c.ClientID, realm)
	}
	if c.ServiceAccountsEnabled != nil && !*c.ServiceAccountsEnabled {
		return fmt.Errorf("oauth: internal mode: client %q in realm %q has service accounts off; turn them on or choose another client-id", c.ClientID, realm)
	}
	if c.Enabled != nil && !*c.Enabled {
		return fmt.Errorf("oauth: internal mode: client %q in realm %q is disabled", c.ClientID, realm)
	}
	if c.ID == "" {
		return fmt.Errorf("oauth: internal mode: client %q in realm %q came back without an id", c.ClientID, realm)
	}
	return nil
}

// linkScopes makes every requested scope one the client may ask for: a scope already
// linked (default or optional) is left alone, the others are found by name among the
// realm's client scopes and linked as optional. openid needs no client scope.
func linkScopes(ctx context.Context, admin *keycloak.Admin, realm, clientID, id string, scopes []string) error {
	var wanted []string
	for _, sc := range scopes {
		for _, name := range strings.Fields(sc) {
			if name != "openid" && !slices.Contains(wanted, name) {
				wanted = append(wanted, name)
			}
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	linked := map[string]bool{}
	for _, optional := range []bool{false, true} {
		list, err := admin.ClientScopeLinks(ctx, realm, id, optional)
		if err != nil {
			return fmt.Errorf("oauth: internal mode: %w", err)
		}
		for _, sc := range list {
			linked[sc.Name] = true
		}
	}
	var all []keycloak.ClientScopeRepresentation
	for _, name := range wanted {
		if linked[name] {
			continue
		}
		if all == nil {
			var err error
			if all, err = admin.ClientScopes(ctx, realm); err != nil {
				return fmt.Errorf("oauth: internal mode: %w", err)
			}
		}
		i := slices.IndexFunc(all, func(sc keycloak.ClientScopeRepresentation) bool { return sc.Name == name })
		if i < 0 {
			return fmt.Errorf("oauth: internal mode: scope %q: realm %q has no client scope of that name; create it (Client scopes → Create client scope) or remove it from oauth.scope", name, realm)
		}
		if err := admin.AddOptionalClientScope(ctx, realm, id, all[i].ID); err != nil {
			return fmt.Errorf("oauth: internal mode: scope %q for client %q: %w", name, clientID, err)
		}
	}
	return nil
}
