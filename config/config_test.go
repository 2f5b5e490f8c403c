package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/redact"
)

// parse parses a .properties text with environ and fails the test on error.
func parse(t *testing.T, props string, environ ...string) *Config {
	t.Helper()
	c, err := Parse([]byte(props), FormatProperties, environ)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// problems parses text in format and returns the problems it must have.
func problems(t *testing.T, format, text string, environ ...string) []Problem {
	t.Helper()
	_, err := Parse([]byte(text), format, environ)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse: want a *ValidationError, got %v", err)
	}
	return verr.Problems
}

// comparable strips what cannot be compared with reflect.DeepEqual (compiled matchers,
// templates, serializers, TLS configs) and keeps the settings.
func comparable(c *Config) Config {
	out := *c
	out.explicit = nil
	out.Routes = nil
	for _, r := range c.Routes {
		r.serializer = nil
		r.Destination.url = nil
		r.Destination.tlsConfig = nil
		r.RealmMatchers = stripMatchers(r.RealmMatchers)
		r.EventMatchers = stripMatchers(r.EventMatchers)
		out.Routes = append(out.Routes, r)
	}
	return out
}

func stripMatchers(ms []MatcherSettings) []MatcherSettings {
	var out []MatcherSettings
	for _, m := range ms {
		m.Matcher = nil
		out = append(out, m)
	}
	return out
}

const sampleProperties = `
kete.routes.ws.realm-matchers.realm=list:master,acme
kete.routes.ws.event-matchers.logins=glob:LOGIN*
kete.routes.ws.event-match-mode=all
kete.routes.ws.serializer.kind=cloudevents
kete.routes.ws.retry.max-attempts=5
kete.routes.ws.retry.wait-duration=250ms
kete.routes.ws.destination.url=wss://events.example.com/${realmLowerCase}/${eventTypeLowerCase}
kete.routes.ws.destination.binary-mode=true
kete.routes.ws.destination.subprotocol=v1.kete, v2.kete
kete.routes.ws.destination.connection-lost-timeout-seconds=0
kete.routes.ws.destination.pool.max-total=5
kete.routes.ws.destination.headers.X-Tenant=acme
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=https://auth.example.com/token
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=s3cret
kete.routes.ws.destination.oauth.scope=events:write events:read
kete.routes.audit.enabled=false
kete.routes.audit.destination.host=audit.local
kete.routes.audit.destination.port=9000
kete.keycloak.url=http://localhost:8080/
kete.spool.max-bytes=512MiB
kete.sources.keycloak.realms=master,acme
`

const sampleJSON = `{
  "kete": {
    "routes": {
      "ws": {
        "realm-matchers": {"realm": "list:master,acme"},
        "event-matchers": {"logins": "glob:LOGIN*"},
        "event-match-mode": "all",
        "serializer": {"kind": "cloudevents"},
        "retry": {"max-attempts": 5, "wait-duration": "250ms"},
        "destination": {
          "url": "wss://events.example.com/${realmLowerCase}/${eventTypeLowerCase}",
          "binary-mode": true,
          "subprotocol": ["v1.kete", "v2.kete"],
          "connection-lost-timeout-seconds": 0,
          "pool": {"max-total": 5},
          "headers": {"X-Tenant": "acme"},
          "oauth": {
            "enabled": true,
            "token-url": "https://auth.example.com/token",
            "client-id": "kete",
            "client-secret": "s3cret",
            "scope": "events:write events:read"
          }
        }
      },
      "audit": {"enabled": false, "destination": {"host": "audit.local", "port": 9000}}
    },
    "keycloak": {"url": "http://localhost:8080/"},
    "spool": {"max-bytes": "512MiB"},
    "sources": {"keycloak": {"realms": ["master", "acme"]}}
  }
}`

