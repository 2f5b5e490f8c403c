package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

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
