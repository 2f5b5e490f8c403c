package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/template"
)

func (d *decoder) finishRoute(r *RouteSettings) {
	p := "kete.routes." + r.Name + "."
	sortMatchers(r.RealmMatchers)
	sortMatchers(r.EventMatchers)
	dst := &r.Destination

	// KETE has no max-wait: a wait-duration above kete's default cap raises the cap rather
	// than failing on a key the user never set.
	if cap := r.Retry.MaxWait; !d.given(p+"retry.max-wait") && (cap <= 0 && r.Retry.WaitDuration > kete.DefaultRetryMaxWait || cap > 0 && r.Retry.WaitDuration > cap) {
		r.Retry.MaxWait = r.Retry.WaitDuration
	}
	if r.Retry.MaxWait > 0 && r.Retry.MaxWait < r.Retry.WaitDuration {
		d.add(p+"retry.max-wait", fmt.Sprintf("must not be less than retry.wait-duration (%s)", r.Retry.WaitDuration))
	}
	if !r.Retry.Enabled {
		for _, k := range []string{"max-attempts", "wait-duration", "max-wait"} {
			if d.given(p + "retry." + k) {
				d.warn(p+"retry."+k, "ignored: retry.enabled is false")
			}
		}
	}
	// A max-total below the default idle sizes lowers them, unless they were given.
	pool := &dst.Pool
	if !d.given(p + "destination.pool.max-idle") {
		pool.MaxIdle = min(pool.MaxIdle, pool.MaxTotal)
	}
	if !d.given(p + "destination.pool.min-idle") {
		pool.MinIdle = min(pool.MinIdle, pool.MaxIdle)
	}
	if pool.MinIdle > pool.MaxTotal {
		d.add(p+"destination.pool.min-idle", fmt.Sprintf("must not be more than destination.pool.max-total (%d)", pool.MaxTotal))
	}
	if pool.MaxIdle > pool.MaxTotal {
		d.add(p+"destination.pool.max-idle", fmt.Sprintf("must not be more than destination.pool.max-total (%d)", pool.MaxTotal))
	}
	if pool.MinIdle > pool.MaxIdle && pool.MinIdle <= pool.MaxTotal {
		d.add(p+"destination.pool.min-idle", fmt.Sprintf("must not be more than destination.pool.max-idle (%d)", pool.MaxIdle))
	}

	d.finishSerializer(r, p)
	d.finishURL(r, p)
	d.finishTLS(r, p)
	d.finishOAuth(r, p)
}

// finishSerializer builds the route's serializer, so that a bad template or a key the
// kind does not read is found now.
func (d *decoder) finishSerializer(r *RouteSettings, p string) {
	if d.failed(p + "serializer.kind") {
		return // the kind was refused: the keys it would read cannot be judged
	}
	ser, err := serializer.Build(r.Serializer.Options())
	if ke := (*serializer.KeyError)(nil); errors.As(err, &ke) {
		d.add(p+ke.Key, ke.Reason)
	} else if err != nil {
		d.add(p+"serializer.kind", err.Error())
	}
	r.serializer = ser
	// A binary kind in text frames would reach the server as invalid UTF-8 and be
	// refused, every event; KETE would send it mangled by a UTF-8 decode.
	if err == nil && serializer.IsBinary(string(r.Serializer.Kind)) && !r.Destination.BinaryMode {
		d.add(p+"destination.binary-mode", fmt.Sprintf("must be true: serializer.kind %s writes binary, which WebSocket text frames cannot carry; set %sdestination.binary-mode=true", r.Serializer.Kind, p))
	}
}

// finishURL settles the URL template: destination.url, or host, port and path.
func (d *decoder) finishURL(r *RouteSettings, p string) {
	dst := &r.Destination
	urlKey := p + "destination.url"
	if dst.URL != "" {
		for _, k := range []string{"host", "port", "path"} {
			if d.given(p + "destination." + k) {
				d.warn(p+"destination."+k, "ignored: destination.url takes precedence")
			}
		}
		scheme, _, _ := strings.Cut(dst.URL, "://")
		switch strings.ToLower(scheme) {
		case "wss":
			if d.given(p+"destination.tls.enabled") && !dst.TLS.Enabled {
				d.add(p+"destination.tls.enabled", "the URL is wss://, which is always TLS")
			}
			dst.TLS.Enabled = true
		case "ws":
			if dst.TLS.Enabled {
				d.add(p+"destination.tls.enabled", "the URL is ws://; write wss:// for TLS")
			}
		default:
			d.add(urlKey, "want a ws:// or wss:// URL")
			return
		}
		dst.URL = strings.ToLower(scheme) + dst.URL[len(scheme):]
	} else if dst.Host != "" {
		urlKey = p + "destination.host"
		scheme, port := "ws", 80
		if dst.TLS.Enabled {
			scheme, port = "wss", 443
		}
		if dst.Port == 0 {
			dst.Port = port
		}
		if dst.Path == "" {
			dst.Path = "/"
		}
		hostPort := dst.Host
		if dst.Port != port || strings.Contains(dst.Host, ":") {
			hostPort = net.JoinHostPort(dst.Host, strconv.Itoa(dst.Port))
		}
		dst.URL = scheme + "://" + hostPort + dst.Path
	} else {
		if r.Enabled && !d.unknownIn[r.Name] {
			d.add(urlKey, "required: set destination.url (ws:// or wss://), or destination.host")
		}
		return
	}
	t, err := template.Compile(dst.URL)
	if err != nil {
		d.add(urlKey, err.Error())
		return
	}
	example, err := destination.RenderURL(dst.URL, SampleEvent(r))
	if err != nil {
		d.add(urlKey, err.Error())
		return
	}
	u, err := url.Parse(example)
	if err != nil || u.Host == "" {
		reason := fmt.Sprintf("renders to %q, which is not a URL", example)
		if err != nil {
			reason += ": " + errors.Unwrap(err).Error()
		}
		d.add(urlKey, reason)
		return
	}
	dst.url = t
}

func (d *decoder) finishOAuth(r *RouteSettings, p string) {
	o := &r.Destination.OAuth
	prefix := p + "destination.oauth."
	if !o.Enabled {
		for _, k := range d.givenUnder(prefix) {
			if k != prefix+"enabled" {
				d.warn(k, "ignored: destination.oauth.enabled is not true")
			}
		}
		return
	}
	for name := range r.Destination.Headers {
		if strings.EqualFold(name, "Authorization") {
			d.warn(p+"destination.headers."+name, "replaced by the OAuth bearer token: destination.oauth.enabled is true")
		}
	}
	if d.failed(prefix + "mode") {
		return // what a refused mode requires cannot be judged
	}
	switch o.Mode {
	case OAuthExternal:
		if d.given(prefix + "realm") {
			d.warn(prefix+"realm", "ignored in external mode (only internal mode registers a client in a realm)")
		}
		if !r.Enabled || d.unknownIn[r.Name] {
			return
		}
		for _, k := range []struct {
			key   string
			value string
		}{{"token-url", o.TokenURL}, {"client-id", o.ClientID}, {"client-secret", o.ClientSecret}} {
			if k.value == "" && !d.failed(prefix+k.key) {
				d.add(prefix+k.key, "required when destination.oauth.enabled=true and destination.oauth.mode=external")
			}
		}
	case OAuthInternal:
		if o.ClientID == "" {
			o.ClientID = DefaultInternalClientID
		}
		if o.Realm == "" {
			if realm, ok := singleListItem(r.RealmMatchers); ok {
				o.Realm = realm
			}
		}
		// The fallback to kete.keycloak.realm happens in finishGlobal, once that is read.
	}
}