// sampleYAML mixes nesting and dotted keys, as people write YAML.
const sampleYAML = `
kete:
  routes:
    ws:
      realm-matchers.realm: list:master,acme
      event-matchers:
        logins: glob:LOGIN*
      event-match-mode: all
      serializer.kind: cloudevents
      retry:
        max-attempts: 5
        wait-duration: 250ms
      destination:
        url: wss://events.example.com/${realmLowerCase}/${eventTypeLowerCase}
        binary-mode: true
        subprotocol: [v1.kete, v2.kete]
        connection-lost-timeout-seconds: 0
        pool.max-total: 5
        headers:
          X-Tenant: acme
        oauth:
          enabled: true
          token-url: https://auth.example.com/token
          client-id: kete
          client-secret: s3cret
          scope: events:write events:read
    audit:
      enabled: false
      destination: {host: audit.local, port: 9000}
  keycloak.url: http://localhost:8080/
  spool:
    max-bytes: 512MiB
  sources.keycloak.realms:
    - master
    - acme
`

func TestFormatsGiveEqualConfig(t *testing.T) {
	want := parse(t, sampleProperties)
	for _, tc := range []struct{ format, text string }{
		{FormatJSON, sampleJSON},
		{FormatYAML, sampleYAML},
	} {
		t.Run(tc.format, func(t *testing.T) {
			got, err := Parse([]byte(tc.text), tc.format, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(comparable(got), comparable(want)) {
				t.Errorf("%s config differs from .properties:\n got %+v\nwant %+v", tc.format, comparable(got), comparable(want))
			}
		})
	}

	// And the values themselves are what the text says.
	ws := want.Route("ws")
	if ws == nil {
		t.Fatal("route ws missing")
	}
	d := ws.Destination
	checks := []struct {
		name      string
		got, want any
	}{
		{"realm matcher", ws.RealmMatchers[0].Spec, "list:master,acme"},
		{"event mode", ws.EventMatchMode, kete.MatchAll},
		{"serializer", ws.Serializer.Kind, SerializerKind("cloudevents")},
		{"retry attempts", ws.Retry.MaxAttempts, 5},
		{"retry wait", ws.Retry.WaitDuration, 250 * time.Millisecond},
		{"tls from wss", d.TLS.Enabled, true},
		{"binary", d.BinaryMode, true},
		{"subprotocols", d.Subprotocols, []string{"v1.kete", "v2.kete"}},
		{"heartbeat off", d.ConnectionLostTimeout, time.Duration(0)},
		{"max-total", d.Pool.MaxTotal, 5},
		{"max-idle lowered to max-total", d.Pool.MaxIdle, 5},
		{"header case kept", d.Headers, map[string]string{"X-Tenant": "acme"}},
		{"oauth scope", d.OAuth.Scope, "events:write events:read"},
		{"audit disabled", want.Route("audit").Enabled, false},
		{"audit skipped, its keys unread", want.Route("audit").Skipped + want.Route("audit").Destination.URL, "enabled=false"},
		{"keycloak url trimmed", want.Keycloak.URL, "http://localhost:8080"},
		{"spool bytes", want.Spool.MaxBytes, int64(512 << 20)},
		{"poller realms", want.Sources.Keycloak.Realms, []string{"master", "acme"}},
		{"routes sorted", []string{want.Routes[0].Name, want.Routes[1].Name}, []string{"audit", "ws"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := parse(t, "kete.routes.ws.destination.url=ws://127.0.0.1:8080/events\n")
	r := c.Route("ws")
	want := RouteSettings{
		Name:           "ws",
		Enabled:        true,
		RealmMatchMode: kete.MatchAny,
		EventMatchMode: kete.MatchAny,
		Serializer:     SerializerSettings{Kind: "json"},
		Retry:          kete.Retry{Enabled: true, MaxAttempts: 3, WaitDuration: 500 * time.Millisecond, MaxWait: 30 * time.Second},
		Destination: DestinationSettings{
			Kind:                  "websocket",
			URL:                   "ws://127.0.0.1:8080/events",
			ConnectTimeout:        10 * time.Second,
			ConnectionLostTimeout: 60 * time.Second,
			Pool: PoolSettings{MinIdle: 1, MaxIdle: 10, MaxTotal: 20, MaxWait: 30 * time.Second,
				BlockWhenExhausted: true, Lifo: true, TestOnCreate: true, TestOnBorrow: true,
				TestOnReturn: true, TestWhileIdle: true, NumTestsPerEvictionRun: 3,
				TimeBetweenEvictionRuns: time.Minute, MinEvictableIdle: -time.Second,
				SoftMinEvictableIdle: 30 * time.Minute},
			OAuth: OAuthSettings{Mode: OAuthExternal},
			TLS:   TLSSettings{VerifyHostname: true},
		},
	}
	got := comparable(c).Routes[0]
	if !reflect.DeepEqual(got, want) {
		t.Errorf("route defaults:\n got %+v\nwant %+v", got, want)
	}
	if r.serializer == nil || r.Destination.url == nil {
		t.Error("serializer and URL template must be prepared at load")
	}
	g := comparable(c)
	g.Routes = nil
	wantGlobal := Config{
		Enabled:        true,
		MetricsEnabled: true,
		Keycloak:       KeycloakSettings{Realm: "master"},
		Server: ServerSettings{Listen: ":8080", Broker: MemoryBroker, TLS: TLSSettings{VerifyHostname: true},
			NATS: NATSSettings{
				TLS:     TLSSettings{VerifyHostname: true},
				History: NATSHistorySettings{Stream: "KETE", Storage: "file", Replicas: 1, MaxAge: 24 * time.Hour, MaxMsgsPerTopic: 1000},
			}},
		Sources: SourcesSettings{
			Webhook:  WebhookSettings{Listen: ":8081", Path: "/events", MaxBytes: 4 << 20},
			Keycloak: PollerSettings{Interval: 10 * time.Second, Lookback: time.Minute},
		},
		Spool: SpoolSettings{Dir: "./kete-data", MaxBytes: 1 << 30},
	}
	if !reflect.DeepEqual(g, wantGlobal) {
		t.Errorf("global defaults:\n got %+v\nwant %+v", g, wantGlobal)
	}
	if c.Explicit("kete.routes.ws.retry.max-attempts") || !c.Explicit("kete.routes.ws.destination.url") {
		t.Error("Explicit must tell given keys from defaults")
	}
}

func TestEmptyConfigHasNoRoutes(t *testing.T) {
	for _, format := range []string{FormatProperties, FormatJSON, FormatYAML} {
		text := ""
		if format == FormatJSON {
			text = "{}"
		}
		c, err := Parse([]byte(text), format, nil)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if len(c.Routes) != 0 {
			t.Errorf("%s: routes %v", format, c.Routes)
		}
	}
}

func TestURLFromHostPortPath(t *testing.T) {
	for _, tc := range []struct {
		name, props, want string
		tls               bool
	}{
		{"host only", "destination.host=h", "ws://h/", false},
		{"port and path", "destination.host=h\nkete.routes.r.destination.port=9000\nkete.routes.r.destination.path=events/${realmLowerCase}", "ws://h:9000/events/${realmLowerCase}", false},
		{"tls default port", "destination.host=h\nkete.routes.r.destination.tls.enabled=true", "wss://h/", true},
		{"tls other port", "destination.host=h\nkete.routes.r.destination.tls.enabled=true\nkete.routes.r.destination.port=8443", "wss://h:8443/", true},
		{"ipv6", "destination.host=::1\nkete.routes.r.destination.port=80", "ws://[::1]:80/", false},
		{"url wins", "destination.url=ws://u/x\nkete.routes.r.destination.host=h", "ws://u/x", false},
		{"scheme case", "destination.url=WSS://u/x", "wss://u/x", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, "kete.routes.r."+tc.props)
			d := c.Route("r").Destination
			if d.URL != tc.want || d.TLS.Enabled != tc.tls {
				t.Errorf("URL %q TLS %v, want %q TLS %v", d.URL, d.TLS.Enabled, tc.want, tc.tls)
			}
		})
	}
}

func TestUnknownKeySuggestsClosest(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"kete.routes.ws.destination.tsl.enabled", "did you mean kete.routes.ws.destination.tls.enabled?"},
		{"kete.routes.ws.destination.tls.trust-store.path", "did you mean kete.routes.ws.destination.tls.trust-store.loader.path?"},
		{"kete.routes.ws.pool.max-total", "did you mean kete.routes.ws.destination.pool.max-total?"},
		{"kete.routes.ws.realm-matcher.realm", "did you mean kete.routes.ws.realm-matchers.realm?"},
		{"kete.routes.ws.destination.connection-timeout", "did you mean kete.routes.ws.destination.connection-timeout-seconds?"},
		{"kete.routes.ws.retry.max-atempts", "did you mean kete.routes.ws.retry.max-attempts?"},
		{"kete.keycloak.ulr", "did you mean kete.keycloak.url?"},
		{"kete.spool.max-byte", "did you mean kete.spool.max-bytes?"},
		{"kete.routes.my.route.destination.url", `a route name must not contain '.' (is the route "my.route"?)`},
		{"keycloak.url", "kete reads only keys that start with kete."},
	} {
		t.Run(tc.key, func(t *testing.T) {
			ps := problems(t, FormatProperties, "kete.routes.ws.destination.url=ws://h/\n"+tc.key+"=true\n")
			if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Reason, tc.want) {
				t.Errorf("problems %v; want one for %s saying %q", ps, tc.key, tc.want)
			}
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	props := `
kete.routes.ws.destination.url=http://x/
kete.routes.ws.destination.pool.max-total=abc
kete.routes.ws.destination.connection-timeout-seconds=0
kete.routes.ws.retry.wait-duration=fast
kete.routes.ws.realm-match-mode=some
kete.routes.ws.event-matchers.bad=regex:([
kete.routes.ws.serializer.kind=msgpack
kete.routes.ws.destination.oauth.enabled=maybe
kete.routes.ws.destination.headers.Bad\ Name=x
kete.routes.t.destination.url=ws://h/${realmLowercase}
kete.routes.t.destination.tls.enabled=true
kete.routes.k.destination.url=wss://h/
kete.routes.k.destination.tls.key-store.loader.kind=pem-file-path
kete.routes.k.destination.tls.key-store.loader.path=/k.pem
kete.routes.k.destination.tls.key-store.loader.base64=c2VjcmV0LWtleQ==
kete.routes.k.destination.tls.key-store.password=${env:KEY_PASSWORD}
kete.routes.p.destination.url=ws://h/
kete.routes.p.destination.pool.min-idle=30
kete.routes.p.retry.max-wait=100ms
kete.routes.o.destination.url=ws://h/
kete.routes.o.destination.oauth.enabled=true
kete.routes.o.destination.oauth.client-secret=hunter2
kete.routes.i.destination.url=ws://h/
kete.routes.i.destination.oauth.enabled=true
kete.routes.i.destination.oauth.mode=internal
kete.routes.b@d.enabled=true
kete.routes.n.enabled=true
kete.keycloak.username=admin
kete.server.broker=redis://x
kete.bogus=1
`
	environ := []string{
		"KETE_ROUTES_WS_DESTINATION_POOL_MAX_IDLE=x",
		"KETE_NOPE_X=1",
		"KETE_ROUTES_P_DESTINATION_OAUTH_CLIENT_SECRET=${file:/does/not/exist}",
	}
	ps := problems(t, FormatProperties, props, environ...)
	want := []struct{ key, value, reason string }{
		{"kete.routes.ws.destination.url", "http://x/", "want a ws:// or wss:// URL"},
		{"kete.routes.ws.destination.pool.max-total", "abc", "want a whole number"},
		{"kete.routes.ws.destination.pool.max-idle", "x", "want a whole number"},
		{"kete.routes.ws.destination.connection-timeout-seconds", "0", "want 1 or more"},
		{"kete.routes.ws.retry.wait-duration", "fast", "want a duration"},
		{"kete.routes.ws.realm-match-mode", "some", "want any or all"},
		{"kete.routes.ws.event-matchers.bad", "regex:([", "bad regex"},
		{"kete.routes.ws.serializer.kind", "msgpack", "unknown"},
		{"kete.routes.ws.destination.oauth.enabled", "maybe", "want true or false"},
		{"kete.routes.ws.destination.headers.Bad Name", "x", "not a valid HTTP header name"},
		{"kete.routes.t.destination.url", "ws://h/${realmLowercase}", "unknown variable"},
		{"kete.routes.t.destination.tls.enabled", "true", "the URL is ws://"},
		{"kete.routes.k.destination.tls.key-store.loader.base64", "****", "not used by loader.kind=pem-file-path"},
		{"kete.routes.k.destination.tls.key-store.password", "****", "KEY_PASSWORD is not set"},
		{"kete.routes.p.destination.pool.min-idle", "30", "must not be more than destination.pool.max-total (20)"},
		{"kete.routes.p.retry.max-wait", "100ms", "must not be less than retry.wait-duration"},
		{"kete.routes.p.destination.oauth.client-secret", "****", "/does/not/exist"},
		{"kete.routes.o.destination.oauth.token-url", "", "required when destination.oauth.enabled=true"},
		{"kete.routes.o.destination.oauth.client-id", "", "required when destination.oauth.enabled=true"},
		{"kete.routes.b@d.enabled", "true", `route name "b@d"`},
		{"kete.routes.n.destination.url", "", "required"},
		{"kete.keycloak.password", "", "required with kete.keycloak.username"},
		{"kete.keycloak.url", "", "required by route i (destination.oauth.mode=internal)"},
		{"kete.keycloak.client-secret", "", "admin credentials required by route i"},
		{"kete.server.broker", "redis://x", "want memory or a nats:// URL"},
		{"kete.bogus", "1", "unknown key"},
		{"KETE_NOPE_X", "1", "names no configuration key"},
	}
	for _, w := range want {
		found := false
		for _, p := range ps {
			if p.Key == w.key && p.Value == w.value && strings.Contains(p.Reason, w.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem for %s = %q saying %q", w.key, w.value, w.reason)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ps), len(want), (&ValidationError{ps}).Error())
	}
	msg := (&ValidationError{ps}).Error()
	for _, secret := range []string{"hunter2", "c2VjcmV0LWtleQ=="} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows secret %q:\n%s", secret, msg)
		}
	}
	for _, line := range []string{
		`kete.routes.ws.destination.pool.max-idle (from KETE_ROUTES_WS_DESTINATION_POOL_MAX_IDLE) = "x": want a whole number`,
		`kete.routes.ws.destination.pool.max-total = "abc": want a whole number`,
	} {
		if !strings.Contains(msg, "\n  "+line+"\n") {
			t.Errorf("error lacks the line %q:\n%s", line, msg)
		}
	}
}

func TestWarnings(t *testing.T) {
	c := parse(t, `
kete.routes.ws.destination.url=ws://h/
kete.routes.ws.destination.host=ignored
kete.routes.ws.destination.tls.trust-store.loader.kind=pem-file-path
kete.routes.ws.destination.tls.trust-store.loader.path=/ca.pem
kete.routes.ws.destination.oauth.client-id=x
kete.routes.ws.retry.enabled=false
kete.routes.ws.retry.max-attempts=9
kete.metrics.enabled=true
kete.routes.o.destination.url=ws://h/
kete.routes.o.destination.headers.authorization=Bearer static
kete.routes.o.destination.oauth.enabled=true
kete.routes.o.destination.oauth.token-url=https://auth.example.com/token
kete.routes.o.destination.oauth.client-id=kete
kete.routes.o.destination.oauth.client-secret=s
kete.routes.o.destination.oauth.realm=acme
kete.server.nats.user=nobody
kete.routes.h.destination.host=h
kete.routes.h.destination.tls.verify-hostname=false
`)
	hints := map[string]string{
		"kete.routes.ws.destination.tls.trust-store.loader.kind": "use a wss:// URL",
		"kete.routes.h.destination.tls.verify-hostname":          "set destination.tls.enabled=true",
		"kete.server.nats.user":                                  "not a nats:// URL",
	}
	for _, w := range c.Warnings {
		if hint, ok := hints[w.Key]; ok && !strings.Contains(w.Reason, hint) {
			t.Errorf("warning for %s: %q, want it to say %q", w.Key, w.Reason, hint)
		}
	}
	want := []string{
		"kete.routes.h.destination.tls.verify-hostname",
		"kete.routes.o.destination.headers.authorization",
		"kete.routes.o.destination.oauth.realm",
		"kete.routes.ws.destination.host",
		"kete.routes.ws.destination.oauth.client-id",
		"kete.routes.ws.destination.tls.trust-store.loader.kind",
		"kete.routes.ws.destination.tls.trust-store.loader.path",
		"kete.routes.ws.retry.max-attempts",
		"kete.server.nats.user",
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.Key)
	}
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %v, want %v", c.Warnings, want)
	}
}

