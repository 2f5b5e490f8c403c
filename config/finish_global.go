package config

import "strings"

// finishGlobal checks what the keys outside routes say together, once all are read.
func (d *decoder) finishGlobal() {
	d.finishKeycloak()
	d.finishWebhook()
	d.finishServer()
}

// finishKeycloak settles internal OAuth's realms and the poller's, and checks that
// whatever needs Keycloak's admin API can reach it.
func (d *decoder) finishKeycloak() {
	c := d.cfg
	k := &c.Keycloak
	var internal []string
	for i := range c.Routes {
		r := &c.Routes[i]
		if o := &r.Destination.OAuth; o.Enabled && o.Mode == OAuthInternal {
			if o.Realm == "" {
				o.Realm = k.Realm
			}
			if r.Enabled {
				internal = append(internal, r.Name)
			}
		}
	}
	if k.Username != "" && k.Password == "" && !d.failed("kete.keycloak.password") {
		d.add("kete.keycloak.password", "required with kete.keycloak.username")
	}
	if k.ClientSecret != "" && k.ClientID == "" {
		d.add("kete.keycloak.client-id", "required with kete.keycloak.client-secret")
	}
	var users []string
	if len(internal) > 0 {
		users = append(users, "route "+strings.Join(internal, ", ")+" (destination.oauth.mode=internal)")
	}
	if c.Sources.Keycloak.Enabled {
		users = append(users, "kete.sources.keycloak.enabled=true")
		if len(c.Sources.Keycloak.Realms) == 0 {
			c.Sources.Keycloak.Realms = []string{k.Realm}
		}
	}
	if len(users) > 0 {
		who := strings.Join(users, " and ")
		if k.URL == "" && !d.failed("kete.keycloak.url") {
			d.add("kete.keycloak.url", "required by "+who+": KETE ran inside Keycloak, kete reaches it over HTTP; write e.g. kete.keycloak.url=http://localhost:8080")
		}
		if k.ClientSecret == "" && k.Password == "" {
			d.add("kete.keycloak.client-secret", "admin credentials required by "+who+": kete.keycloak.client-id and client-secret, or username and password")
		}
	}
}

// finishWebhook checks the webhook's credentials.
func (d *decoder) finishWebhook() {
	if wh := d.cfg.Sources.Webhook; (wh.BasicUsername == "") != (wh.BasicPassword == "") {
		key := "kete.sources.webhook.basic-password"
		if wh.BasicUsername == "" {
			key = "kete.sources.webhook.basic-username"
		}
		if !d.failed(key) {
			d.add(key, "basic-username and basic-password go together")
		}
	}
	d.warnOpenWebhook()
}

// finishServer checks the bundled server's broker and TLS keys and loads its stores.
func (d *decoder) finishServer() {
	s := &d.cfg.Server
	if s.Broker.Kind != BrokerNATS {
		for _, key := range d.givenUnder("kete.server.nats.") {
			d.warn(key, "ignored: kete.server.broker is not a nats:// URL (the memory broker serves one node)")
		}
	}
	prefix := "kete.server.tls."
	if !s.TLS.Enabled {
		for _, key := range d.givenUnder(prefix) {
			if key != prefix+"enabled" {
				d.warn(key, "ignored: kete.server.tls.enabled is not true")
			}
		}
		return
	}
	if !s.TLS.KeyStore.Given() {
		d.add(prefix+"key-store.loader.kind", "required: a TLS server needs its certificate and key (kete.server.tls.key-store.*)")
		return
	}
	if d.checkStore(prefix+"key-store", s.TLS.KeyStore) && d.checkStore(prefix+"trust-store", s.TLS.TrustStore) {
		if _, err := s.TLSConfig(); err != nil {
			d.add(storeProblem(err, prefix))
		}
	}
}
