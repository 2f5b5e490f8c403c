package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

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
