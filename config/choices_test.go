package config

import (
	"strings"
	"testing"

	"github.com/kete-dev/kete/tlsconfig"
)

// Each setting with a fixed set of values is read once into its typed value; an unknown
// value is one problem, on its key, listing what is allowed.
func TestChoicesRefuseUnknownValues(t *testing.T) {
	const url = "kete.routes.ws.destination.url=wss://h/\n"
	for _, tc := range []struct {
		text, key, reason string
	}{
		{url + "kete.routes.ws.destination.oauth.enabled=true\nkete.routes.ws.destination.oauth.mode=intern",
			"kete.routes.ws.destination.oauth.mode", "want one of external, internal"},
		{url + "kete.routes.ws.destination.kind=kafak", "kete.routes.ws.destination.kind", "want websocket"},
		{url + "kete.routes.ws.serializer.kind=msgpack", "kete.routes.ws.serializer.kind", `"msgpack": unknown, want one of json, cloudevents`},
		// The keys a refused kind would read are not judged: one problem, not two.
		{url + "kete.routes.ws.serializer.kind=templat\nkete.routes.ws.serializer.template={{.Type}}", "kete.routes.ws.serializer.kind", "unknown"},
		{url + "kete.routes.ws.destination.tls.trust-store.loader.kind=pem", "kete.routes.ws.destination.tls.trust-store.loader.kind", "want one of " + tlsconfig.KindList()},
		{"kete.server.tls.client-auth=always", "kete.server.tls.client-auth", "want none, request or require-and-verify"},
		{"kete.server.broker=redis://h:6379", "kete.server.broker", "want memory or a nats:// URL"},
	} {
		ps := problems(t, FormatProperties, tc.text)
		if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Reason, tc.reason) {
			t.Errorf("%q: problems %v; want one for %s saying %q", tc.text, ps, tc.key, tc.reason)
		}
	}
}

func TestChoicesReadOnce(t *testing.T) {
	c := parse(t, `
kete.routes.ws.destination.url=ws://h/
kete.routes.ws.destination.kind=WebSocket
kete.routes.ws.serializer.kind=CloudEvents
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.mode=Internal
kete.routes.ws.destination.tls.trust-store.loader.kind=PEM-File-Text
kete.routes.ws.destination.tls.trust-store.loader.text=x
kete.keycloak.url=http://kc
kete.keycloak.client-id=kete
kete.keycloak.client-secret=s
kete.server.broker=TLS://nats.example:4222
`)
	r := c.Route("ws")
	if d := r.Destination; d.Kind != DestinationWebSocket || d.OAuth.Mode != OAuthInternal || d.TLS.TrustStore.Loader.Kind != tlsconfig.KindPEMText {
		t.Errorf("destination kind %q, oauth mode %v, loader kind %q", d.Kind, d.OAuth.Mode, d.TLS.TrustStore.Loader.Kind)
	}
	if r.Serializer.Kind != "cloudevents" {
		t.Errorf("serializer kind %q", r.Serializer.Kind)
	}
	// The scheme is read in any case, as url.Parse reads it: TLS:// asks for TLS too.
	if b := c.Server.Broker; b.Kind != BrokerNATS || !b.TLS() || b.String() != "TLS://nats.example:4222" {
		t.Errorf("broker %+v (TLS %v)", b, b.TLS())
	}
	if OAuthExternal.String() != "external" || OAuthInternal.String() != "internal" || MemoryBroker.String() != "memory" {
		t.Error("String does not spell the value as configured")
	}
}
