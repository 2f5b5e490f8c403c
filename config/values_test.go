package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/tlsconfig"
)

// TestKeyValues checks keys one at a time: a good value lands in the Config, a bad one is
// one problem naming its key.
func TestKeyValues(t *testing.T) {
	const url = "kete.routes.ws.destination.url=ws://h/\n"
	for _, tc := range []struct {
		name   string
		format string
		text   string
		key    string // the key of the one problem; blank when the text is valid
		reason string
		check  func(c *Config) any // for valid text: what it gives...
		want   any                 // ...and what that must be
	}{
		{name: "nats broker", text: "kete.server.broker=nats://127.0.0.1:4222",
			check: func(c *Config) any { return c.Server.Broker }, want: Broker{Kind: BrokerNATS, URL: "nats://127.0.0.1:4222"}},
		{name: "memory broker any case", text: "kete.server.broker=MEMORY",
			check: func(c *Config) any { return c.Server.Broker }, want: MemoryBroker},
		{name: "client auth", text: "kete.server.tls.client-auth=Require-And-Verify",
			check: func(c *Config) any { return c.Server.TLS.ClientAuth }, want: tlsconfig.ClientAuthRequire},
		{name: "webhook path gets its slash", text: "kete.sources.webhook.path=hooks",
			check: func(c *Config) any { return c.Sources.Webhook.Path }, want: "/hooks"},
		{name: "poller realms default", text: "kete.sources.keycloak.enabled=true\nkete.keycloak.url=http://kc\nkete.keycloak.realm=corp\nkete.keycloak.username=u\nkete.keycloak.password=p",
			check: func(c *Config) any { return c.Sources.Keycloak.Realms }, want: []string{"corp"}},
		{name: "poller interval ISO", text: "kete.sources.keycloak.interval=PT30S",
			check: func(c *Config) any { return c.Sources.Keycloak.Interval.String() }, want: "30s"},
		{name: "memory return", text: "kete.server.memory.return-after=-1\nkete.server.memory.return-interval=1m",
			check: func(c *Config) any { return []any{c.Server.ReturnMemoryAfter, c.Server.ReturnMemoryInterval.String()} }, want: []any{-1, "1m0s"}},
		{name: "memory return after below -1", text: "kete.server.memory.return-after=-2",
			key: "kete.server.memory.return-after", reason: "-1"},
		{name: "nats heartbeat", text: "kete.server.nats.heartbeat-interval=500ms",
			check: func(c *Config) any { return c.Server.NATS.HeartbeatInterval.String() }, want: "500ms"},
		{name: "poller dates only", text: "kete.sources.keycloak.dates-only=true",
			check: func(c *Config) any { return c.Sources.Keycloak.DatesOnly }, want: true},
		{name: "poller lookback", text: "kete.sources.keycloak.lookback=5m",
			check: func(c *Config) any { return c.Sources.Keycloak.Lookback }, want: 5 * time.Minute},
		{name: "poller lookback default", text: "kete.sources.keycloak.enabled=false",
			check: func(c *Config) any { return c.Sources.Keycloak.Lookback }, want: DefaultPollLookback},
		{name: "poller dates only not a bool", text: "kete.sources.keycloak.dates-only=sometimes",
			key: "kete.sources.keycloak.dates-only", reason: "want true or false"},
		{name: "admin event example", text: url + "kete.routes.ws.event-matchers.e=list:USER_CREATE",
			check: func(c *Config) any {
				e := SampleEvent(c.Route("ws"))
				return []string{string(e.Kind), e.EventType()}
			}, want: []string{string(kete.KindAdminEvent), "USER_CREATE"}},
		{name: "example avoids a negated realm", text: url + "kete.routes.ws.realm-matchers.r=list:not:master",
			check: func(c *Config) any {
				e := SampleEvent(c.Route("ws"))
				return []string{e.Realm(), e.EventType()}
			}, want: []string{"acme", "LOGIN"}},
		{name: "example meets a regex", text: url + "kete.routes.ws.event-matchers.e=regex:^LOGIN_.*",
			check: func(c *Config) any { return SampleEvent(c.Route("ws")).EventType() }, want: "LOGIN_ERROR"},
		{name: "example meets all matchers", text: url + "kete.routes.ws.realm-matchers.a=list:corp,acme\nkete.routes.ws.realm-matchers.b=list:not:corp\nkete.routes.ws.realm-match-mode=all",
			check: func(c *Config) any { return SampleEvent(c.Route("ws")).Realm() }, want: "acme"},
		{name: "blank value keeps the default", text: url + "kete.routes.ws.destination.pool.max-total=",
			check: func(c *Config) any { return c.Route("ws").Destination.Pool.MaxTotal }, want: 20},
		{name: "JSON null keeps the default", format: FormatJSON, text: `{"kete": {"routes": {"ws": {"destination": {"url": "ws://h/", "port": null}}}}}`,
			check: func(c *Config) any { return c.Route("ws").Destination.Port }, want: 0},

		{name: "disabled route needs no url", text: "kete.routes.ws.enabled=false",
			check: func(c *Config) any { return c.Route("ws").Enabled }, want: false},
		{name: "poller needs credentials", text: "kete.sources.keycloak.enabled=true\nkete.keycloak.url=http://kc",
			key: "kete.keycloak.client-secret", reason: "admin credentials required by kete.sources.keycloak.enabled=true"},
		{name: "webhook credentials", text: "kete.sources.webhook.basic-username=kc\nkete.sources.webhook.basic-password=pw\nkete.sources.webhook.max-bytes=1MiB",
			check: func(c *Config) any {
				w := c.Sources.Webhook
				return []any{w.BasicUsername, w.BasicPassword, w.MaxBytes}
			}, want: []any{"kc", "pw", int64(1 << 20)}},
		{name: "basic username alone", text: "kete.sources.webhook.basic-username=kc",
			key: "kete.sources.webhook.basic-password", reason: "go together"},
		{name: "keycloak url scheme", text: "kete.keycloak.url=localhost:8080",
			key: "kete.keycloak.url", reason: "want a http:// or https:// URL"},
		{name: "keycloak url host", text: "kete.keycloak.url=http:///x",
			key: "kete.keycloak.url", reason: "no host"},
		{name: "token url scheme", text: url + "kete.routes.ws.destination.oauth.token-url=ftp://x/",
			key: "kete.routes.ws.destination.oauth.token-url", reason: "want a http:// or https:// URL"},
		{name: "header given twice", text: url + "kete.routes.ws.destination.headers.X-Tenant=a\nkete.routes.ws.destination.headers.x-tenant=b",
			key: "kete.routes.ws.destination.headers.x-tenant", reason: "also given as X-Tenant"},
		{name: "subprotocol token", text: url + "kete.routes.ws.destination.subprotocol=a b",
			key: "kete.routes.ws.destination.subprotocol", reason: "not a token"},
		{name: "port range", text: url + "kete.routes.ws.destination.port=70000",
			key: "kete.routes.ws.destination.port", reason: "want 1 to 65535"},
		{name: "unknown destination kind", text: url + "kete.routes.ws.destination.kind=kafak",
			key: "kete.routes.ws.destination.kind", reason: "want websocket"},
		{name: "unknown loader kind", text: "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws.destination.tls.trust-store.loader.kind=pem",
			key: "kete.routes.ws.destination.tls.trust-store.loader.kind", reason: "pem-file-path"},
		{name: "loader without its source", text: "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws.destination.tls.trust-store.loader.kind=der-file-base64",
			key: "kete.routes.ws.destination.tls.trust-store.loader.base64", reason: "required by loader.kind=der-file-base64"},
		{name: "password without loader", text: "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws.destination.tls.key-store.password=x",
			key: "kete.routes.ws.destination.tls.key-store.loader.kind", reason: "required"},
		{name: "missing trust store file", text: "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws.destination.tls.trust-store.loader.kind=pem-file-path\nkete.routes.ws.destination.tls.trust-store.loader.path=/no/ca.pem",
			key: "kete.routes.ws.destination.tls.trust-store", reason: "/no/ca.pem"},
		{name: "wss with tls off", text: "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws.destination.tls.enabled=false",
			key: "kete.routes.ws.destination.tls.enabled", reason: "always TLS"},
		{name: "url that renders to no host", text: "kete.routes.ws.destination.url=ws:///${realmLowerCase}",
			key: "kete.routes.ws.destination.url", reason: "not a URL"},
		{name: "template serializer without template", text: url + "kete.routes.ws.serializer.kind=template",
			key: "kete.routes.ws.serializer.template-file-text", reason: "exactly one of"},
		{name: "template on another kind", text: url + "kete.routes.ws.serializer.template={{.Type}}",
			key: "kete.routes.ws.serializer.template", reason: "it is read only by template"},
		{name: "route leaf", text: "kete.routes.ws=1",
			key: "kete.routes.ws", reason: "a route is a section"},
		{name: "routes leaf", text: "kete.routes=1",
			key: "kete.routes", reason: "kete.routes holds routes"},
		{name: "empty route name", text: "kete.routes..enabled=true",
			key: "kete.routes..enabled", reason: `route name ""`},
		{name: "list of lists", format: FormatJSON, text: `{"kete": {"routes": {"ws": {"destination": {"url": "ws://h/", "subprotocol": [["a"]]}}}}}`,
			key: "kete.routes.ws.destination.subprotocol", reason: "a list of lists"},
		{name: "list of sections", format: FormatYAML, text: "kete.routes.ws.destination:\n  url: ws://h/\n  subprotocol:\n    - a: 1\n",
			key: "kete.routes.ws.destination.subprotocol", reason: "a section where a value was expected"},
		{name: "given twice in YAML", format: FormatYAML, text: "kete.routes.ws.destination.url: ws://h/\nkete:\n  routes:\n    ws:\n      destination:\n        url: ws://other/\n",
			key: "kete.routes.ws.destination.url", reason: "given twice"},
		{name: "JSON route name with a dot", format: FormatJSON, text: `{"kete": {"routes": {"my.route": {"destination": {"url": "ws://h/"}}}}}`,
			key: "kete.routes.my.route.destination.url", reason: "must not contain '.'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := tc.format
			if format == "" {
				format = FormatProperties
			}
			if tc.key == "" {
				c, err := Parse([]byte(tc.text), format, nil)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %#v, want %#v", got, tc.want)
				}
				return
			}
			ps := problems(t, format, tc.text)
			if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Reason, tc.reason) {
				t.Errorf("problems %v; want one for %s saying %q", ps, tc.key, tc.reason)
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
