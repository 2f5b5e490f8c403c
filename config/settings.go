package config

import (
	"crypto/tls"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/template"
	"github.com/kete-dev/kete/tlsconfig"
)

// Config is everything one configuration file and the KETE_ environment say, validated.
// Its fields are plain values so that `kete check` can print them and tests compare them;
// Router turns the routes into a working *kete.Router.
type Config struct {
	// Enabled is kete.enabled (default true), false also when KETE's legacy unprefixed
	// enabled is false; false makes Router build no routes.
	Enabled bool
	// MetricsEnabled is kete.metrics.enabled: whether the daemon serves GET /metrics.
	// kete's default is true (KETE's is false: KETE adds an endpoint to Keycloak, kete's
	// daemon has its own port); false turns the endpoint off, KETE's meaning.
	MetricsEnabled bool
	// Routes are the kete.routes.<name>.* sections, sorted by name, disabled ones included.
	Routes []RouteSettings
	// Keycloak is kete.keycloak.*: the attached Keycloak, for internal OAuth and the poller.
	Keycloak KeycloakSettings
	// Server is kete.server.*: the bundled pub/sub server.
	Server ServerSettings
	// Sources is kete.sources.*: where the daemon takes events in.
	Sources SourcesSettings
	// Spool is kete.spool.*: the daemon's durable queue.
	Spool SpoolSettings
	// Warnings are settings that were read but have no effect (an OAuth client id on a
	// route whose OAuth is off, a KETE key kete does not use); `kete check` prints them.
	Warnings []Problem

	// legacyDisabled is KETE's unprefixed enabled=false.
	legacyDisabled bool

	// explicit holds every key that was given a non-blank value, with where it came from.
	explicit map[string]string
}

// Explicit reports whether key (e.g. "kete.routes.ws.retry.max-attempts") was given a
// value in the file or the environment rather than left to its default; the daemon uses it
// where "unset" means something of its own.
func (c *Config) Explicit(key string) bool {
	_, ok := c.explicit[key]
	return ok
}

// Route returns the route named name, or nil.
func (c *Config) Route(name string) *RouteSettings {
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return &c.Routes[i]
		}
	}
	return nil
}

// RouteSettings is one kete.routes.<name> section.
type RouteSettings struct {
	// Name is the <name> in kete.routes.<name>: letters, digits, '-' and '_'.
	Name string
	// Enabled is enabled (default true). A route kete does not run (enabled=false, or a
	// KETE destination.kind other than websocket) has Enabled false and Skipped saying
	// why; its other keys are not read.
	Enabled bool
	// Skipped says why a route is not run ("enabled=false", "destination.kind=kafka: …").
	Skipped string
	// RealmMatchers are realm-matchers.<name>, sorted by name; none accept every realm.
	RealmMatchers []MatcherSettings
	// RealmMatchMode is realm-match-mode: any (default) or all.
	RealmMatchMode kete.MatchMode
	// EventMatchers are event-matchers.<name>, sorted by name; none accept every event.
	EventMatchers []MatcherSettings
	// EventMatchMode is event-match-mode: any (default) or all.
	EventMatchMode kete.MatchMode
	// Serializer is serializer.*.
	Serializer SerializerSettings
	// Retry is retry.*: enabled (true), max-attempts (3, counting the first), wait-duration
	// (500ms), max-wait (30s).
	Retry kete.Retry
	// Destination is destination.*.
	Destination DestinationSettings

	serializer kete.Serializer
}

// MatcherSettings is one realm or event matcher: its free-text name and its spec.
type MatcherSettings struct {
	Name    string
	Spec    string
	Matcher kete.Matcher
}

