package config

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kete-dev/kete/internal/redact"
)

// decoder turns flat settings into a Config, collecting every problem on the way.
type decoder struct {
	settings map[string]setting
	cfg      *Config
	problems []Problem
	// unknownIn holds routes with an unknown key, whose missing keys are likely misspelt
	// rather than missing, so "required" is not reported for them.
	unknownIn map[string]bool

	global   []field                   // the keys outside routes
	routes   map[string]*RouteSettings // the routes met so far, by name
	fieldsOf map[string][]field        // each route's keys
	badNames map[string]bool           // route names already refused, reported once
}

var routeNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func decode(ctx context.Context, settings map[string]setting, environ []string) (*Config, []Problem) {
	c := defaultConfig()
	d := &decoder{settings: settings, cfg: c, unknownIn: map[string]bool{},
		global: globalFields(c), routes: map[string]*RouteSettings{}, fieldsOf: map[string][]field{}, badNames: map[string]bool{}}
	lookup := envLookup(environ)
	skipped := d.skippedRoutes(ctx, lookup)
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		if name, ok := routeOf(key); ok && skipped[name] != nil {
			continue // a route kete does not run: its keys are KETE's business, not checked
		}
		if key == legacyEnabledKey {
			d.applyLegacyEnabled(ctx, lookup)
			continue
		}
		d.decodeKey(ctx, key, lookup)
	}
	maps.Copy(d.routes, skipped)
	for _, name := range slices.Sorted(maps.Keys(d.routes)) {
		r := d.routes[name]
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

// decodeKey resolves key's references and sets the field it names.
func (d *decoder) decodeKey(ctx context.Context, key string, lookup func(string) (string, bool)) {
	s := d.settings[key]
	value, err := resolveRefs(ctx, s.raw, lookup)
	if err != nil {
		d.add(key, err.Error())
		return
	}
	s.value = strings.TrimSpace(value)
	d.settings[key] = s

	rel, ok := strings.CutPrefix(key, "kete.")
	switch {
	case !ok:
		d.add(key, "unknown key: kete reads only keys that start with kete.")
		return
	case rel == "routes":
		d.add(key, "kete.routes holds routes: kete.routes.<name>.<key>")
		return
	}
	if rest, ok := strings.CutPrefix(rel, "routes."); ok {
		d.decodeRouteKey(key, rest, s.value)
		return
	}
	f, dyn, ok := lookupField(d.global, rel)
	if !ok {
		reason := "unknown key"
		if s := suggest(rel, d.global); s != "" {
			reason += " (did you mean kete." + s + "?)"
		}
		d.add(key, reason)
		return
	}
	d.apply(key, f, dyn, s.value)
}

// decodeRouteKey sets a route's key; rest is key after "kete.routes.".
func (d *decoder) decodeRouteKey(key, rest, value string) {
	name, rkey, _ := strings.Cut(rest, ".")
	if !routeNamePattern.MatchString(name) {
		if !d.badNames[name] {
			d.badNames[name] = true
			d.add(key, fmt.Sprintf("route name %q: want letters, digits, '-' and '_' only, not empty", name))
		}
		return
	}
	r := d.routes[name]
	if r == nil {
		r = defaultRoute(name)
		d.routes[name] = r
		d.fieldsOf[name] = routeFields(r)
	}
	if rkey == "" {
		d.add(key, "a route is a section: kete.routes."+name+".<key>")
		d.unknownIn[name] = true
		return
	}
	f, dyn, ok := lookupField(d.fieldsOf[name], rkey)
	if !ok {
		d.add(key, unknownRouteKey(name, rkey, d.fieldsOf[name]))
		d.unknownIn[name] = true
		return
	}
	d.apply(key, f, dyn, value)
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
