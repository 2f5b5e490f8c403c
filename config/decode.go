package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/template"
	"github.com/kete-dev/kete/tlsconfig"
)

// decoder turns flat settings into a Config, collecting every problem on the way.
type decoder struct {
	settings map[string]setting
	cfg      *Config
	problems []Problem
	// unknownIn holds routes with an unknown key, whose missing keys are likely misspelt
	// rather than missing, so "required" is not reported for them.
	unknownIn map[string]bool
}

var routeNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func decode(ctx context.Context, settings map[string]setting, environ []string) (*Config, []Problem) {
	c := defaultConfig()
	d := &decoder{settings: settings, cfg: c, unknownIn: map[string]bool{}}
	lookup := envLookup(environ)
	global := globalFields(c)
	routes := map[string]*RouteSettings{}
	fieldsOf := map[string][]field{}
	badNames := map[string]bool{}

	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	skipped := d.skippedRoutes(ctx, lookup)
	for _, key := range keys {
		s := settings[key]
		if name, ok := routeOf(key); ok && skipped[name] != nil {
			continue // a route kete does not run: its keys are KETE's business, not checked
		}
		if key == legacyEnabledKey {
			d.applyLegacyEnabled(ctx, lookup)
			continue
		}
		value, err := resolveRefs(ctx, s.raw, lookup)
		if err != nil {
			d.add(key, err.Error())
			continue
		}
		s.value = strings.TrimSpace(value)
		settings[key] = s

		rel, ok := strings.CutPrefix(key, "kete.")
		if !ok {
			d.add(key, "unknown key: kete reads only keys that start with kete.")
			continue
		}
		if rel == "routes" {
			d.add(key, "kete.routes holds routes: kete.routes.<name>.<key>")
			continue
		}
		if rest, ok := strings.CutPrefix(rel, "routes."); ok {
			name, rkey, _ := strings.Cut(rest, ".")
			if !routeNamePattern.MatchString(name) {
				if !badNames[name] {
					badNames[name] = true
					d.add(key, fmt.Sprintf("route name %q: want letters, digits, '-' and '_' only, not empty", name))
				}
				continue
			}
			r := routes[name]
			if r == nil {
				r = defaultRoute(name)
				routes[name] = r
				fieldsOf[name] = routeFields(r)
			}
			if rkey == "" {
				d.add(key, "a route is a section: kete.routes."+name+".<key>")
				d.unknownIn[name] = true
				continue
			}
			f, dyn, ok := lookupField(fieldsOf[name], rkey)
			if !ok {
				d.add(key, unknownRouteKey(name, rkey, fieldsOf[name]))
				d.unknownIn[name] = true
				continue
			}
			d.apply(key, f, dyn, s.value)
			continue
		}
		f, dyn, ok := lookupField(global, rel)
		if !ok {
			reason := "unknown key"
			if s := suggest(rel, global); s != "" {
				reason += " (did you mean kete." + s + "?)"
			}
			d.add(key, reason)
			continue
		}
		d.apply(key, f, dyn, s.value)
	}

	for name, sk := range skipped {
		routes[name] = sk
	}
	names := make([]string, 0, len(routes))
	for name := range routes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := routes[name]
		if skipped[name] == nil {
			d.finishRoute(r)
		}
		c.Routes = append(c.Routes, *r)
	}
	if c.legacyDisabled {
		c.Enabled = false
	}
	d.finishGlobal()
	return c, d.problems
}

func unknownRouteKey(route, rkey string, fields []field) string {
	if s := suggest(rkey, fields); s != "" {
		return "unknown key (did you mean kete.routes." + route + "." + s + "?)"
	}
	// kete.routes.my.route.destination.url: a route name with a dot in it.
	segs := strings.Split(rkey, ".")
	for i := 1; i < len(segs); i++ {
		if _, _, ok := lookupField(fields, strings.Join(segs[i:], ".")); ok {
			return fmt.Sprintf("unknown key; a route name must not contain '.' (is the route %q?)", route+"."+strings.Join(segs[:i], "."))
		}
	}
	return "unknown key; a route's keys start with " + strings.Join(fieldGroups(fields), ", ")
}

