package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/oauth"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/template"
	"github.com/kete-dev/kete/tlsconfig"
)

// Deps are what Router needs from outside the configuration: where to log, and the HTTP
// client for token endpoints and Keycloak's admin API (tests point it at their servers).
type Deps struct {
	// Logger receives each destination's connection events, tagged with the route; nil
	// means slog.Default().
	Logger *slog.Logger
	// HTTPClient is used for OAuth token requests and Keycloak's admin API; nil leaves
	// each package its default.
	HTTPClient *http.Client
}

// Router builds a *kete.Router with one route per enabled kete.routes.<name>: its
// matchers, serializer, and WebSocket destination (TLS, OAuth token source, pool)
// wrapped in the route's retry policy, for a caller that sends and waits. Internal OAuth
// registers its client in Keycloak here, so ctx bounds those calls. On error nothing is
// left open. Close the router to close its destinations.
func (c *Config) Router(ctx context.Context, deps Deps) (*kete.Router, error) {
	router, err := c.bareRouter(ctx, deps)
	if err != nil {
		return nil, err
	}
	for _, route := range router.Routes {
		if r := c.Route(route.Name); r.Retry.Enabled {
			route.Destination = destination.WithRetry(route.Destination, r.Retry)
		}
	}
	return router, nil
}

// bareRouter is Router without retries: each route's destination tries a send once.
func (c *Config) bareRouter(ctx context.Context, deps Deps) (*kete.Router, error) {
	router := &kete.Router{}
	if !c.Enabled {
		return router, nil
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	var admin *keycloak.Admin // shared by internal-mode routes, made on first use
	for i := range c.Routes {
		r := &c.Routes[i]
		if !r.Enabled {
			continue
		}
		route, err := c.buildRoute(ctx, r, deps, &admin)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("route %s: %w", r.Name, err), router.Close())
		}
		router.Routes = append(router.Routes, route)
	}
	return router, nil
}

func (c *Config) buildRoute(ctx context.Context, r *RouteSettings, deps Deps, admin **keycloak.Admin) (*kete.Route, error) {
	p := "kete.routes." + r.Name + "."
	dst := &r.Destination
	if dst.Kind != DestinationWebSocket {
		return nil, fmt.Errorf("%sdestination.kind %q: want one of %s", p, dst.Kind, DestinationWebSocket)
	}
	ser := r.serializer
	if ser == nil { // a Config built by hand rather than by Load
		var err error
		if ser, err = serializer.Build(r.Serializer.Options()); err != nil {
			return nil, fmt.Errorf("%sserializer: %w", p, err)
		}
	}
	urlTemplate := dst.url
	if urlTemplate == nil {
		var err error
		if urlTemplate, err = template.Compile(dst.URL); err != nil {
			return nil, fmt.Errorf("%sdestination.url: %w", p, err)
		}
	}
	var tlsCfg *tls.Config
	if dst.TLS.Enabled {
		tlsCfg = dst.tlsConfig
		if tlsCfg == nil {
			var err error
			if tlsCfg, err = tlsconfig.Client(clientTLSOptions(p, dst.TLS)); err != nil {
				return nil, err
			}
			applyTLSVersion(tlsCfg, dst.TLS.Version)
		}
	}
	var token destination.TokenSource
	if dst.OAuth.Enabled {
		var err error
		if token, err = c.tokenSource(ctx, r, deps, admin); err != nil {
			return nil, fmt.Errorf("%sdestination.oauth: %w", p, err)
		}
	}
	var header http.Header
	if len(dst.Headers) > 0 {
		header = make(http.Header, len(dst.Headers))
		for name, value := range dst.Headers {
			if value != "" {
				header.Set(name, value)
			}
		}
	}
	ws, err := destination.NewWebSocket(destination.WebSocketOptions{
		URL:                   urlTemplate,
		BinaryMode:            dst.BinaryMode,
		TrustUTF8:             trustUTF8(ser),
		Subprotocols:          dst.Subprotocols,
		ConnectTimeout:        dst.ConnectTimeout,
		ConnectionLostTimeout: dst.ConnectionLostTimeout,
		Pool:                  poolOptions(dst.Pool),
		Headers:               header,
		TLS:                   tlsCfg,
		Token:                 token,
		Logger:                deps.Logger.With("route", r.Name),
	})
	if err != nil {
		return nil, err
	}
	return &kete.Route{
		Name:           r.Name,
		RealmMatchers:  matchers(r.RealmMatchers),
		RealmMatchMode: r.RealmMatchMode,
		EventMatchers:  matchers(r.EventMatchers),
		EventMatchMode: r.EventMatchMode,
		Serializer:     ser,
		Destination:    ws,
	}, nil
}

func matchers(ms []MatcherSettings) []kete.Matcher {
	if len(ms) == 0 {
		return nil
	}
	out := make([]kete.Matcher, len(ms))
	for i, m := range ms {
		out[i] = m.Matcher
	}
	return out
}

// tokenSource makes the route's OAuth token source: client credentials against token-url
// (external), or a client registered in the attached Keycloak (internal).
func (c *Config) tokenSource(ctx context.Context, r *RouteSettings, deps Deps, admin **keycloak.Admin) (*oauth.Source, error) {
	o := r.Destination.OAuth
	scopes := strings.Fields(o.Scope)
	if o.Mode != OAuthInternal {
		return oauth.NewExternal(oauth.External{
			TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Scopes: scopes, HTTPClient: deps.HTTPClient, Timeout: o.Timeout,
		})
	}
	if c.Keycloak.URL == "" {
		return nil, errors.New("internal mode needs kete.keycloak.url")
	}
	if *admin == nil {
		*admin = c.Keycloak.Admin(deps.HTTPClient)
	}
	realm := o.Realm
	if realm == "" {
		realm = c.Keycloak.Realm
	}
	return oauth.NewInternal(ctx, *admin, oauth.Internal{
		Realm: realm, ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL,
		Scopes: scopes, HTTPClient: deps.HTTPClient, Timeout: o.Timeout,
	})
}

// Admin returns a Keycloak admin client for kete.keycloak.*, for internal OAuth and the
// events poller; hc nil means the keycloak package's default client.
func (k KeycloakSettings) Admin(hc *http.Client) *keycloak.Admin {
	return keycloak.NewAdmin(keycloak.AdminOptions{
		URL: k.URL, Realm: k.Realm, ClientID: k.ClientID, ClientSecret: k.ClientSecret,
		Username: k.Username, Password: k.Password, HTTPClient: hc,
	})
}

// trustUTF8 reports whether ser cannot write invalid UTF-8, so that text frames need no check.
func trustUTF8(ser kete.Serializer) bool {
	_, ok := ser.(kete.UTF8Serializer)
	return ok
}
