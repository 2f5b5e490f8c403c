package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kete-dev/kete"
)

// field is one known key of a section and the setter that parses its value into the
// section's struct. A prefix field is a family of keys, key.<name>, whose <name> the
// setter receives (matchers, headers).
type field struct {
	key    string
	prefix bool
	set    func(name, value string) error
}

// ignored marks a key kete accepts for KETE compatibility but does not use: the
// decoder turns it into a warning.
type ignored string

func (i ignored) Error() string { return string(i) }

func ignoredVar(why string) func(string, string) error {
	return func(string, string) error { return ignored(why) }
}

// Defaults, as KETE has them where KETE has the key.
const (
	DefaultSerializerKind   = "json"
	DefaultInternalClientID = "kete-oauth-client"
	DefaultKeycloakRealm    = "master"
	DefaultServerListen     = ":8080"
	DefaultWebhookListen    = ":8081"
	DefaultWebhookPath      = "/events"
	DefaultWebhookMaxBytes  = int64(4 << 20)
	DefaultPollInterval     = 10 * time.Second
	DefaultPollLookback     = 60 * time.Second
	DefaultSpoolDir         = "./kete-data"
	DefaultSpoolMaxBytes    = int64(1 << 30)
	defaultConnectTimeout   = 10 * time.Second
	defaultConnectionLost   = 60 * time.Second
	defaultPoolMaxWait      = 30 * time.Second
	defaultPoolMinIdle      = 1
	defaultPoolMaxIdle      = 10
	defaultPoolMaxTotal     = 20
	maxPoolSize             = 100000
	maxRetryAttempts        = 1000000
)

func defaultConfig() *Config {
	return &Config{
		Enabled:        true,
		MetricsEnabled: true,
		Keycloak:       KeycloakSettings{Realm: DefaultKeycloakRealm},
		Server: ServerSettings{
			Listen: DefaultServerListen,
			TLS:    TLSSettings{VerifyHostname: true},
			NATS: NATSSettings{
				TLS:     TLSSettings{VerifyHostname: true},
				History: NATSHistorySettings{Stream: "KETE", Storage: "file", Replicas: 1, MaxAge: 24 * time.Hour, MaxMsgsPerTopic: 1000},
			},
		},
		Sources: SourcesSettings{
			Webhook:  WebhookSettings{Listen: DefaultWebhookListen, Path: DefaultWebhookPath, MaxBytes: DefaultWebhookMaxBytes},
			Keycloak: PollerSettings{Interval: DefaultPollInterval, Lookback: DefaultPollLookback},
		},
		Spool:    SpoolSettings{Dir: DefaultSpoolDir, MaxBytes: DefaultSpoolMaxBytes},
		explicit: map[string]string{},
	}
}

func defaultRoute(name string) *RouteSettings {
	return &RouteSettings{
		Name:           name,
		Enabled:        true,
		RealmMatchMode: kete.MatchAny,
		EventMatchMode: kete.MatchAny,
		Serializer:     SerializerSettings{Kind: DefaultSerializerKind},
		Retry:          kete.DefaultRetry,
		Destination: DestinationSettings{
			Kind:                  DestinationWebSocket,
			ConnectTimeout:        defaultConnectTimeout,
			ConnectionLostTimeout: defaultConnectionLost,
			Pool:                  defaultPool(),
			OAuth:                 OAuthSettings{Mode: OAuthExternal},
			TLS:                   TLSSettings{VerifyHostname: true},
		},
	}
}