// SerializerSettings is serializer.*: kind (json) and the keys of the kinds that take
// any (see serializer.Options, which each field fills).
type SerializerSettings struct {
	Kind     SerializerKind
	Template string // serializer.template: kete's Go text/template form of kind template
	// KETE's template kind: template-file-text, -base64, -path, content-type, variable-escape.
	TemplateFileText, TemplateFileBase64, TemplateFilePath string
	ContentType, VariableEscape                            string
	// NestingNotation is nesting-notation, for multipart-form and url-encoded-form.
	NestingNotation string
}

// Options are s as serializer.Build takes them.
func (s SerializerSettings) Options() serializer.Options {
	return serializer.Options{
		Kind: string(s.Kind), Template: s.Template,
		TemplateFileText: s.TemplateFileText, TemplateFileBase64: s.TemplateFileBase64, TemplateFilePath: s.TemplateFilePath,
		ContentType: s.ContentType, VariableEscape: s.VariableEscape, NestingNotation: s.NestingNotation,
	}
}

// DestinationSettings is a route's destination.*.
type DestinationSettings struct {
	// Kind is destination.kind; websocket (the default) is the only kind kete runs.
	Kind DestinationKind
	// URL is the URL template every event is sent to: destination.url as given, or built
	// from host, port and path.
	URL string
	// Host, Port and Path are destination.host, .port (80, or 443 with TLS) and .path (/),
	// used only when there is no destination.url.
	Host string
	Port int
	Path string
	// BinaryMode is destination.binary-mode: binary frames instead of text (false).
	BinaryMode bool
	// Subprotocols is destination.subprotocol, comma-separated.
	Subprotocols []string
	// ConnectTimeout is destination.connection-timeout-seconds (10, > 0).
	ConnectTimeout time.Duration
	// ConnectionLostTimeout is destination.connection-lost-timeout-seconds (60; 0 turns the
	// ping/pong heartbeat off).
	ConnectionLostTimeout time.Duration
	// Pool is destination.pool.*.
	Pool PoolSettings
	// Headers are destination.headers.<NAME>, names as written; blank values are dropped.
	Headers map[string]string
	// OAuth is destination.oauth.*.
	OAuth OAuthSettings
	// TLS is destination.tls.*; TLS.Enabled is also true for a wss:// URL.
	TLS TLSSettings

	url       *template.Template
	tlsConfig *tls.Config
}

// PoolSettings is destination.pool.*: connections kept per rendered URL. The keys and
// defaults are KETE's (Commons Pool 2 settings; FortuneN/kete DestinationConfig.java);
// pool.go reads them.
type PoolSettings struct {
	MinIdle  int // min-idle (1)
	MaxIdle  int // max-idle (10)
	MaxTotal int // max-total (20)
	// MaxWait is max-wait-seconds (30): how long a send waits for a free connection;
	// negative (-1): as long as the send may take; 0: not at all.
	MaxWait time.Duration

	BlockWhenExhausted bool // block-when-exhausted (true): false fails a send at once
	Lifo               bool // lifo (true): reuse the connection returned last
	Fairness           bool // fairness (false): waiting sends are always served in order
	TestOnCreate       bool // test-on-create (true)
	TestOnBorrow       bool // test-on-borrow (true)
	TestOnReturn       bool // test-on-return (true)
	TestWhileIdle      bool // test-while-idle (true)
	// NumTestsPerEvictionRun is num-tests-per-eviction-run (3); -n: a 1/n share.
	NumTestsPerEvictionRun int
	// TimeBetweenEvictionRuns is time-between-eviction-runs-seconds (60; ≤ 0: no runs).
	TimeBetweenEvictionRuns time.Duration
	// MinEvictableIdle is min-evictable-idle-time-seconds (-1: off).
	MinEvictableIdle time.Duration
	// SoftMinEvictableIdle is soft-min-evictable-idle-time-seconds (1800; ≤ 0: off).
	SoftMinEvictableIdle time.Duration
}

