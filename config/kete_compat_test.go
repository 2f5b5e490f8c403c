package config

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"
)

// warned reports whether c warns about key with a reason containing want.
func warned(c *Config, key, want string) bool {
	for _, w := range c.Warnings {
		if w.Key == key && strings.Contains(w.Reason, want) {
			return true
		}
	}
	return false
}

// TestDottedEnvironment: KETE is configured by variables named like the keys
// (docs/user-guide/configuration.md, FortuneN/kete); kete reads them with no file, over
// KETE_ variables, and a KETE_ variable still finds a route only dotted ones name.
func TestDottedEnvironment(t *testing.T) {
	c, err := Parse(nil, FormatProperties, []string{
		"kete.routes.my-ws.destination.url=ws://events.example.com/${realmLowerCase}",
		"kete.routes.my-ws.retry.max-attempts= 9 ",
		"KETE_ROUTES_MY_WS_RETRY_MAX_ATTEMPTS=7",
		"KETE_ROUTES_MY_WS_DESTINATION_BINARY_MODE=true",
		"kete.routes.my-ws.event-matchers.logins=glob:LOGIN*",
		"PATH=/usr/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Route("my-ws")
	if r == nil || r.Destination.URL != "ws://events.example.com/${realmLowerCase}" {
		t.Fatalf("route my-ws from dotted variables: %+v", c.Routes)
	}
	if r.Retry.MaxAttempts != 9 {
		t.Errorf("max-attempts %d, want 9: the dotted variable, KETE's exact key, wins over KETE_", r.Retry.MaxAttempts)
	}
	if !r.Destination.BinaryMode {
		t.Error("KETE_ROUTES_MY_WS_DESTINATION_BINARY_MODE did not find route my-ws")
	}
	if !warned(c, "kete.routes.my-ws.retry.max-attempts", "KETE_ROUTES_MY_WS_RETRY_MAX_ATTEMPTS") {
		t.Errorf("no warning that both variables set max-attempts: %v", c.Warnings)
	}
	if err := c.NothingToRun(); err != nil {
		t.Errorf("NothingToRun: %v", err)
	}

	// A dotted variable with a bad key is an error naming it, and where it came from.
	_, err = Parse(nil, FormatProperties, []string{"kete.routes.ws.destination.url=ws://h/", "kete.routes.ws.destination.tsl.enabled=true"})
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "kete.routes.ws.destination.tsl.enabled") || !strings.Contains(err.Error(), "from the environment") {
		t.Errorf("bad dotted key: %v", err)
	}
	if !EnvConfigures([]string{"kete.routes.ws.destination.url=ws://h/"}) || EnvConfigures([]string{"KETE_CONFIG=x", "KETE_LOG_LEVEL=debug", "PATH=/"}) {
		t.Error("EnvConfigures")
	}
}

// TestNothingToRun: a daemon with no route to run is an error that says what to set.
func TestNothingToRun(t *testing.T) {
	for _, tc := range []struct{ props, want string }{
		{"", "kete.routes.<name>.destination.url"},
		{"kete.routes.k.destination.kind=kafka\nkete.routes.k.destination.topic=t\n", "route k (destination.kind=kafka"},
		{"kete.routes.ws.enabled=false\n", "route ws (enabled=false)"},
	} {
		err := parse(t, tc.props).NothingToRun()
		if !errors.Is(err, ErrNoRoutes) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: NothingToRun = %v, want it to say %q", tc.props, err, tc.want)
		}
	}
	if err := parse(t, "kete.enabled=false\n").NothingToRun(); err != nil {
		t.Errorf("kete.enabled=false is switched off on purpose: %v", err)
	}
}

// TestRoutesKeteCannotRun: routes of KETE's other kinds, and disabled ones, are skipped
// with a warning naming them and why, their keys unread; the websocket route still runs,
// and an unknown key under it is still an error.
func TestRoutesKeteCannotRun(t *testing.T) {
	c := parse(t, `
kete.routes.kafka.destination.kind=kafka
kete.routes.kafka.destination.bootstrap.servers=kafka:9092
kete.routes.kafka.destination.topic=keycloak-${eventTypeLowerCase}
kete.routes.hooks.destination.kind=HTTP
kete.routes.hooks.destination.method=POST
kete.routes.old.enabled=no
kete.routes.old.destination.nonsense=1
kete.routes.ws.destination.kind=websocket
kete.routes.ws.destination.url=ws://h/
`)
	for _, tc := range []struct{ key, want string }{
		{"kete.routes.kafka.destination.kind", "route kafka skipped: destination.kind=kafka"},
		{"kete.routes.hooks.destination.kind", "route hooks skipped: destination.kind=http"},
		{"kete.routes.old.enabled", "route old skipped: enabled=false"},
	} {
		if !warned(c, tc.key, tc.want) {
			t.Errorf("no warning on %s saying %q: %v", tc.key, tc.want, c.Warnings)
		}
	}
	if r := c.Route("ws"); r == nil || !r.Enabled {
		t.Errorf("route ws: %+v", r)
	}
	if r := c.Route("kafka"); r == nil || r.Enabled || r.Destination.Kind != "kafka" {
		t.Errorf("route kafka: %+v", r)
	}
	ps := problems(t, FormatProperties, "kete.routes.ws.destination.url=ws://h/\nkete.routes.ws.destination.topic=t\n")
	if len(ps) != 1 || ps[0].Key != "kete.routes.ws.destination.topic" {
		t.Errorf("unknown key under a websocket route: %v", ps)
	}
}

