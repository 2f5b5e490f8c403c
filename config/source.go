package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
	"github.com/magiconair/properties"

	"github.com/kete-dev/kete/internal/redact"
)

// Formats Parse understands, named as the file extensions Load reads them from.
const (
	FormatProperties = "properties"
	FormatJSON       = "json"
	FormatYAML       = "yaml"
)

// FormatOf names the format of a file by its extension: .properties, .json, .yaml or .yml.
func FormatOf(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".properties":
		return FormatProperties, nil
	case ".json":
		return FormatJSON, nil
	case ".yaml", ".yml":
		return FormatYAML, nil
	default:
		return "", fmt.Errorf("config file %s: unknown extension %q, want .properties, .json, .yaml or .yml", path, ext)
	}
}

// propertiesParser is a koanf.Parser for Java .properties files. It turns off
// magiconair's ${…} expansion (which would blank out ${realmLowerCase}), returns a
// nested map as koanf expects, and refuses a key that is both a value and a section
// (a.b=1 with a.b.c=2), which koanf would otherwise resolve by dropping one of them.
type propertiesParser struct{}

func (propertiesParser) Unmarshal(b []byte) (map[string]any, error) {
	p := properties.NewProperties()
	p.DisableExpansion = true
	if err := p.Load(keepLiteralBackslashes(b), properties.UTF8); err != nil {
		return nil, err
	}
	flat := make(map[string]any, p.Len())
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		flat[k] = v
	}
	if err := conflicts(flat); err != nil {
		return nil, err
	}
	return maps.Unflatten(flat, "."), nil
}

// keepLiteralBackslashes doubles each backslash that starts no .properties escape (\t,
// \n, \r, \f, \uXXXX, \\, an escaped space, ':', '=', '#', '!', or a line break), so
// that the backslash survives loading: glob:USER_\* and regex:^\d+$ then mean in a file
// what they mean in KETE's environment variables, where a backslash is just a character.
// java.util.Properties would drop such a backslash (and magiconair does the same).
func keepLiteralBackslashes(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		switch b[i+1] {
		case 't', 'n', 'r', 'f', 'u', '\\', ' ', ':', '=', '#', '!', '\n', '\r':
			out = append(out, b[i], b[i+1])
			i++
		default:
			out = append(out, '\\', '\\')
		}
	}
	return out
}

func (propertiesParser) Marshal(map[string]any) ([]byte, error) {
	return nil, errors.New("writing .properties is not supported")
}

// conflicts reports keys that are both a value and the parent of other keys.
func conflicts(flat map[string]any) error {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		for p := k; ; {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
			if _, ok := flat[p]; ok {
				errs = append(errs, fmt.Errorf("key %s has a value and is also the parent of %s: a key is either a value or a section", p, k))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// bytesProvider hands koanf bytes already read.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }
func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytes provider needs a parser")
}

func parserFor(format string) (koanf.Parser, error) {
	switch strings.ToLower(format) {
	case FormatProperties:
		return propertiesParser{}, nil
	case FormatJSON:
		return json.Parser(), nil
	case FormatYAML, "yml":
		return yaml.Parser(), nil
	}
	return nil, fmt.Errorf("unknown config format %q, want properties, json or yaml", format)
}

// setting is one key's value and where it came from.
type setting struct {
	raw    string // as written, before ${env:}/${file:} resolution
	value  string // resolved and trimmed
	envVar string // the variable it came from (KETE_… or dotted); blank for the file
}

// readFile parses data into flat dotted keys. JSON and YAML may nest or write dotted keys;
// both are split on '.', so `{"kete.routes.ws": {"enabled": true}}` is kete.routes.ws.enabled.
func readFile(data []byte, format string) (map[string]setting, []Problem, error) {
	parser, err := parserFor(format)
	if err != nil {
		return nil, nil, err
	}
	k := koanf.New(".")
	if err := k.Load(bytesProvider(data), parser); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", format, err)
	}
	out := map[string]setting{}
	var problems []Problem
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for key := range m {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			full := key
			if prefix != "" {
				full = prefix + "." + key
			}
			switch v := m[key].(type) {
			case map[string]any:
				walk(full, v)
			default:
				s, err := scalar(v)
				if err != nil {
					problems = append(problems, Problem{Key: full, Value: redact.Value(full, fmt.Sprint(v)), Reason: err.Error()})
					continue
				}
				if _, dup := out[full]; dup {
					problems = append(problems, Problem{Key: full, Value: redact.Value(full, s), Reason: "given twice (once nested, once as a dotted key)"})
					continue
				}
				out[full] = setting{raw: s}
			}
		}
	}
	walk("", k.Raw())
	flat := make(map[string]any, len(out))
	for key := range out {
		flat[key] = true
	}
	if err := conflicts(flat); err != nil {
		return nil, nil, err
	}
	return out, problems, nil
}

// scalar turns a JSON or YAML value into the text a .properties file would hold; a list
// of scalars becomes comma-separated (subprotocols, realms, list: matchers).
func scalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), nil
	case int, int64, int32, uint, uint64, uint32:
		return fmt.Sprint(v), nil
	case []any:
		items := make([]string, 0, len(v))
		for _, item := range v {
			s, err := scalar(item)
			if err != nil {
				return "", err
			}
			if _, nested := item.([]any); nested {
				return "", errors.New("a list of lists is not a value")
			}
			items = append(items, s)
		}
		return strings.Join(items, ","), nil
	case map[string]any:
		return "", errors.New("a section where a value was expected")
	default:
		return fmt.Sprint(v), nil
	}
}

// envPrefix starts every environment variable kete reads.
const envPrefix = "KETE_"

// reservedEnv reports KETE_ variables that are not configuration keys but are left to
// the command: the config file's path and logging.
func reservedEnv(name string) bool {
	switch name {
	case "KETE_CONFIG", "KETE_LOG_LEVEL", "KETE_LOG_FORMAT", "KETE_TOKEN_SECRET", "KETE_BENCH_SECRET":
		return true
	}
	return false
}

// readEnv maps KETE_ variables onto keys (see the package doc for the rule) and returns
// the settings they give, with problems for variables that name no key.
func readEnv(environ []string, file map[string]setting) (map[string]setting, []Problem) {
	idx := newKeyIndex(file)
	out := map[string]setting{}
	var problems []Problem
	k := koanf.New(".")
	provider := env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			if reservedEnv(name) {
				return "", nil
			}
			key, err := idx.resolve(name)
			if err != nil {
				problems = append(problems, Problem{Key: name, Env: name, Value: redact.Value(name, value), Reason: err.Error()})
				return "", nil
			}
			if strings.TrimSpace(value) == "" {
				return "", nil // an empty variable is as if unset
			}
			out[key] = setting{raw: value, envVar: name}
			return key, value
		},
	})
	// The provider's map only serves koanf's own bookkeeping; out keeps the origin of
	// each value. Read never fails for an env provider with an EnvironFunc.
	if err := k.Load(provider, nil); err != nil {
		problems = append(problems, Problem{Key: envPrefix + "*", Reason: err.Error()})
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Key < problems[j].Key })
	return out, problems
}

func envLookup(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}