// globalFields are the keys outside routes, relative to "kete.".
func globalFields(c *Config) []field {
	k, s, src := &c.Keycloak, &c.Server, &c.Sources
	fields := []field{
		{key: "enabled", set: boolVar(&c.Enabled)},
		{key: "metrics.enabled", set: boolVar(&c.MetricsEnabled)},
		{key: "support-the-project-message", set: ignoredVar("accepted for KETE compatibility; has no effect")},

		{key: "keycloak.url", set: urlVar(&k.URL, "http", "https")},
		{key: "keycloak.realm", set: stringVar(&k.Realm)},
		{key: "keycloak.client-id", set: stringVar(&k.ClientID)},
		{key: "keycloak.client-secret", set: stringVar(&k.ClientSecret)},
		{key: "keycloak.username", set: stringVar(&k.Username)},
		{key: "keycloak.password", set: stringVar(&k.Password)},

		{key: "server.enabled", set: boolVar(&s.Enabled)},
		{key: "server.listen", set: listenVar(&s.Listen)},
		{key: "server.broker", set: parsedVar(&s.Broker, ParseBroker)},
		{key: "server.apps-file", set: stringVar(&s.AppsFile)},
		{key: "server.memory.return-after", set: intVar(&s.ReturnMemoryAfter, -1, 1<<30)},
		{key: "server.memory.return-interval", set: positiveDurationVar(&s.ReturnMemoryInterval)},
		{key: "server.tls.enabled", set: boolVar(&s.TLS.Enabled)},
		{key: "server.tls.client-auth", set: clientAuthVar(&s.TLS.ClientAuth)},
		{key: "server.nats.credentials-file", set: stringVar(&s.NATS.CredentialsFile)},
		{key: "server.nats.nkey-seed-file", set: stringVar(&s.NATS.NKeySeedFile)},
		{key: "server.nats.user", set: stringVar(&s.NATS.User)},
		{key: "server.nats.password", set: stringVar(&s.NATS.Password)},
		{key: "server.nats.token", set: stringVar(&s.NATS.Token)},
		{key: "server.nats.subject-prefix", set: stringVar(&s.NATS.SubjectPrefix)},
		{key: "server.nats.heartbeat-interval", set: positiveDurationVar(&s.NATS.HeartbeatInterval)},
		{key: "server.nats.tls.enabled", set: boolVar(&s.NATS.TLS.Enabled)},
		{key: "server.nats.tls.verify-hostname", set: boolVar(&s.NATS.TLS.VerifyHostname)},
		{key: "server.nats.history.enabled", set: boolVar(&s.NATS.History.Enabled)},
		{key: "server.nats.history.stream", set: stringVar(&s.NATS.History.Stream)},
		{key: "server.nats.history.storage", set: enumVar(&s.NATS.History.Storage, "file", "memory")},
		{key: "server.nats.history.replicas", set: intVar(&s.NATS.History.Replicas, 1, 5)},
		{key: "server.nats.history.max-age", set: positiveDurationVar(&s.NATS.History.MaxAge)},
		{key: "server.nats.history.max-msgs-per-topic", set: intVar(&s.NATS.History.MaxMsgsPerTopic, 1, 1<<30)},

		{key: "sources.webhook.enabled", set: boolVar(&src.Webhook.Enabled)},
		{key: "sources.webhook.listen", set: listenVar(&src.Webhook.Listen)},
		{key: "sources.webhook.path", set: pathVar(&src.Webhook.Path)},
		{key: "sources.webhook.secret", set: stringVar(&src.Webhook.Secret)},
		{key: "sources.webhook.bearer-token", set: stringVar(&src.Webhook.BearerToken)},
		{key: "sources.webhook.basic-username", set: stringVar(&src.Webhook.BasicUsername)},
		{key: "sources.webhook.basic-password", set: stringVar(&src.Webhook.BasicPassword)},
		{key: "sources.webhook.max-bytes", set: bytesVar(&src.Webhook.MaxBytes)},
		{key: "sources.keycloak.enabled", set: boolVar(&src.Keycloak.Enabled)},
		{key: "sources.keycloak.realms", set: listVar(&src.Keycloak.Realms)},
		{key: "sources.keycloak.interval", set: positiveDurationVar(&src.Keycloak.Interval)},
		{key: "sources.keycloak.dates-only", set: boolVar(&src.Keycloak.DatesOnly)},
		{key: "sources.keycloak.lookback", set: positiveDurationVar(&src.Keycloak.Lookback)},
		{key: "sources.keycloak.configure-realms", set: boolVar(&src.Keycloak.ConfigureRealms)},

		{key: "spool.dir", set: stringVar(&c.Spool.Dir)},
		{key: "spool.max-bytes", set: bytesVar(&c.Spool.MaxBytes)},
	}
	fields = append(fields, listenerFields("server.http", &s.HTTP)...)
	fields = append(fields, listenerFields("sources.webhook.http", &src.Webhook.HTTP)...)
	fields = append(fields, storeFields("server.nats.tls.key-store", &s.NATS.TLS.KeyStore, true)...)
	fields = append(fields, storeFields("server.nats.tls.trust-store", &s.NATS.TLS.TrustStore, false)...)
	fields = append(fields, storeFields("server.tls.key-store", &s.TLS.KeyStore, true)...)
	return append(fields, storeFields("server.tls.trust-store", &s.TLS.TrustStore, false)...)
}

