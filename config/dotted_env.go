package config

import (
	"sort"
	"strings"

	"github.com/kete-dev/kete/internal/redact"
)

// readDottedEnv reads KETE's own channel: environment variables named exactly like the
// keys, "kete.routes.ws.destination.url=ws://…", and KETE's legacy unprefixed "enabled".
// KETE merges these over its SPI options (ConfigurationUtils.createConfiguration,
// FortuneN/kete) and documents them as its configuration (docs/user-guide/
// configuration.md). Names are case-sensitive, as KETE's MapConfiguration is; values
// are trimmed later, and an empty one is as if unset, as for KETE_ variables.
func readDottedEnv(environ []string) map[string]setting {
	out := map[string]setting{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || (!strings.HasPrefix(name, "kete.") && name != legacyEnabledKey) {
			continue
		}
		if strings.TrimSpace(value) == "" {
			continue
		}
		out[name] = setting{raw: value, envVar: name}
	}
	return out
}

// shadowed warns for each key set both as a KETE_ variable and as a dotted variable
// with a different value: the dotted one, KETE's exact key, wins.
func shadowed(fromEnv, dotted map[string]setting) []Problem {
	var out []Problem
	for key, d := range dotted {
		e, ok := fromEnv[key]
		if !ok || strings.TrimSpace(e.raw) == strings.TrimSpace(d.raw) {
			continue
		}
		out = append(out, Problem{Key: key, Env: key, Value: redact.Value(key, d.raw),
			Reason: "also set by " + e.envVar + "; the dotted variable, KETE's exact key, wins"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// EnvConfigures reports whether environ holds any configuration kete reads — a dotted
// kete.… variable, KETE's legacy enabled, or a KETE_ variable other than those left to the
// command — so that `kete run` may start without a file, as KETE does.
func EnvConfigures(environ []string) bool {
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(value) == "" {
			continue
		}
		if strings.HasPrefix(name, "kete.") || name == legacyEnabledKey ||
			strings.HasPrefix(name, envPrefix) && !reservedEnv(name) {
			return true
		}
	}
	return false
}
