// Package keycloak speaks to Keycloak: a client for the parts of the Admin REST API kete
// needs (clients and their secrets, stored user and admin events) and the decoding of the
// event payloads Keycloak and its webhook extensions send (native representations, p2-inc
// keycloak-events, vymalo keycloak-webhook) into kete.Event.
//
// The Admin REST API is documented at https://www.keycloak.org/docs-api/latest/rest-api/.
package keycloak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kete-dev/kete/internal/redact"
)

// AdminOptions says where Keycloak is and how kete signs in to its Admin REST API.
//
// With Username set, kete uses the password grant (client_id admin-cli unless ClientID is
// set); otherwise the client credentials grant with ClientID and ClientSecret, which needs a
// client with a service account holding the realm-management roles kete uses
// (view-events, manage-clients).
type AdminOptions struct {
	// URL is Keycloak's base URL, e.g. https://sso.example.com (include /auth for
	// Keycloak versions before 17).
	URL string
	// Realm is the realm the admin signs in to; blank means master.
	Realm        string
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	// HTTPClient carries TLS settings for Keycloak; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Admin is a client for Keycloak's Admin REST API. It signs in on first use, keeps the
// admin access token until shortly before it expires, and signs in again once when
// Keycloak answers 401. It is safe for concurrent use.
type Admin struct {
	opts    AdminOptions
	base    string
	display string // base for errors and logs: a password in it masked
	client  *http.Client
	now     func() time.Time

	// sem is a one-slot lock around signing in that a waiting caller can give up on.
	sem   chan struct{}
	mu    sync.Mutex // guards token and until
	token string
	until time.Time
}

// passwordGrantClient is the public client every Keycloak realm has for admin sign-in.
const passwordGrantClient = "admin-cli"

// maxResponseBytes bounds what kete reads from Keycloak in one response.
const maxResponseBytes = 32 << 20

// withDefaults returns o with a blank Realm as master and a nil HTTPClient as one with a
// 30 s timeout.
func (o AdminOptions) withDefaults() AdminOptions {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Realm == "" {
		o.Realm = "master"
	}
	return o
}

// NewAdmin returns a client for opts. It does not contact Keycloak: the first call signs
// in, and a bad configuration is reported by that call.
func NewAdmin(opts AdminOptions) *Admin {
	opts = opts.withDefaults()
	return &Admin{
		opts:    opts,
		base:    strings.TrimRight(opts.URL, "/"),
		display: redact.URL(strings.TrimRight(opts.URL, "/")),
		client:  opts.HTTPClient,
		now:     time.Now,
		sem:     make(chan struct{}, 1),
	}
}

// URL is the Keycloak base URL the client talks to, without a trailing slash.
func (a *Admin) URL() string { return a.base }

// HTTPClient is the client used for Keycloak, so that token sources built on the same
// Keycloak (oauth's internal mode) can reuse its TLS settings.
func (a *Admin) HTTPClient() *http.Client { return a.client }

// TokenURL is the OpenID Connect token endpoint of realm on the Keycloak at baseURL.
func TokenURL(baseURL, realm string) string {
	return strings.TrimRight(baseURL, "/") + "/realms/" + url.PathEscape(realm) + "/protocol/openid-connect/token"
}

// IssuerURL is the "iss" claim Keycloak puts in the tokens of realm at baseURL.
func IssuerURL(baseURL, realm string) string {
	return strings.TrimRight(baseURL, "/") + "/realms/" + url.PathEscape(realm)
}

// JWKSURL is where realm at baseURL publishes the keys that verify its tokens.
func JWKSURL(baseURL, realm string) string {
	return IssuerURL(baseURL, realm) + "/protocol/openid-connect/certs"
}

// adminToken returns a cached admin access token, or signs in. When stale is not empty,
// a cached token equal to it is thrown away first (Keycloak refused it).
func (a *Admin) adminToken(ctx context.Context, stale string) (string, error) {
	if t := a.cached(stale); t != "" {
		return t, nil
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("admin sign-in to %s: %w", a.display, ctx.Err())
	}
	defer func() { <-a.sem }()
	// Another caller may have signed in while this one waited.
	if t := a.cached(stale); t != "" {
		return t, nil
	}
	tok, lifetime, err := a.signIn(ctx)
	if err != nil {
		return "", err
	}
	// Keep the token until shortly before it expires: 10 s early, or half its lifetime
	// when that is shorter, so a short-lived token is still reused.
	margin := min(10*time.Second, lifetime/2)
	a.mu.Lock()
	a.token, a.until = tok, a.now().Add(lifetime-margin)
	a.mu.Unlock()
	return tok, nil
}

func (a *Admin) cached(stale string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.token == stale {
		a.token = ""
	}
	if a.token != "" && a.now().Before(a.until) {
		return a.token
	}
	return ""
}

// tokenResponse is the part of an OAuth 2.0 token response (RFC 6749 §5.1) kete reads.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

func (a *Admin) signIn(ctx context.Context) (string, time.Duration, error) {
	tokenURL := TokenURL(a.base, a.opts.Realm)
	form := url.Values{}
	switch {
	case a.opts.Username != "":
		clientID := a.opts.ClientID
		if clientID == "" {
			clientID = passwordGrantClient
		}
		form.Set("grant_type", "password")
		form.Set("client_id", clientID)
		if a.opts.ClientSecret != "" {
			form.Set("client_secret", a.opts.ClientSecret)
		}
		form.Set("username", a.opts.Username)
		form.Set("password", a.opts.Password)
	case a.opts.ClientID != "" && a.opts.ClientSecret != "":
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", a.opts.ClientID)
		form.Set("client_secret", a.opts.ClientSecret)
	default:
		return "", 0, fmt.Errorf("admin sign-in to %s: set client-id and client-secret, or username and password", a.display)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("admin sign-in to %s: %w", a.display, redact.Error(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("admin sign-in to %s: %w", a.display, redact.Error(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return "", 0, fmt.Errorf("admin sign-in at %s: reading the response: %w", redact.URL(tokenURL), err)
	}
	if resp.StatusCode/100 != 2 {
		return "", 0, fmt.Errorf("admin sign-in to %s: %w", a.display, newAPIError(http.MethodPost, req.URL, resp.StatusCode, body))
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, fmt.Errorf("admin sign-in at %s: the token response is not JSON: %w", redact.URL(tokenURL), err)
	}
	if tr.AccessToken == "" {
		return "", 0, fmt.Errorf("admin sign-in at %s: the token response has no access_token", redact.URL(tokenURL))
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = time.Minute // Keycloak's master realm default when the response omits it
	}
	return tr.AccessToken, lifetime, nil
}

// do sends an admin request with the admin token and decodes a 2xx JSON answer into out
// (when out is not nil). On 401 it signs in again and retries once.
func (a *Admin) do(ctx context.Context, method, path string, query url.Values, in, out any) (*http.Response, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encoding the request: %w", method, path, err)
		}
		body = b
	}
	u, err := url.Parse(a.base + path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redact.URL(a.base+path), redact.Error(err))
	}
	u.RawQuery = query.Encode()

	var stale string
	for attempt := 0; ; attempt++ {
		tok, err := a.adminToken(ctx, stale)
		if err != nil {
			return nil, err
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := a.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s %s: reading the response: %w", method, u.Path, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			stale = tok
			continue
		}
		if resp.StatusCode/100 != 2 {
			return resp, newAPIError(method, u, resp.StatusCode, data)
		}
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return resp, fmt.Errorf("%s %s: decoding the response: %w", method, u.Path, err)
			}
		}
		return resp, nil
	}
}

