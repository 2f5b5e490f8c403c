package config

import (
	"testing"

	"github.com/kete-dev/kete"
)

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