// routeFields are a route's keys, relative to "kete.routes.<name>.".
func routeFields(r *RouteSettings) []field {
	d := &r.Destination
	o := &d.OAuth
	fields := []field{
		{key: "enabled", set: boolVar(&r.Enabled)},
		{key: "realm-matchers", prefix: true, set: matcherVar(&r.RealmMatchers)},
		{key: "event-matchers", prefix: true, set: matcherVar(&r.EventMatchers)},
		{key: "realm-match-mode", set: matchModeVar(&r.RealmMatchMode)},
		{key: "event-match-mode", set: matchModeVar(&r.EventMatchMode)},
		{key: "serializer.kind", set: parsedVar(&r.Serializer.Kind, ParseSerializerKind)},
		{key: "serializer.template", set: stringVar(&r.Serializer.Template)},
		{key: "serializer.template-file-text", set: stringVar(&r.Serializer.TemplateFileText)},
		{key: "serializer.template-file-base64", set: stringVar(&r.Serializer.TemplateFileBase64)},
		{key: "serializer.template-file-path", set: stringVar(&r.Serializer.TemplateFilePath)},
		{key: "serializer.content-type", set: stringVar(&r.Serializer.ContentType)},
		{key: "serializer.variable-escape", set: stringVar(&r.Serializer.VariableEscape)},
		{key: "serializer.nesting-notation", set: stringVar(&r.Serializer.NestingNotation)},
		{key: "retry.enabled", set: boolVar(&r.Retry.Enabled)},
		{key: "retry.max-attempts", set: intVar(&r.Retry.MaxAttempts, 0, maxRetryAttempts)},
		{key: "retry.wait-duration", set: positiveDurationVar(&r.Retry.WaitDuration)},
		{key: "retry.max-wait", set: positiveDurationVar(&r.Retry.MaxWait)},

		{key: "destination.kind", set: parsedVar(&d.Kind, ParseDestinationKind)},
		{key: "destination.url", set: stringVar(&d.URL)},
		{key: "destination.host", set: stringVar(&d.Host)},
		{key: "destination.port", set: intVar(&d.Port, 1, 65535)},
		{key: "destination.path", set: pathVar(&d.Path)},
		{key: "destination.binary-mode", set: boolVar(&d.BinaryMode)},
		{key: "destination.subprotocol", set: subprotocolVar(&d.Subprotocols)},
		{key: "destination.connection-timeout-seconds", set: secondsVar(&d.ConnectTimeout, 1)},
		{key: "destination.connection-lost-timeout-seconds", set: secondsVar(&d.ConnectionLostTimeout, 0)},
		{key: "destination.pool.min-idle", set: intVar(&d.Pool.MinIdle, 0, maxPoolSize)},
		{key: "destination.pool.max-idle", set: intVar(&d.Pool.MaxIdle, 0, maxPoolSize)},
		{key: "destination.pool.max-total", set: intVar(&d.Pool.MaxTotal, 1, maxPoolSize)},
		{key: "destination.pool.max-wait-seconds", set: signedSecondsVar(&d.Pool.MaxWait, -1)},
		{key: "destination.headers", prefix: true, set: headerVar(&d.Headers)},

		{key: "destination.oauth.enabled", set: boolVar(&o.Enabled)},
		{key: "destination.oauth.mode", set: parsedVar(&o.Mode, ParseOAuthMode)},
		{key: "destination.oauth.token-url", set: urlVar(&o.TokenURL, "http", "https")},
		{key: "destination.oauth.client-id", set: stringVar(&o.ClientID)},
		{key: "destination.oauth.client-secret", set: stringVar(&o.ClientSecret)},
		{key: "destination.oauth.scope", set: stringVar(&o.Scope)},
		{key: "destination.oauth.realm", set: stringVar(&o.Realm)},
		{key: "destination.oauth.timeout-seconds", set: secondsVar(&o.Timeout, 0)},

		{key: "destination.tls.enabled", set: boolVar(&d.TLS.Enabled)},
		{key: "destination.tls.verify-hostname", set: boolVar(&d.TLS.VerifyHostname)},
	}
	fields = append(fields, keteSharedFields(d)...)
	fields = append(fields, poolFields(&d.Pool)...)
	fields = append(fields, storeFields("destination.tls.trust-store", &d.TLS.TrustStore, false)...)
	return append(fields, storeFields("destination.tls.key-store", &d.TLS.KeyStore, true)...)
}