func TestLeafParentConflict(t *testing.T) {
	for _, tc := range []struct{ format, text string }{
		{FormatProperties, "kete.routes.ws.destination.pool=5\nkete.routes.ws.destination.pool.max-total=5\n"},
		{FormatJSON, `{"kete.routes.ws.destination.pool": 5, "kete": {"routes": {"ws": {"destination": {"pool": {"max-total": 5}}}}}}`},
		{FormatYAML, "kete.routes.ws.destination.pool: 5\nkete:\n  routes:\n    ws:\n      destination.pool.max-total: 5\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), tc.format, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, k := range []string{"kete.routes.ws.destination.pool", "kete.routes.ws.destination.pool.max-total"} {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error does not name %s: %v", k, err)
				}
			}
		})
	}
}

func TestTemplateVariablesAreNotExpanded(t *testing.T) {
	// magiconair expands ${…} against other properties, and blanks unknown ones, unless
	// told not to: neither may happen to a template.
	c := parse(t, `
kete.enabled=true
kete.routes.ws.destination.url=ws://h/${realmLowerCase}/${eventTypeKebabCase}
kete.routes.ws.serializer.kind=template
kete.routes.ws.serializer.template={{.RealmName}} ${kete.enabled} ${realmLowerCase}
`)
	r := c.Route("ws")
	if got, want := r.Destination.URL, "ws://h/${realmLowerCase}/${eventTypeKebabCase}"; got != want {
		t.Errorf("url %q, want %q", got, want)
	}
	if got, want := r.Serializer.Template, "{{.RealmName}} ${kete.enabled} ${realmLowerCase}"; got != want {
		t.Errorf("serializer template %q, want %q", got, want)
	}
	body, err := r.serializer.Serialize(nil, &kete.Event{Kind: kete.KindEvent, RealmName: "Acme", Type: "LOGIN"})
	if err != nil || string(body) != "Acme ${kete.enabled} ${realmLowerCase}" {
		t.Errorf("serialized %q, %v", body, err)
	}
}

