package config

import (
	"fmt"
	"net"
	"strings"
)

// Open reports whether the webhook takes posts from the network without any proof of
// who sent them: enabled, listening beyond loopback, and without a secret, a bearer
// token or basic auth. Subscribers take what it takes in as Keycloak's own events, so an
// open webhook lets anyone who can reach it invent logins and admin changes.
func (w WebhookSettings) Open() bool {
	return w.Enabled && w.Secret == "" && w.BearerToken == "" && w.BasicUsername == "" && !loopbackOnly(w.Listen)
}

// loopbackOnly reports whether addr (host:port) listens on this host alone: a loopback
// IP or "localhost". An empty host (":8081") is every interface; another name may
// resolve to anything, so it counts as reachable.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // RFC 6761 §6.3: localhost names resolve to loopback only
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnOpenWebhook warns about an open webhook (see WebhookSettings.Open); `kete check`
// prints it and `kete run` logs it.
func (d *decoder) warnOpenWebhook() {
	wh := d.cfg.Sources.Webhook
	if !wh.Open() {
		return
	}
	d.warn("kete.sources.webhook.listen", fmt.Sprintf("the webhook on %s takes events from anyone who can reach it, "+
		"and subscribers take them as real identity events: set kete.sources.webhook.secret, bearer-token, "+
		"or basic-username and basic-password, or listen on 127.0.0.1", wh.Listen))
}
