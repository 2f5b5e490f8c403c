package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/server"
)

// appsFileProblems checks an apps file the way the server loads it, and says what is
// wrong one line per problem: "apps file F: line N: field P (app "id"): why". It calls the
// server's own loader (server.LoadApps) and builds a server from the result (which
// compiles every key, as a start or a reload does); only to name the line and the field
// does it read the file again as a YAML tree (JSON is YAML, so one walk serves both).
// It returns the apps when there is no problem.
func appsFileProblems(path string) ([]server.App, []string) {
	apps, err := server.LoadApps(path)
	if err == nil {
		err = compileApps(apps)
	}
	if err == nil {
		return apps, nil
	}
	b, readErr := os.ReadFile(path)
	if readErr != nil {
		return nil, []string{err.Error()}
	}
	var doc yaml.Node
	if yerr := yaml.Unmarshal(b, &doc); yerr != nil {
		// A syntax error: yaml says "yaml: line N: why", JSON says "offset N".
		return nil, []string{syntaxProblem(path, b, err, yerr)}
	}
	w := appsWalk{path: path}
	w.document(&doc)
	if apps != nil {
		w.decoded = apps // the loader read them all; a key did not compile
	}
	// The loader's own checks and the keys' compilation, for every app that decodes,
	// so that one run names every problem; their errors name the app and the field.
	var later []string
	if err := server.ValidateApps(w.decoded); err != nil {
		later = append(later, splitJoined(err)...)
	}
	for _, a := range w.decoded {
		if server.ValidateApps([]server.App{a}) == nil {
			if err := compileApps([]server.App{a}); err != nil {
				later = append(later, splitJoined(err)...)
			}
		}
	}
	if len(w.problems) == 0 && len(later) == 0 {
		later = splitJoined(err) // something the walk does not see: say it as the loader did
	}
	for _, line := range later {
		w.problems = append(w.problems, w.locate(line))
	}
	return nil, w.problems
}

// appsFileError is err (from starting a server on path) said as kete check says it:
// each problem with its line and field.
func appsFileError(path string, err error) error {
	if path == "" {
		return err
	}
	if _, problems := appsFileProblems(path); len(problems) > 0 {
		return problemsError(problems)
	}
	return err
}

// compileApps builds a server from apps, which compiles every key, and closes it. Keys
// with a jwksUri are not fetched: check says whether a key is well formed, not whether
// the identity provider is up, so the JWKS client answers an empty key set.
func compileApps(apps []server.App) error {
	srv, err := server.New(server.Options{Apps: apps, Logger: slog.New(slog.DiscardHandler),
		HTTPClient: &http.Client{Transport: emptyKeySet{}}, FanoutWorkers: 1})
	if err != nil {
		return err
	}
	return srv.Close()
}

type emptyKeySet struct{}