// listenerFields are the <prefix>.* keys of an HTTP listener's bounds; -1 turns one off.
func listenerFields(prefix string, l *HTTPListenerSettings) []field {
	return []field{
		{key: prefix + ".read-header-timeout", set: boundDurationVar(&l.ReadHeaderTimeout)},
		{key: prefix + ".read-timeout", set: boundDurationVar(&l.ReadTimeout)},
		{key: prefix + ".write-timeout", set: boundDurationVar(&l.WriteTimeout)},
		{key: prefix + ".idle-timeout", set: boundDurationVar(&l.IdleTimeout)},
		{key: prefix + ".max-connections-per-address", set: intVar(&l.MaxConnsPerAddress, -1, 1<<20)},
	}
}

// boundDurationVar reads a duration more than 0, or -1 for "no bound".
func boundDurationVar(p *time.Duration) func(string, string) error {
	return func(name, v string) error {
		if strings.TrimSpace(v) == "-1" {
			*p = -1
			return nil
		}
		if err := positiveDurationVar(p)(name, v); err != nil {
			return fmt.Errorf("%w, or -1 for none", err)
		}
		return nil
	}
}

func storeFields(prefix string, s *StoreSettings, keyStore bool) []field {
	fields := []field{
		{key: prefix + ".password", set: stringVar(&s.Password)},
		{key: prefix + ".loader.kind", set: loaderKindVar(&s.Loader.Kind)},
		{key: prefix + ".loader.path", set: stringVar(&s.Loader.Path)},
		{key: prefix + ".loader.base64", set: stringVar(&s.Loader.Base64)},
		{key: prefix + ".loader.text", set: stringVar(&s.Loader.Text)},
	}
	if keyStore {
		fields = append(fields, field{key: prefix + ".key-password", set: stringVar(&s.KeyPassword)})
	}
	return fields
}

func positiveDurationVar(p *time.Duration) func(string, string) error {
	return func(name, v string) error {
		var d time.Duration
		if err := durationVar(&d)(name, v); err != nil {
			return err
		}
		if d <= 0 {
			return errors.New("want a duration more than 0")
		}
		*p = d
		return nil
	}
}

func pathVar(p *string) func(string, string) error {
	return func(_, v string) error {
		if !strings.HasPrefix(v, "/") {
			v = "/" + v
		}
		*p = v
		return nil
	}
}

