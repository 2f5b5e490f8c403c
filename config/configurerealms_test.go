package config

import "testing"

func TestConfigureRealmsKey(t *testing.T) {
	if c := parse(t, "kete.sources.keycloak.realms=acme\n"); c.Sources.Keycloak.ConfigureRealms {
		t.Error("configure-realms is on by default; want opt-in")
	}
	if c := parse(t, "kete.sources.keycloak.configure-realms=true\n"); !c.Sources.Keycloak.ConfigureRealms {
		t.Error("kete.sources.keycloak.configure-realms=true not read")
	}
}
