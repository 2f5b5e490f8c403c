package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

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