// ErrConflict matches (errors.Is) an APIError with status 409, e.g. a client that exists.
var ErrConflict = errors.New("keycloak: conflict")

// ErrNotFound matches (errors.Is) an APIError with status 404, e.g. an unknown realm.
var ErrNotFound = errors.New("keycloak: not found")

// APIError is a non-2xx answer from Keycloak, with Keycloak's own explanation.
type APIError struct {
	Method string
	// Path is the request's URL path (no query: it may carry user names).
	Path       string
	StatusCode int
	// Code and Description are an OAuth-style {"error","error_description"} body.
	Code        string
	Description string
	// Message is an admin API {"errorMessage"} body.
	Message string
	// Body is the raw body when it was neither, cut to 512 bytes.
	Body string
}

func newAPIError(method string, u *url.URL, status int, body []byte) *APIError {
	e := &APIError{Method: method, Path: u.Path, StatusCode: status}
	var kc struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorMessage     string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &kc) == nil && (kc.Error != "" || kc.ErrorMessage != "") {
		e.Code, e.Description, e.Message = kc.Error, kc.ErrorDescription, kc.ErrorMessage
		return e
	}
	b := strings.TrimSpace(string(body))
	if len(b) > 512 {
		b = b[:512] + "…"
	}
	e.Body = b
	return e
}

// Error reads like "POST /admin/realms/acme/clients: 409 Conflict: Client x already exists".
func (e *APIError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.Message != "":
		sb.WriteString(": " + e.Message)
	case e.Code != "":
		sb.WriteString(": " + e.Code)
		if e.Description != "" {
			sb.WriteString(" (" + e.Description + ")")
		}
	case e.Body != "":
		sb.WriteString(": " + e.Body)
	}
	return sb.String()
}

// Is lets errors.Is(err, ErrConflict) and errors.Is(err, ErrNotFound) test the status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

func realmPath(realm string) string { return "/admin/realms/" + url.PathEscape(realm) }