// TestKETEDurations: a bare number is seconds (KETE's ValidationUtils.tryParseDuration),
// and a wait-duration above kete's default max-wait raises it.
func TestKETEDurations(t *testing.T) {
	for _, tc := range []struct {
		value         string
		wait, maxWait time.Duration
	}{
		{"15", 15 * time.Second, 30 * time.Second},
		{"45", 45 * time.Second, 45 * time.Second},
		{"P1D", 24 * time.Hour, 24 * time.Hour},
		{"2m", 2 * time.Minute, 2 * time.Minute},
		{"100ms", 100 * time.Millisecond, 30 * time.Second},
	} {
		r := parse(t, "kete.routes.ws.destination.url=ws://h/\nkete.routes.ws.retry.wait-duration="+tc.value+"\n").Route("ws")
		if r.Retry.WaitDuration != tc.wait || r.Retry.MaxWait != tc.maxWait {
			t.Errorf("wait-duration=%s: wait %v max-wait %v, want %v and %v", tc.value, r.Retry.WaitDuration, r.Retry.MaxWait, tc.wait, tc.maxWait)
		}
	}
	// A max-wait the user set is still checked against the wait.
	ps := problems(t, FormatProperties, "kete.routes.ws.destination.url=ws://h/\nkete.routes.ws.retry.wait-duration=45\nkete.routes.ws.retry.max-wait=40s\n")
	if len(ps) != 1 || ps[0].Key != "kete.routes.ws.retry.max-wait" {
		t.Errorf("problems %v", ps)
	}
}

// TestKETEBooleans: yes/no, on/off, 1/0, y/n, t/f in any case, as KETE's readers take them.
func TestKETEBooleans(t *testing.T) {
	for value, want := range map[string]bool{"yes": true, "On": true, "1": true, "Y": true, "t": true, "NO": false, "off": false, "0": false, "n": false, "F": false} {
		r := parse(t, "kete.routes.ws.destination.url=ws://h/\nkete.routes.ws.destination.binary-mode="+value+"\n").Route("ws")
		if r.Destination.BinaryMode != want {
			t.Errorf("binary-mode=%s read as %v", value, r.Destination.BinaryMode)
		}
	}
}

// TestKETESwitches: kete.enabled, KETE's legacy unprefixed enabled, kete.metrics.enabled.
func TestKETESwitches(t *testing.T) {
	route := "kete.routes.ws.destination.url=ws://h/\n"
	if c := parse(t, route); !c.Enabled || !c.MetricsEnabled {
		t.Errorf("defaults: enabled %v metrics %v", c.Enabled, c.MetricsEnabled)
	}
	if c := parse(t, route+"kete.enabled=off\n"); c.Enabled {
		t.Error("kete.enabled=off left kete on")
	}
	c := parse(t, route+"enabled=false\n")
	if c.Enabled || !warned(c, "enabled", "kete.enabled") {
		t.Errorf("legacy enabled=false: enabled %v, warnings %v", c.Enabled, c.Warnings)
	}
	if c := parse(t, route+"enabled=false\nkete.enabled=true\n"); c.Enabled {
		t.Error("either switch false must switch kete off")
	}
	if c := parse(t, route, "enabled=false"); c.Enabled {
		t.Error("legacy enabled as an environment variable was not read")
	}
	if c := parse(t, route+"kete.metrics.enabled=false\n"); c.MetricsEnabled || len(c.Warnings) != 0 {
		t.Errorf("kete.metrics.enabled=false: %v, warnings %v", c.MetricsEnabled, c.Warnings)
	}
}

