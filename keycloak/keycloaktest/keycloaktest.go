// Package keycloaktest runs an in-process stand-in for the parts of Keycloak kete talks
// to, so that tests exercise real HTTP against Keycloak's documented shapes and status
// codes: the OpenID Connect token endpoint and JWKS of each realm, and the Admin REST
// endpoints for the realm list, clients, client secrets, client scopes and their links
// to clients, and stored user and admin events.
//
// Each handler names the Keycloak documentation it mirrors: the Admin REST API reference
// (https://www.keycloak.org/docs-api/latest/rest-api/index.html) and the OIDC endpoints of
// "Securing applications" (https://www.keycloak.org/securing-apps/oidc-layers). Where Keycloak's behaviour is
// richer (roles, protocol mappers, sessions) the stand-in keeps only what kete relies on, and
// says so.
//
// The stored-events endpoints copy Keycloak's own classes rather than its documentation,
// because the documentation is silent where pollers break (events.go cites each): ties in
// a new order on every request, events visible later than their time (BeginEvent), the
// API of a given version (WithVersion: days in the JVM's zone and no direction before
// 26.2; WithTimeZone) and events without an id (WithoutEventIDs).
package keycloaktest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
)

// Defaults for the master realm's admin principals.
const (
	DefaultAdminUsername     = "admin"
	DefaultAdminPassword     = "admin"
	DefaultAdminClientID     = "kete-admin"
	DefaultAdminClientSecret = "kete-admin-secret"
	// DefaultTokenLifetime is Keycloak's default access token lifespan (5 minutes).
	DefaultTokenLifetime = 5 * time.Minute
)

// Client is a client registered in a realm, as the stand-in stores it.
type Client struct {
	// ID is the internal id used in admin URLs; ClientID the OAuth client_id.
	ID                        string
	ClientID                  string
	Secret                    string
	Enabled                   bool
	PublicClient              bool
	BearerOnly                bool
	ServiceAccountsEnabled    bool
	StandardFlowEnabled       bool
	ImplicitFlowEnabled       bool
	DirectAccessGrantsEnabled bool
	ClientAuthenticatorType   string
	Protocol                  string
	Attributes                map[string]string
	// ServiceAccountUserID is the subject of client-credentials tokens.
	ServiceAccountUserID string
	// DefaultClientScopes and OptionalClientScopes name the client scopes linked to the
	// client (see scopes.go); nil means the realm's defaults, as for a new client.
	DefaultClientScopes, OptionalClientScopes []string
}

type user struct {
	id, username, password string
}

type realm struct {
	id, name    string
	clients     []*Client // in creation order
	users       []*user
	events      []kete.Event // user events, in insertion order
	adminEvents []kete.Event
	tokenCalls  int
	scopes      []*clientScope // client scopes, see scopes.go
}

type tokenFault struct {
	status int
	body   string
	left   int
}

// Server is a running stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, as one would configure Keycloak's.
	URL string

	srv      *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	lifetime time.Duration
	// events is how the events endpoints behave: the Keycloak version's API and the
	// database's order of ties.
	events eventsAPI

	mu       sync.Mutex
	realms   map[string]*realm
	faults   []tokenFault
	issued   map[string]time.Time // jti → issue time
	revoked  map[string]bool
	adminIDs map[string]bool // subjects allowed on the admin API
	// realmEvents are the realms' events settings (realmevents.go).
	realmEvents map[*realm]*realmEvents

	adminUser, adminPassword, adminClientID, adminSecret string
}

// Option configures New.
type Option func(*options)

type options struct {
	realms                     []string
	adminUser, adminPassword   string
	adminClientID, adminSecret string
	lifetime                   time.Duration
	events                     eventOptions
}

// WithRealm adds a realm (master always exists).
func WithRealm(name string) Option {
	return func(o *options) { o.realms = append(o.realms, name) }
}

// WithAdminUser sets the master realm's admin user (default admin/admin).
func WithAdminUser(username, password string) Option {
	return func(o *options) { o.adminUser, o.adminPassword = username, password }
}

// WithAdminClient sets the master realm's admin service-account client
// (default kete-admin/kete-admin-secret).
func WithAdminClient(clientID, secret string) Option {
	return func(o *options) { o.adminClientID, o.adminSecret = clientID, secret }
}

// WithTokenLifetime sets expires_in and exp of every token issued (default 5 minutes), so
// tests can watch tokens being refreshed. It is rounded down to whole seconds, at least 1.
func WithTokenLifetime(d time.Duration) Option {
	return func(o *options) { o.lifetime = d }
}