func (emptyKeySet) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"keys":[]}`)), Request: r}, nil
}

// splitJoined turns an error built with errors.Join (or one with newlines) into lines,
// without the "apps file F: " prefix the loader puts in front.
func splitJoined(err error) []string {
	var out []string
	if err == nil {
		return nil
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

func syntaxProblem(path string, b []byte, loadErr, yamlErr error) string {
	if m := yamlLine.FindStringSubmatch(yamlErr.Error()); m != nil {
		return fmt.Sprintf("apps file %s: line %s: %s", path, m[1], m[2])
	}
	var se *json.SyntaxError
	if errors.As(loadErr, &se) {
		return fmt.Sprintf("apps file %s: line %d: %v", path, bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))+1, se)
	}
	return loadErr.Error()
}

// appsWalk walks the apps file's tree beside the Go types the server decodes it into, so
// that an unknown field is named with its line and the nearest known name, and each known
// field is decoded on its own, so that every bad value is found, not only the first.
type appsWalk struct {
	path     string
	problems []string
	apps     []*yaml.Node // each app's mapping, for locate
	decoded  []server.App // the apps that decode without a problem
}

func (w *appsWalk) add(n *yaml.Node, field, app, why string) {
	where := ""
	if app != "" {
		where = " (app " + strconv.Quote(app) + ")"
	}
	w.problems = append(w.problems, fmt.Sprintf("apps file %s: line %d: field %s%s: %s", w.path, n.Line, field, where, why))
}

func (w *appsWalk) document(doc *yaml.Node) {
	if len(doc.Content) == 0 {
		return // empty: no apps, which the loader takes
	}
	root := doc.Content[0]
	list := root
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i]
			if k.Value == "apps" {
				list = root.Content[i+1]
				continue
			}
			w.add(k, k.Value, "", "unknown: the file is a list of apps, or a mapping with one key, apps")
		}
	}
	if list == nil {
		return
	}
	if list.Kind != yaml.SequenceNode {
		w.problems = append(w.problems, fmt.Sprintf("apps file %s: line %d: want a list of apps", w.path, list.Line))
		return
	}
	appType := reflect.TypeFor[server.App]()
	for i, app := range list.Content {
		if app.Kind != yaml.MappingNode {
			w.problems = append(w.problems, fmt.Sprintf("apps file %s: line %d: apps[%d]: want a mapping of fields (appId, authKey, …)", w.path, app.Line, i))
			continue
		}
		w.apps = append(w.apps, app)
		id := fmt.Sprintf("apps[%d]", i)
		if v := mappingValue(app, "appId"); v != nil && v.Value != "" {
			id = v.Value
		}
		before := len(w.problems)
		w.fields(app, appType, nil, id)
		var one []server.App
		if len(w.problems) == before && yaml.Unmarshal(singlePath(app, nil), &one) == nil && len(one) == 1 {
			w.decoded = append(w.decoded, one[0])
		}
	}
}

// fields checks each key of mapping m against the yaml names of struct type t; path is
// how the decoder reaches m from the app (names and list indexes).
func (w *appsWalk) fields(m *yaml.Node, t reflect.Type, path []any, app string) {
	names := yamlFieldNames(t)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		p := append(slices.Clone(path), k.Value)
		ft, ok := names[k.Value]
		if !ok {
			why := "unknown field"
			if s := config.Closest(k.Value, slices.Sorted(maps.Keys(names))); s != "" {
				why += "; did you mean " + s + "?"
			}
			w.add(k, fieldPath(p), app, why)
			continue
		}
		switch elem := derefType(ft); {
		case v.Kind == yaml.MappingNode && isPlainStruct(elem):
			w.fields(v, elem, p, app)
		case v.Kind == yaml.SequenceNode && elem.Kind() == reflect.Slice && isPlainStruct(derefType(elem.Elem())):
			for j, item := range v.Content {
				if item.Kind == yaml.MappingNode {
					w.fields(item, derefType(elem.Elem()), append(slices.Clone(p), j), app)
				} else {
					w.leaf(item, append(slices.Clone(p), j), app)
				}
			}
		default:
			w.leaf(v, p, app)
		}
	}
}

// leaf decodes one value alone, nested in its path, into a server.App: the decoder's
// own error is the one the server would give, and here it has a line and a field.
func (w *appsWalk) leaf(v *yaml.Node, path []any, app string) {
	var one []server.App
	if err := yaml.Unmarshal(singlePath(v, path), &one); err != nil {
		why := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			why = te.Errors[0]
			if m := yamlLine.FindStringSubmatch(why); m != nil {
				why = m[2]
			}
		}
		why = strings.TrimPrefix(why, "yaml: ")
		w.add(v, fieldPath(path), app, why)
	}
}

// locate adds the file and, where it can, the line to one error of the loader or of key
// compilation: `app "demo": authKey: …` or `apps[2]: appId is empty`.
func (w *appsWalk) locate(msg string) string {
	msg = strings.TrimPrefix(msg, "apps file "+w.path+": ")
	m := appRef.FindStringSubmatch(msg)
	if m == nil {
		return "apps file " + w.path + ": " + msg
	}
	var app *yaml.Node
	if m[1] != "" {
		for _, a := range w.apps {
			if v := mappingValue(a, "appId"); v != nil && v.Value == m[1] {
				app = a
			}
		}
	} else if i, _ := strconv.Atoi(m[2]); i < len(w.apps) {
		app = w.apps[i]
	}
	if app == nil {
		return "apps file " + w.path + ": " + msg
	}
	who, rest := strings.TrimSuffix(m[0], ": "), msg[len(m[0]):]
	word := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == ':' })
	if len(word) > 0 {
		if k := mappingKey(app, word[0]); k != nil {
			return fmt.Sprintf("apps file %s: line %d: field %s (%s): %s", w.path, k.Line, word[0], who, strings.TrimPrefix(rest, word[0]+": "))
		}
	}
	return fmt.Sprintf("apps file %s: line %d: %s", w.path, app.Line, msg)
}

var appRef = regexp.MustCompile(`^(?:app "([^"]*)"|apps\[(\d+)\]): `)

// singlePath is the YAML of a one-app list holding only v at path: [{a: {b: [ {c: v} ]}}].
func singlePath(v *yaml.Node, path []any) []byte {
	n := v
	for i := len(path) - 1; i >= 0; i-- {
		switch p := path[i].(type) {
		case string:
			n = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: p}, n}}
		case int:
			n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}}
		}
	}
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
	if err != nil {
		return nil
	}
	return b
}

func fieldPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		}
	}
	return b.String()
}

func mappingKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// yamlFieldNames maps the yaml names of struct t's fields (inline ones included) to
// their types.
func yamlFieldNames(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && derefType(f.Type).Kind() == reflect.Struct {
			for k, v := range yamlFieldNames(derefType(f.Type)) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default
		}
		out[name] = f.Type
	}
	return out
}

// isPlainStruct reports whether t is a struct decoded field by field, not one with its
// own UnmarshalYAML.
func isPlainStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	return !reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]())
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