// OAuthSettings is destination.oauth.*.
type OAuthSettings struct {
	Enabled      bool      // enabled (false)
	Mode         OAuthMode // mode: external (default) or internal
	TokenURL     string    // token-url: required for external
	ClientID     string    // client-id: required for external; internal default kete-oauth-client
	ClientSecret string    // client-secret: required for external; internal default: Keycloak's
	Scope        string    // scope: space-separated
	// Realm is the realm internal mode registers its client in: oauth.realm, else the one
	// realm the route's realm matchers name, else kete.keycloak.realm (see the package doc).
	Realm string
	// Timeout is timeout-seconds: the bound on each token request; 0 means the oauth
	// package's default (30s).
	Timeout time.Duration
}

// TLSSettings is destination.tls.* (and kete.server.tls.*).
type TLSSettings struct {
	Enabled bool
	// VerifyHostname is verify-hostname, default true (KETE's default is false: kete
	// checks the server's name unless told not to).
	VerifyHostname bool
	TrustStore     StoreSettings // trust-store.*: CAs to trust; none = the system roots
	KeyStore       StoreSettings // key-store.*: the client certificate for mTLS
	// ClientAuth is kete.server.tls.client-auth: none, request or require-and-verify
	// (default: require-and-verify with a trust store, else none); only for the server.
	ClientAuth tlsconfig.ClientAuth
	// Version is a route's destination.tls.version as KETE reads it, the protocol its
	// SSLContext is made for: TLS (default: 1.2 and 1.3), TLSv1.2 (at most 1.2) or
	// TLSv1.3 (1.3 and 1.2, as Java's TLSv1.3 context enables both).
	Version string
}

// StoreSettings is a trust-store or key-store: where its material is and its passwords.
type StoreSettings struct {
	Loader      LoaderSettings
	Password    string
	KeyPassword string // key-store only
}

// Given reports whether the store was configured at all.
func (s StoreSettings) Given() bool {
	return s.Loader != (LoaderSettings{}) || s.Password != "" || s.KeyPassword != ""
}

// LoaderSettings is loader.kind with its one source: path, base64 or text.
type LoaderSettings struct {
	Kind               tlsconfig.LoaderKind
	Path, Base64, Text string
}

// KeycloakSettings is kete.keycloak.*: the Keycloak kete talks to for internal OAuth and
// for polling events. Admin credentials are client-id + client-secret (client
// credentials), or username + password (password grant with admin-cli, or client-id when
// given).
type KeycloakSettings struct {
	URL          string // url: e.g. http://localhost:8080, no trailing slash
	Realm        string // realm (master): where the admin credentials live
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
}

// ServerSettings is kete.server.*: the bundled pub/sub server.
type ServerSettings struct {
	// Enabled is kete.server.enabled (false): whether `kete run` embeds the server;
	// `kete server` always runs it.
	Enabled bool
	// Listen is kete.server.listen (":8080").
	Listen string
	// TLS is kete.server.tls.*: enabled, key-store.* (the server certificate),
	// trust-store.* (CAs for client certificates) and client-auth.
	TLS TLSSettings
	// Broker is kete.server.broker: the memory broker (default) or a nats:// URL.
	Broker Broker
	// AppsFile is kete.server.apps-file: a JSON or YAML list of apps.
	AppsFile string
	// NATS is kete.server.nats.*: how to reach NATS when Broker is a nats:// URL.
	NATS NATSSettings
	// ReturnMemoryAfter is memory.return-after (1000): how many new connections make the
	// server hand freed memory back to the OS once they settle; -1: never.
	ReturnMemoryAfter int
	// ReturnMemoryInterval is memory.return-interval (10s): the least time between two.
	ReturnMemoryInterval time.Duration
	// HTTP is kete.server.http.*: the listener's deadlines and per-address cap.
	HTTP HTTPListenerSettings
}