// New starts a stand-in on 127.0.0.1 that t's cleanup closes.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("keycloaktest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a stand-in on 127.0.0.1 outside a test (examples, demos); Close stops it.
func Start(opts ...Option) (*Server, error) {
	o := options{
		adminUser: DefaultAdminUsername, adminPassword: DefaultAdminPassword,
		adminClientID: DefaultAdminClientID, adminSecret: DefaultAdminClientSecret,
		lifetime: DefaultTokenLifetime,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.lifetime < time.Second {
		o.lifetime = time.Second
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the realm key: %w", err)
	}
	s := &Server{
		key: key, kid: randomHex(16), lifetime: o.lifetime.Truncate(time.Second),
		realms: map[string]*realm{}, issued: map[string]time.Time{},
		revoked: map[string]bool{}, adminIDs: map[string]bool{},
		adminUser: o.adminUser, adminPassword: o.adminPassword,
		adminClientID: o.adminClientID, adminSecret: o.adminSecret,
	}
	if s.events, err = newEventsAPI(o.events); err != nil {
		return nil, err
	}
	master := s.addRealm("master")
	admin := &user{id: newUUID(), username: o.adminUser, password: o.adminPassword}
	master.users = append(master.users, admin)
	s.adminIDs[admin.id] = true
	c := s.addClientLocked(master, Client{
		ClientID: o.adminClientID, Secret: o.adminSecret, Enabled: true,
		ServiceAccountsEnabled: true, ClientAuthenticatorType: "client-secret",
	})
	s.adminIDs[c.ServiceAccountUserID] = true
	for _, name := range o.realms {
		if s.realms[name] == nil {
			s.addRealm(name)
		}
	}

	// Start only once URL is known, so handlers read it without a race.
	s.srv = httptest.NewUnstartedServer(s.routes())
	s.URL = "http://" + s.srv.Listener.Addr().String()
	s.srv.Start()
	return s, nil
}

// Close stops the server and waits for requests in progress.
func (s *Server) Close() { s.srv.Close() }

// addRealm creates a realm with Keycloak's admin-cli public client.
func (s *Server) addRealm(name string) *realm {
	r := &realm{id: newUUID(), name: name}
	s.realms[name] = r
	r.addBuiltinScopes()
	s.addClientLocked(r, Client{
		ClientID: "admin-cli", PublicClient: true, Enabled: true,
		DirectAccessGrantsEnabled: true, ClientAuthenticatorType: "client-secret",
	})
	return r
}

func (s *Server) addClientLocked(r *realm, c Client) *Client {
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.Protocol == "" {
		c.Protocol = "openid-connect"
	}
	if c.ClientAuthenticatorType == "" {
		c.ClientAuthenticatorType = "client-secret"
	}
	if !c.PublicClient && c.Secret == "" {
		c.Secret = randomHex(16)
	}
	if c.ServiceAccountsEnabled && c.ServiceAccountUserID == "" {
		c.ServiceAccountUserID = newUUID()
	}
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	r.assignScopes(&c)
	r.clients = append(r.clients, &c)
	return &c
}

// AddClient registers c in realm as an administrator would, filling Keycloak's defaults
// (an id, a generated secret for a confidential client), and returns the stored client.
// A realm that does not exist is created.
func (s *Server) AddClient(realmName string, c Client) Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		r = s.addRealm(realmName)
	}
	return cloneClient(s.addClientLocked(r, c))
}

// Client returns the client of realm with OAuth client_id clientID.
func (s *Server) Client(realmName, clientID string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.realms[realmName]; r != nil {
		if c := r.client(clientID); c != nil {
			return cloneClient(c), true
		}
	}
	return Client{}, false
}

// Clients returns every client of realm, in creation order (admin-cli first).
func (s *Server) Clients(realmName string) []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		return nil
	}
	out := make([]Client, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, cloneClient(c))
	}
	return out
}

func cloneClient(c *Client) Client {
	out := *c
	out.Attributes = make(map[string]string, len(c.Attributes))
	for k, v := range c.Attributes {
		out.Attributes[k] = v
	}
	out.DefaultClientScopes = slices.Clone(c.DefaultClientScopes)
	out.OptionalClientScopes = slices.Clone(c.OptionalClientScopes)
	return out
}

func (r *realm) client(clientID string) *Client {
	for _, c := range r.clients {
		if c.ClientID == clientID {
			return c
		}
	}
	return nil
}

