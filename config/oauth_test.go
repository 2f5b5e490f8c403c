package config

import (
	"testing"
)

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