// TestKETESharedKeys: TLS and shared destination keys are read with KETE's meaning or
// accepted with a warning; values KETE refuses are errors.
func TestKETESharedKeys(t *testing.T) {
	c := parse(t, `
kete.routes.ws.destination.url=wss://h/
kete.routes.ws.destination.tls.version=TLSv1.2
kete.routes.ws.destination.tls.trust-store.type=PKCS12
kete.routes.ws.destination.tls.trust-store.trust-manager-algorithm=PKIX
kete.routes.ws.destination.tls.key-store.type=JKS
kete.routes.ws.destination.tls.key-store.key-manager-algorithm=SunX509
kete.routes.ws.destination.authentication-type=oauth
kete.routes.ws.destination.content-encoding=gzip
kete.routes.ws.destination.content-transfer-encoding=base64
`)
	r := c.Route("ws")
	if r.Destination.TLS.Version != tlsVersion12 || r.Destination.tlsConfig == nil || r.Destination.tlsConfig.MaxVersion != tls.VersionTLS12 {
		t.Errorf("tls.version=TLSv1.2: %q, config %+v", r.Destination.TLS.Version, r.Destination.tlsConfig)
	}
	for _, key := range []string{"tls.trust-store.type", "tls.trust-store.trust-manager-algorithm", "tls.key-store.type", "tls.key-store.key-manager-algorithm", "authentication-type", "content-encoding", "content-transfer-encoding"} {
		if !warned(c, "kete.routes.ws.destination."+key, "accepted") {
			t.Errorf("no warning for %s: %v", key, c.Warnings)
		}
	}
	for _, tc := range []struct{ line, key, want string }{
		{"destination.tls.version=TLSv1.1", "destination.tls.version", "TLSv1.2"},
		{"destination.content-encoding=brotli", "destination.content-encoding", "gzip or deflate"},
		{"destination.content-transfer-encoding=hex", "destination.content-transfer-encoding", "base64"},
	} {
		ps := problems(t, FormatProperties, "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws."+tc.line+"\n")
		if len(ps) != 1 || ps[0].Key != "kete.routes.ws."+tc.key || !strings.Contains(ps[0].Reason, tc.want) {
			t.Errorf("%s: %v", tc.line, ps)
		}
	}
}

// TestKETEChanges: a route relying on KETE's TLS defaults is told what changed and the
// key that restores it; one that sets the key is not.
func TestKETEChanges(t *testing.T) {
	c := parse(t, "kete.routes.ws.destination.url=wss://h/\n")
	changes := strings.Join(c.KETEChanges(), "\n")
	if !strings.Contains(changes, "kete.routes.ws.destination.tls.verify-hostname=false") {
		t.Errorf("changes %q lack the hostname key", changes)
	}
	c = parse(t, "kete.routes.ws.destination.url=wss://h/\nkete.routes.ws.destination.tls.verify-hostname=true\n")
	if len(c.KETEChanges()) != 0 {
		t.Errorf("explicit verify-hostname: %v", c.KETEChanges())
	}
	if c := parse(t, "kete.routes.ws.destination.url=ws://h/\n"); len(c.KETEChanges()) != 0 {
		t.Errorf("no TLS, nothing changed: %v", c.KETEChanges())
	}
}

// TestKETEMatchersAndHeaders: matchers and headers as KETE parses them, from a
// .properties file too, where a backslash before * must survive.
func TestKETEMatchersAndHeaders(t *testing.T) {
	c := parse(t, `
kete.routes.ws.destination.url=ws://h/
kete.routes.ws.event-matchers.literal=glob:USER_\*
kete.routes.ws.event-matchers.digits=regex:^\d+$
kete.routes.ws.event-matchers.neg=glob: NOT : LOGIN*
kete.routes.ws.destination.headers.eventkind=x
kete.routes.ws.destination.headers.eventtype=x
kete.routes.ws.destination.headers.contenttype=x
kete.routes.ws.destination.headers.X-Tab=a\tb
`)
	r := c.Route("ws")
	m := map[string]MatcherSettings{}
	for _, ms := range r.EventMatchers {
		m[ms.Name] = ms
	}
	if !m["literal"].Matcher.Match("USER_*") || m["literal"].Matcher.Match("USER_CREATE") {
		t.Errorf("glob:USER_\\* from .properties is %q, want a literal *", m["literal"].Spec)
	}
	if !m["digits"].Matcher.Match("123") {
		t.Errorf("regex:^\\d+$ from .properties is %q", m["digits"].Spec)
	}
	if m["neg"].Matcher.Match("LOGIN") || !m["neg"].Matcher.Match("LOGOUT") {
		t.Errorf("glob: NOT : LOGIN* is not a negated LOGIN*")
	}
	for _, h := range []string{"eventkind", "eventtype", "contenttype"} {
		if _, ok := r.Destination.Headers[h]; ok || !warned(c, "kete.routes.ws.destination.headers."+h, "dropped") {
			t.Errorf("reserved header %s kept, or dropped without a warning", h)
		}
	}
	if r.Destination.Headers["X-Tab"] != "a\tb" {
		t.Errorf("a .properties escape (\\t) stopped working: %q", r.Destination.Headers["X-Tab"])
	}
}