func (r *realm) clientByID(id string) *Client {
	for _, c := range r.clients {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// AddUser adds a user who can sign in with the password grant through admin-cli. Only
// the master realm's configured admin may use the Admin API.
func (s *Server) AddUser(realmName, username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		r = s.addRealm(realmName)
	}
	r.users = append(r.users, &user{id: newUUID(), username: username, password: password})
}

// RealmID is the id of realm, as events' realmId carries it; "" if there is none.
func (s *Server) RealmID(realmName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.realms[realmName]; r != nil {
		return r.id
	}
	return ""
}

// TokenRequests counts the requests to realm's token endpoint so far, failed ones included.
func (s *Server) TokenRequests(realmName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.realms[realmName]; r != nil {
		return r.tokenCalls
	}
	return 0
}

// FailTokenRequests makes the next n token requests, in any realm, answer status with
// body (sent as application/json when it is JSON, else as text/html like a proxy's page)
// instead of a token. Calls queue up: a second call's failures follow the first's.
func (s *Server) FailTokenRequests(status int, body string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 {
		s.faults = append(s.faults, tokenFault{status: status, body: body, left: n})
	}
}

// RevokeTokens makes every token issued so far invalid on the admin API, as a Keycloak
// restart with a new key or a not-before push would, so tests can see a 401 and a new
// sign-in.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti := range s.issued {
		s.revoked[jti] = true
	}
}

// AdminOptions is a keycloak.AdminOptions that signs in as the master realm's admin user
// through admin-cli with the password grant.
func (s *Server) AdminOptions() keycloak.AdminOptions {
	return keycloak.AdminOptions{URL: s.URL, Username: s.adminUser, Password: s.adminPassword}
}

// AdminClientOptions is a keycloak.AdminOptions that signs in with the master realm's admin
// service-account client (client credentials).
func (s *Server) AdminClientOptions() keycloak.AdminOptions {
	return keycloak.AdminOptions{URL: s.URL, ClientID: s.adminClientID, ClientSecret: s.adminSecret}
}

// TokenURL is realm's token endpoint.
func (s *Server) TokenURL(realmName string) string { return keycloak.TokenURL(s.URL, realmName) }

// Issuer is the iss claim of realm's tokens.
func (s *Server) Issuer(realmName string) string { return keycloak.IssuerURL(s.URL, realmName) }

// JWKSURL is where realm's token signing keys are published.
func (s *Server) JWKSURL(realmName string) string { return keycloak.JWKSURL(s.URL, realmName) }

// TokenLifetime is the lifetime of every token the stand-in issues.
func (s *Server) TokenLifetime() time.Duration { return s.lifetime }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /realms/{realm}/protocol/openid-connect/token", s.handleToken)
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/certs", s.handleCerts)
	mux.HandleFunc("GET /realms/{realm}/.well-known/openid-configuration", s.handleDiscovery)
	mux.HandleFunc("GET /admin/realms/{realm}/clients", s.admin(s.handleListClients))
	mux.HandleFunc("POST /admin/realms/{realm}/clients", s.admin(s.handleCreateClient))
	mux.HandleFunc("GET /admin/realms/{realm}/clients/{id}", s.admin(s.handleGetClient))
	mux.HandleFunc("GET /admin/realms/{realm}/clients/{id}/client-secret", s.admin(s.handleGetSecret))
	mux.HandleFunc("POST /admin/realms/{realm}/clients/{id}/client-secret", s.admin(s.handleRegenerateSecret))
	mux.HandleFunc("GET /admin/realms", s.handleRealms)
	mux.HandleFunc("GET /admin/realms/{realm}/client-scopes", s.admin(s.handleClientScopes))
	mux.HandleFunc("GET /admin/realms/{realm}/clients/{id}/default-client-scopes", s.admin(s.handleClientScopeLinks(false)))
	mux.HandleFunc("GET /admin/realms/{realm}/clients/{id}/optional-client-scopes", s.admin(s.handleClientScopeLinks(true)))
	mux.HandleFunc("PUT /admin/realms/{realm}/clients/{id}/default-client-scopes/{scope}", s.admin(s.handleAddClientScopeLink(false)))
	mux.HandleFunc("PUT /admin/realms/{realm}/clients/{id}/optional-client-scopes/{scope}", s.admin(s.handleAddClientScopeLink(true)))
	mux.HandleFunc("GET /admin/realms/{realm}/events", s.admin(s.handleEvents))
	mux.HandleFunc("GET /admin/realms/{realm}/admin-events", s.admin(s.handleAdminEvents))
	mux.HandleFunc("GET /admin/realms/{realm}/events/config", s.admin(s.handleGetEventsConfig))
	mux.HandleFunc("PUT /admin/realms/{realm}/events/config", s.admin(s.handlePutEventsConfig))
	return mux
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