// HTTPListenerSettings are the <listener>.http.* keys that keep slow and greedy clients
// from holding a listener (kete.server.http.*, kete.sources.webhook.http.*). A zero field
// takes the default in its comment; a negative one turns that bound off.
type HTTPListenerSettings struct {
	ReadHeaderTimeout  time.Duration // read-header-timeout (10s): request line and headers
	ReadTimeout        time.Duration // read-timeout (30s): the whole request, body included
	WriteTimeout       time.Duration // write-timeout (60s): the response
	IdleTimeout        time.Duration // idle-timeout (60s): a keep-alive connection between requests
	MaxConnsPerAddress int           // max-connections-per-address (256): open connections of one source IP
}

// NATSSettings is kete.server.nats.*: credentials, TLS and history for the NATS broker
// that lets several server nodes act as one.
type NATSSettings struct {
	CredentialsFile string // credentials-file: a NATS .creds file
	NKeySeedFile    string // nkey-seed-file
	User, Password  string // user, password
	Token           string // token
	SubjectPrefix   string // subject-prefix ("kete")
	// HeartbeatInterval is heartbeat-interval (2s): how often a node tells the others it
	// is alive, with its counts; a node silent for three of them is forgotten.
	HeartbeatInterval time.Duration
	// TLS is kete.server.nats.tls.*: enabled, verify-hostname (true), trust-store.*,
	// key-store.* (a client certificate for NATS servers that want one).
	TLS TLSSettings
	// History is kete.server.nats.history.*: keep topic history in JetStream, so that a
	// subscriber that reconnects to another node recovers what it missed.
	History NATSHistorySettings
}

// NATSHistorySettings is kete.server.nats.history.*.
type NATSHistorySettings struct {
	Enabled         bool          // enabled (false)
	Stream          string        // stream ("KETE")
	Storage         string        // storage: file (default) or memory
	Replicas        int           // replicas (1)
	MaxAge          time.Duration // max-age (24h)
	MaxMsgsPerTopic int           // max-msgs-per-topic (1000)
}

// SourcesSettings is kete.sources.*.
type SourcesSettings struct {
	Webhook  WebhookSettings
	Keycloak PollerSettings
}

// WebhookSettings is kete.sources.webhook.*: the HTTP receiver for Keycloak webhooks.
type WebhookSettings struct {
	Enabled bool // enabled (false)
	// Listen is listen (":8081"): the daemon's HTTP listener, which also serves /metrics,
	// /healthz and /readyz when the webhook is off.
	Listen string
	Path   string // path ("/events")
	Secret string // secret: HMAC key for X-Keycloak-Signature; blank = not checked
	// BearerToken (bearer-token), or BasicUsername with BasicPassword (basic-username,
	// basic-password), is required on every post when set.
	BearerToken   string
	BasicUsername string
	BasicPassword string
	// MaxBytes is max-bytes (4MiB): the largest request body taken.
	MaxBytes int64
	// HTTP is http.*: the listener's deadlines and per-address cap.
	HTTP HTTPListenerSettings
}

// PollerSettings is kete.sources.keycloak.*: polling the admin events API.
type PollerSettings struct {
	Enabled  bool          // enabled (false)
	Realms   []string      // realms, comma-separated (default: kete.keycloak.realm)
	Interval time.Duration // interval (10s)
	// DatesOnly is dates-only (false): send dateFrom as a day, for Keycloak before 26.2,
	// which refuses epoch milliseconds there.
	DatesOnly bool
	// Lookback is lookback (60s): how far behind the newest event taken each poll asks
	// again, for events whose transaction commits late or whose node's clock is behind.
	Lookback time.Duration
	// ConfigureRealms is configure-realms (false): turn on saving user events, admin
	// events and admin details in each polled realm, as KETE does for its routes' realms.
	ConfigureRealms bool
}

// SpoolSettings is kete.spool.*.
type SpoolSettings struct {
	Dir      string // dir ("./kete-data")
	MaxBytes int64  // max-bytes (1GiB); accepts 512MiB, 2GB, or plain bytes
}