func TestFileAndEnvReferences(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := parse(t, `
kete.routes.ws.destination.url=ws://h/${realmLowerCase}
kete.routes.ws.destination.headers.Authorization=Bearer ${env:WS_TOKEN}
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=${env:TOKEN_URL}
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=${file:`+secretFile+`}
`, "WS_TOKEN=tok", "TOKEN_URL=https://auth.example.com/token")
	d := c.Route("ws").Destination
	for _, tc := range []struct{ name, got, want string }{
		{"env in the middle of a value", d.Headers["Authorization"], "Bearer tok"},
		{"env as the whole value", d.OAuth.TokenURL, "https://auth.example.com/token"},
		{"file without its newline", d.OAuth.ClientSecret, "from-file"},
		{"template variable kept", d.URL, "ws://h/${realmLowerCase}"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}

	ps := problems(t, FormatProperties, `
kete.routes.ws.destination.url=ws://h/${env:NO_SUCH_VAR}
kete.routes.ws.destination.headers.X-Api-Key=${file:`+filepath.Join(dir, "missing")+`}
`)
	if len(ps) != 2 {
		t.Fatalf("want 2 problems, got %v", ps)
	}
	for _, p := range ps {
		switch p.Key {
		case "kete.routes.ws.destination.url":
			if !strings.Contains(p.Reason, "NO_SUCH_VAR is not set") {
				t.Errorf("url problem: %v", p)
			}
		case "kete.routes.ws.destination.headers.X-Api-Key":
			if p.Value != redact.Mask || !strings.Contains(p.Reason, "missing") {
				t.Errorf("header problem: %v", p)
			}
		default:
			t.Errorf("unexpected problem %v", p)
		}
	}
}

func TestInternalOAuthRealm(t *testing.T) {
	for _, tc := range []struct{ name, props, want string }{
		{"explicit realm", "destination.oauth.realm=acme\nkete.routes.ws.realm-matchers.r=list:other", "acme"},
		{"one realm matcher of one realm", "realm-matchers.r=list:acme", "acme"},
		{"two realms", "realm-matchers.r=list:acme,other", "corp"},
		{"negated list", "realm-matchers.r=list:not:acme", "corp"},
		{"glob", "realm-matchers.r=glob:acme*", "corp"},
		{"no matchers", "enabled=true", "corp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, `
kete.keycloak.url=http://127.0.0.1:1
kete.keycloak.realm=corp
kete.keycloak.client-id=admin
kete.keycloak.client-secret=x
kete.routes.ws.destination.url=ws://h/
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.mode=INTERNAL
kete.routes.ws.`+tc.props+"\n")
			o := c.Route("ws").Destination.OAuth
			if o.Realm != tc.want || o.ClientID != DefaultInternalClientID || o.Mode != OAuthInternal {
				t.Errorf("realm %q client %q mode %q, want realm %q", o.Realm, o.ClientID, o.Mode, tc.want)
			}
		})
	}
}

func TestDurationsAndSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"500ms", 500 * time.Millisecond, true},
		// KETE's ValidationUtils.tryParseDuration and docs/user-guide/retry.md.
		{"15", 15 * time.Second, true},
		{" 10 s", 10 * time.Second, true},
		{"500ns", 500 * time.Nanosecond, true},
		{"100us", 100 * time.Microsecond, true},
		{"15m", 15 * time.Minute, true},
		{"2h", 2 * time.Hour, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"1y", 365 * 24 * time.Hour, true},
		{"P1D", 24 * time.Hour, true},
		{"p2dt3h4m", 51*time.Hour + 4*time.Minute, true},
		{"PT2H30M", 150 * time.Minute, true},
		{"1m30s", 90 * time.Second, true},
		{"P", 0, false},
		{"PT1D", 0, false},
		{"2s", 2 * time.Second, true},
		{"PT2S", 2 * time.Second, true},
		{"pt1m30.5s", 90*time.Second + 500*time.Millisecond, true},
		{"PT1H", time.Hour, true},
		{"-1s", 0, false},
		{"PT", 0, false},
		{"PTxS", 0, false},
		{"soon", 0, false},
	} {
		got, err := parseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"512MiB", 512 << 20, true},
		{"2GB", 2e9, true},
		{"1 gib", 1 << 30, true},
		{"0", 0, false},
		{"12XB", 0, false},
		{"MiB", 0, false},
	} {
		got, err := parseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBytes(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestLoadByExtension(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"kete.properties": sampleProperties,
		"kete.json":       sampleJSON,
		"kete.yaml":       sampleYAML,
		"kete.yml":        sampleYAML,
	}
	want := comparable(parse(t, sampleProperties))
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		if !reflect.DeepEqual(comparable(c), want) {
			t.Errorf("Load(%s) differs from Parse of the properties", name)
		}
	}

	bad := filepath.Join(dir, "kete.toml")
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, nil); err == nil || !strings.Contains(err.Error(), ".toml") {
		t.Errorf("Load(.toml): %v", err)
	}
	if _, err := Load(filepath.Join(dir, "absent.properties"), nil); err == nil || !strings.Contains(err.Error(), "absent.properties") {
		t.Errorf("Load(absent): %v", err)
	}
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"kete": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(broken, nil); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("Load(broken.json): %v", err)
	}
	// A validation error keeps its type through Load's wrapping.
	invalid := filepath.Join(dir, "invalid.properties")
	if err := os.WriteFile(invalid, []byte("kete.routes.ws.enabled=maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(invalid, nil)
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "invalid.properties") {
		t.Errorf("Load(invalid): %v", err)
	}
}
