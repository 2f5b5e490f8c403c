package config

import (
	"fmt"
	"strings"
)

// NoSourceWarning says, when no source is enabled, that `kete run` will take no events in
// and which key to set; "" when a source is enabled. A webhook that is configured
// (listen, path or a credential given) but not enabled is named as such: its listener
// then serves only /metrics, /healthz and /readyz and answers 404 to every post.
func (c *Config) NoSourceWarning() string {
	if c.Sources.Webhook.Enabled || c.Sources.Keycloak.Enabled {
		return ""
	}
	for _, k := range []string{"listen", "path", "secret", "bearer-token", "basic-username", "max-bytes"} {
		if c.Explicit("kete.sources.webhook." + k) {
			return fmt.Sprintf("kete.sources.webhook.%s is set but kete.sources.webhook.enabled is not: the daemon answers 404 to every webhook post; set kete.sources.webhook.enabled=true", k)
		}
	}
	if c.Explicit("kete.sources.keycloak.realms") || c.Explicit("kete.sources.keycloak.interval") {
		return "kete.sources.keycloak.* is set but kete.sources.keycloak.enabled is not: nothing is polled; set kete.sources.keycloak.enabled=true"
	}
	return "no source is enabled: `kete run` takes no events in; set kete.sources.webhook.enabled=true or kete.sources.keycloak.enabled=true (or run with --stdin)"
}

// ConfiguresDaemon reports whether the configuration sets any kete.sources.* or
// kete.spool.* key, i.e. is meant for `kete run` rather than for the library or `kete
// server`; `kete check` warns about sources only then.
func (c *Config) ConfiguresDaemon() bool {
	for k := range c.explicit {
		if strings.HasPrefix(k, "kete.sources.") || strings.HasPrefix(k, "kete.spool.") {
			return true
		}
	}
	return false
}

// KeycloakAdminConfigured reports whether kete.keycloak.* has a URL and admin
// credentials, so that kete can look realm names up by id.
func (c *Config) KeycloakAdminConfigured() bool {
	k := c.Keycloak
	return k.URL != "" && (k.Username != "" || (k.ClientID != "" && k.ClientSecret != ""))
}

// RealmMatcherNotes says, for each enabled route with realm matchers, what they are
// matched against when events come by webhook and kete cannot look realm names up:
// senders that carry only the realm's id (vymalo's HTTP sender, p2-inc's
// ext-event-http, Keycloak's own representations) match a matcher that lists the id, not
// the name.
func (c *Config) RealmMatcherNotes() []string {
	if !c.Sources.Webhook.Enabled || c.KeycloakAdminConfigured() {
		return nil
	}
	var notes []string
	for i := range c.Routes {
		r := &c.Routes[i]
		if !r.Enabled || len(r.RealmMatchers) == 0 {
			continue
		}
		specs := make([]string, len(r.RealmMatchers))
		for j, m := range r.RealmMatchers {
			specs[j] = "realm-matchers." + m.Name + "=" + m.Spec
		}
		notes = append(notes, fmt.Sprintf("route %s: %s match the realm's name or id; events from senders that send only the id "+
			"(vymalo keycloak-webhook's HTTP sender, p2-inc ext-event-http, Keycloak's own representations) match only if the matcher "+
			"lists the realm's id: add it, or set kete.keycloak.url and admin credentials (view-realm) so kete looks names up",
			r.Name, strings.Join(specs, ", ")))
	}
	return notes
}