// apply parses one value into its field; a blank value leaves the default.
func (d *decoder) apply(key string, f field, name, value string) {
	if value == "" {
		return
	}
	d.cfg.explicit[key] = d.settings[key].envVar
	if err := f.set(name, value); err != nil {
		var ign ignored
		if errors.As(err, &ign) {
			d.cfg.Warnings = append(d.cfg.Warnings, d.problem(key, err.Error()))
			return
		}
		d.add(key, err.Error())
	}
}

func (d *decoder) problem(key, reason string) Problem {
	s := d.settings[key]
	return Problem{Key: key, Env: s.envVar, Value: redact.Value(key, s.raw), Reason: reason}
}

// add records a problem with key; the value and origin come from the settings.
func (d *decoder) add(key, reason string) { d.problems = append(d.problems, d.problem(key, reason)) }

func (d *decoder) warn(key, reason string) {
	d.cfg.Warnings = append(d.cfg.Warnings, d.problem(key, reason))
}

func (d *decoder) given(key string) bool { return d.settings[key].value != "" }

// givenUnder lists the keys given under prefix (a section), sorted.
func (d *decoder) givenUnder(prefix string) []string {
	var keys []string
	for k, s := range d.settings {
		if strings.HasPrefix(k, prefix) && s.value != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

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

// finishTLS checks the stores and, for an enabled route with TLS on, loads them, so
// that a missing file or a wrong password shows up when the config is checked.
func (d *decoder) finishTLS(r *RouteSettings, p string) {
	t := &r.Destination.TLS
	prefix := p + "destination.tls."
	if !t.Enabled {
		hint := "set destination.tls.enabled=true" // host, port and path
		if d.given(p + "destination.url") {
			hint = "use a wss:// URL" // tls.enabled=true is an error with ws://
		}
		for _, k := range d.givenUnder(prefix) {
			if k != prefix+"enabled" {
				d.warn(k, "ignored: TLS is off ("+hint+")")
			}
		}
		return
	}
	trustOK := d.checkStore(prefix+"trust-store", t.TrustStore)
	keyOK := d.checkStore(prefix+"key-store", t.KeyStore)
	if !r.Enabled || !trustOK || !keyOK {
		return
	}
	cfg, err := tlsconfig.Client(clientTLSOptions(p, *t))
	if err != nil {
		d.add(storeProblem(err, prefix))
		return
	}
	applyTLSVersion(cfg, t.Version)
	r.Destination.tlsConfig = cfg
}

func clientTLSOptions(p string, t TLSSettings) tlsconfig.Options {
	o := tlsconfig.Options{VerifyHostname: t.VerifyHostname}
	if t.TrustStore.Given() {
		o.TrustStore = tlsStore(p+"destination.tls.trust-store", t.TrustStore)
	}
	if t.KeyStore.Given() {
		o.KeyStore = tlsStore(p+"destination.tls.key-store", t.KeyStore)
	}
	return o
}

func tlsStore(name string, s StoreSettings) *tlsconfig.Store {
	return &tlsconfig.Store{
		Name:        name,
		Loader:      tlsconfig.Loader{Kind: s.Loader.Kind, Path: s.Loader.Path, Base64: s.Loader.Base64, Text: s.Loader.Text},
		Password:    s.Password,
		KeyPassword: s.KeyPassword,
	}
}

// storeProblem splits an error of tlsconfig into the key to blame and the reason: the
// store a *tlsconfig.StoreError names (its Name is the store's key), else the section.
func storeProblem(err error, prefix string) (key, reason string) {
	if se := (*tlsconfig.StoreError)(nil); errors.As(err, &se) && strings.HasPrefix(se.Store, prefix) {
		return se.Store, se.Err.Error()
	}
	return strings.TrimSuffix(prefix, "."), err.Error()
}

// checkStore checks that a store's loader names one source that fits its kind.
func (d *decoder) checkStore(key string, s StoreSettings) bool {
	if !s.Given() {
		return true
	}
	l := s.Loader
	if l.Kind == "" {
		d.add(key+".loader.kind", "required: one of "+tlsconfig.KindList())
		return false
	}
	ok := true
	want := l.Kind.Source()
	for _, src := range []struct{ name, value string }{{"path", l.Path}, {"base64", l.Base64}, {"text", l.Text}} {
		switch {
		case src.name == want && src.value == "":
			d.add(key+".loader."+src.name, "required by loader.kind="+l.Kind.String())
			ok = false
		case src.name != want && src.value != "":
			d.add(key+".loader."+src.name, "not used by loader.kind="+l.Kind.String()+"; set loader."+want)
			ok = false
		}
	}
	return ok
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

// failed reports whether key already has a problem, so a refused value is not also
// reported as missing.
func (d *decoder) failed(key string) bool {
	for _, p := range d.problems {
		if p.Key == key {
			return true
		}
	}
	return false
}

func (d *decoder) finishGlobal() {
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

	if wh := c.Sources.Webhook; (wh.BasicUsername == "") != (wh.BasicPassword == "") {
		key := "kete.sources.webhook.basic-password"
		if wh.BasicUsername == "" {
			key = "kete.sources.webhook.basic-username"
		}
		if !d.failed(key) {
			d.add(key, "basic-username and basic-password go together")
		}
	}
	d.warnOpenWebhook()

	s := &c.Server
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

// singleListItem returns the one item of ms when ms is one positive list: matcher with a
// single item (the realm an internal OAuth client belongs to).
func singleListItem(ms []MatcherSettings) (string, bool) {
	items := listItems(ms)
	if len(ms) != 1 || len(items) != 1 {
		return "", false
	}
	return items[0], true
}

// listItems returns the items of the positive list: matchers among ms, in order.
func listItems(ms []MatcherSettings) []string {
	var out []string
	for _, m := range ms {
		kind, pattern, _ := strings.Cut(m.Spec, ":")
		if strings.EqualFold(strings.TrimSpace(kind), "list") && !strings.HasPrefix(pattern, "not:") {
			out = append(out, splitList(pattern)...)
		}
	}
	return out
}

// SampleEvent is the event `kete check` renders a route's URL for: the first candidate
// the route's matchers accept, trying the realms and event types its list: matchers name
// before master/LOGIN and a few common ones (an admin event for names like USER_CREATE).
// When none matches (regex or glob matchers that no candidate meets), it is the first
// candidate: a LOGIN in the first realm named, else master.
func SampleEvent(r *RouteSettings) *kete.Event {
	realms := append(listItems(r.RealmMatchers), DefaultKeycloakRealm, "acme", "demo", "test")
	types := append(listItems(r.EventMatchers), "LOGIN", "LOGIN_ERROR", "LOGOUT", "REGISTER", "CODE_TO_TOKEN", "USER_CREATE", "USER_UPDATE", "CLIENT_CREATE")
	route := &kete.Route{RealmMatchers: matchers(r.RealmMatchers), RealmMatchMode: r.RealmMatchMode,
		EventMatchers: matchers(r.EventMatchers), EventMatchMode: r.EventMatchMode}
	compiled := true
	for _, m := range append(slices.Clone(r.RealmMatchers), r.EventMatchers...) {
		compiled = compiled && m.Matcher != nil
	}
	first := sampleEvent(realms[0], types[0])
	if !compiled {
		return first
	}
	for _, realm := range realms {
		for _, typ := range types {
			if e := sampleEvent(realm, typ); route.Matches(e) {
				return e
			}
		}
	}
	return first
}

// sampleEvent is a user event of type typ in realm, or an admin event when typ reads like
// RESOURCE_OPERATION (USER_CREATE).
func sampleEvent(realm, typ string) *kete.Event {
	typ = strings.ToUpper(typ)
	e := &kete.Event{Kind: kete.KindEvent, ID: "00000000-0000-4000-8000-000000000000", Time: 1767225600000, RealmID: realm, RealmName: realm, Type: typ, ClientID: "account", UserID: "user-1"}
	for _, op := range []string{"CREATE", "UPDATE", "DELETE", "ACTION"} {
		if res, found := strings.CutSuffix(typ, "_"+op); found && res != "" {
			e.Kind, e.Type, e.ResourceType, e.OperationType = kete.KindAdminEvent, "", res, op
			e.ClientID, e.UserID = "", ""
			e.AuthDetails = &kete.AuthDetails{RealmID: realm, ClientID: "admin-cli", UserID: "user-1"}
		}
	}
	return e
}
