package config

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// envName is the variable name a key maps to: upper case, with '.' and '-' as '_'.
func envName(key string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '-':
			return '_'
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, key)
}

const envRoutes = envPrefix + "ROUTES_"

// keyIndex resolves KETE_ variable names to keys. It knows every fixed key, and the
// routes, matchers and headers the file names, so that a variable can override those
// with their exact spelling.
type keyIndex struct {
	global map[string]string // env name → key, for keys outside routes
	// routeKeys maps a route-relative env name (DESTINATION_POOL_MAX_TOTAL) to its key.
	routeKeys map[string]string
	// prefixes are the route-relative prefix fields (REALM_MATCHERS_ → realm-matchers).
	prefixes map[string]string
	// routes maps a route's env name to its names in the file (normally one).
	routes map[string][]string
	// names maps route + "." + prefix field + "." + env name of a matcher or header to
	// the name the file spells it with.
	names map[string]string
}

func newKeyIndex(file map[string]setting) *keyIndex {
	idx := &keyIndex{
		global:    map[string]string{},
		routeKeys: map[string]string{},
		prefixes:  map[string]string{},
		routes:    map[string][]string{},
		names:     map[string]string{},
	}
	for _, f := range globalFields(defaultConfig()) {
		idx.global[envPrefix+envName(f.key)] = "kete." + f.key
	}
	for _, f := range routeFields(defaultRoute("")) {
		if f.prefix {
			idx.prefixes[envName(f.key)+"_"] = f.key
		} else {
			idx.routeKeys[envName(f.key)] = f.key
		}
	}
	seen := map[string]bool{}
	for key := range file {
		rest, ok := strings.CutPrefix(key, "kete.routes.")
		if !ok {
			continue
		}
		name, rel, _ := strings.Cut(rest, ".")
		if !seen[name] {
			seen[name] = true
			idx.routes[envName(name)] = append(idx.routes[envName(name)], name)
		}
		for _, prefix := range idx.prefixes {
			if dyn, ok := strings.CutPrefix(rel, prefix+"."); ok {
				idx.names[name+"."+prefix+"."+envName(dyn)] = dyn
			}
		}
	}
	for _, names := range idx.routes {
		sort.Strings(names)
	}
	return idx
}

// resolve maps a KETE_ variable name to a key; see the package doc for the rule.
func (idx *keyIndex) resolve(varName string) (string, error) {
	upper := envName(varName)
	if key, ok := idx.global[upper]; ok {
		return key, nil
	}
	rem, ok := strings.CutPrefix(upper, envRoutes)
	if !ok {
		return "", idx.unknown(upper)
	}
	// KETE_ROUTES_<ROUTE>__<KEY>: the double underscore says where the name ends.
	if routePart, keyPart, found := strings.Cut(rem, "__"); found {
		route, err := idx.routeName(routePart)
		if err != nil {
			return "", err
		}
		rel, ok := idx.routeKey(route, keyPart)
		if !ok {
			return "", fmt.Errorf("%s names no key of route %s", keyPart, route)
		}
		return "kete.routes." + route + "." + rel, nil
	}
	// Routes named in the file first: exactly one must fit.
	var fits []string
	for i := 0; i < len(rem); i++ {
		if rem[i] != '_' {
			continue
		}
		for _, route := range idx.routes[rem[:i]] {
			if rel, ok := idx.routeKey(route, rem[i+1:]); ok {
				fits = append(fits, "kete.routes."+route+"."+rel)
			}
		}
	}
	switch len(fits) {
	case 1:
		return fits[0], nil
	case 0:
	default:
		return "", fmt.Errorf("ambiguous: could be %s; write KETE_ROUTES_<ROUTE>__<KEY> to say where the route name ends", strings.Join(fits, " or "))
	}
	// A variable that starts with a file route's name but fits none of its keys is a typo
	// more likely than a new route (KETE_ROUTES_WS_DESTINATION_TSL_ENABLED).
	for i := 0; i < len(rem); i++ {
		if rem[i] == '_' && len(idx.routes[rem[:i]]) > 0 {
			err := idx.unknown(upper)
			return "", fmt.Errorf("%w; for a new route whose name starts with %s, write KETE_ROUTES_<ROUTE>__<KEY>", err, idx.routes[rem[:i]][0])
		}
	}
	// A route only the environment names: the shortest name that leaves a known key.
	for i := 1; i < len(rem); i++ {
		if rem[i] != '_' {
			continue
		}
		route := envRouteName(rem[:i])
		rel, ok := idx.routeKey(route, rem[i+1:])
		if !ok {
			continue
		}
		for _, word := range strings.Split(route, "-") {
			if word == "destination" || word == "serializer" {
				return "", fmt.Errorf("%w (read as route %q, key %s; if that is meant, write KETE_ROUTES_<ROUTE>__<KEY>)", idx.unknown(upper), route, rel)
			}
		}
		return "kete.routes." + route + "." + rel, nil
	}
	return "", idx.unknown(upper)
}

func (idx *keyIndex) routeName(envPart string) (string, error) {
	switch names := idx.routes[envPart]; len(names) {
	case 0:
		if envPart == "" {
			return "", fmt.Errorf("the route name is empty")
		}
		return envRouteName(envPart), nil
	case 1:
		return names[0], nil
	default:
		return "", fmt.Errorf("ambiguous: routes %s all map to %s", strings.Join(names, ", "), envPart)
	}
}

// envRouteName is the name of a route (or matcher) only the environment names: lower
// case with '_' as '-'.
func envRouteName(envPart string) string {
	return strings.ReplaceAll(strings.ToLower(envPart), "_", "-")
}

// routeKey maps the key part of a route variable to a route-relative key.
func (idx *keyIndex) routeKey(route, keyPart string) (string, bool) {
	if rel, ok := idx.routeKeys[keyPart]; ok {
		return rel, true
	}
	for envPrefix, prefix := range idx.prefixes {
		dyn, ok := strings.CutPrefix(keyPart, envPrefix)
		if !ok || dyn == "" || strings.HasPrefix(dyn, "_") || strings.HasSuffix(dyn, "_") {
			continue
		}
		if name, ok := idx.names[route+"."+prefix+"."+dyn]; ok {
			return prefix + "." + name, true
		}
		if prefix == "destination.headers" {
			return prefix + "." + http.CanonicalHeaderKey(strings.ReplaceAll(dyn, "_", "-")), true
		}
		return prefix + "." + envRouteName(dyn), true
	}
	return "", false
}

func (idx *keyIndex) unknown(upper string) error {
	candidates := make([]string, 0, len(idx.global)+len(idx.routeKeys)*len(idx.routes))
	for name := range idx.global {
		candidates = append(candidates, name)
	}
	for route := range idx.routes {
		for k := range idx.routeKeys {
			candidates = append(candidates, envRoutes+route+"_"+k)
		}
	}
	sort.Strings(candidates)
	if s := closest(upper, candidates); s != "" {
		return fmt.Errorf("names no configuration key (did you mean %s?)", s)
	}
	return fmt.Errorf("names no configuration key")
}