func matchModeVar(p *kete.MatchMode) func(string, string) error {
	return func(_, v string) error {
		m, err := kete.ParseMatchMode(v)
		if err != nil {
			return errors.New("want any or all")
		}
		*p = m
		return nil
	}
}

func matcherVar(p *[]MatcherSettings) func(string, string) error {
	return func(name, v string) error {
		m, err := kete.ParseMatcher(v)
		if err != nil {
			return err
		}
		*p = append(*p, MatcherSettings{Name: name, Spec: v, Matcher: m})
		return nil
	}
}

func headerVar(p *map[string]string) func(string, string) error {
	return func(name, v string) error {
		switch name {
		case "eventkind", "eventtype", "contenttype":
			// DestinationConfig.initialize (FortuneN/kete) skips these names, spelt so.
			return ignored("dropped: KETE reserves " + name + " for its per-event headers (a WebSocket carries none) and ignores it as a custom header")
		}
		if !isToken(name) {
			return fmt.Errorf("header name %q is not a valid HTTP header name", name)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return errors.New("a header value must not contain line breaks")
		}
		if *p == nil {
			*p = map[string]string{}
		}
		for other := range *p {
			if strings.EqualFold(other, name) {
				return fmt.Errorf("header %s is also given as %s", name, other)
			}
		}
		(*p)[name] = v
		return nil
	}
}

func subprotocolVar(p *[]string) func(string, string) error {
	return func(_, v string) error {
		list := splitList(v)
		for _, s := range list {
			if !isToken(s) {
				return fmt.Errorf("subprotocol %q is not a token", s)
			}
		}
		*p = list
		return nil
	}
}

// isToken reports whether s is an RFC 9110 token, as header names and subprotocols are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// lookupField finds the field for rel among fields: an exact key, or a prefix field
// with the rest as its name.
func lookupField(fields []field, rel string) (f field, name string, ok bool) {
	for _, f := range fields {
		if f.prefix {
			if rest, found := strings.CutPrefix(rel, f.key+"."); found && rest != "" {
				return f, rest, true
			}
		} else if rel == f.key {
			return f, "", true
		}
	}
	return field{}, "", false
}

// fieldGroups lists the first segments of the keys of fields, once each, in order.
func fieldGroups(fields []field) []string {
	var groups []string
	for _, f := range fields {
		g, _, nested := strings.Cut(f.key, ".")
		if nested || f.prefix {
			g += "."
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return groups
}

// suggest names the known key an unknown rel most likely meant, or "".
func suggest(rel string, fields []field) string {
	segs := strings.Split(rel, ".")
	// A key with a segment missing (trust-store.path for trust-store.loader.path,
	// pool.max-total for destination.pool.max-total) is a subsequence of the real one.
	for _, f := range fields {
		if f.prefix {
			continue
		}
		known := strings.Split(f.key, ".")
		if len(known) > len(segs) && known[len(known)-1] == segs[len(segs)-1] && isSubsequence(segs, known) {
			return f.key
		}
	}
	// An older or shorter spelling: connection-timeout for connection-timeout-seconds.
	for _, f := range fields {
		if !f.prefix && strings.HasPrefix(f.key, rel+"-") {
			return f.key
		}
	}
	candidates := make([]string, 0, len(fields))
	for _, f := range fields {
		if f.prefix {
			// Compare realm-matcher.x with realm-matchers.x.
			n := strings.Count(f.key, ".") + 1
			if len(segs) > n {
				candidates = append(candidates, f.key+"."+strings.Join(segs[n:], "."))
			}
			continue
		}
		candidates = append(candidates, f.key)
	}
	return closest(rel, candidates)
}

func isSubsequence(short, long []string) bool {
	i := 0
	for _, s := range long {
		if i < len(short) && short[i] == s {
			i++
		}
	}
	return i == len(short)
}

// sortMatchers orders matchers by name so that output and comparisons are stable.
func sortMatchers(ms []MatcherSettings) {
	slices.SortFunc(ms, func(a, b MatcherSettings) int { return strings.Compare(a.Name, b.Name) })
}
