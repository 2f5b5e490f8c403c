package kete_test

// The map of the module, as rules, the way Go's own go/build/deps_test.go holds the standard
// library's layering. DESIGN.md's "Layout" table is the prose; this is the same table as
// code, so an arrow that points the wrong way fails the build instead of waiting for a
// reader to notice. Change both together.

import (
	"go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/kete-dev/kete"

// layers lists every package of the module with the module packages it may import, in
// DESIGN.md's order: a package builds only on packages listed before it. "internal/…" may be
// imported by anyone (see mayImport); nothing else is implied.
var layers = []layer{
	{".", nil, "the domain and its meanings"},
	{"template", []string{"."}, "URL and header templates"},
	{"serializer", []string{"."}, "every serializer kind"},
	{"tlsconfig", nil, "key and trust material"},
	{"pool", nil, "the bounded connection pool"},
	{"keycloak", []string{"."}, "everything that speaks Keycloak"},
	{"keycloak/keycloaktest", []string{".", "keycloak"}, "the in-process Keycloak stand-in"},
	{"oauth", []string{"keycloak"}, "token sources"},
	{"destination", []string{".", "template", "pool", "tlsconfig"}, "the WebSocket destination"},
	{"config", []string{".", "template", "serializer", "tlsconfig", "pool", "keycloak", "oauth", "destination"}, "settings to a kete.Router"},
	// spooltest is spool's fault-injection file system, beside spool as keycloaktest and
	// brokertest are beside what they test.
	{"spool", nil, "the durable queue"},
	{"spool/spooltest", []string{"spool"}, "the spool's fault-injection file system"},
	{"daemon", []string{".", "spool", "keycloak"}, "sources → spool → routes"},
	{"server/auth", nil, "token and key verification"},
	{"server/dashboard", nil, "the embedded page"},
	{"server", []string{"server/auth", "server/dashboard"}, "the pub/sub server"},
	{"server/natsbroker", []string{"server"}, "the NATS broker"},
	{"server/brokertest", []string{"server"}, "the broker conformance suite"},
	{"cmd/kete", []string{"*"}, "the one binary: wiring only"},
	{"cmd/kete/internal/bench", []string{"*lib"}, "the load tool behind kete bench"},
	{"cmd/kete/internal/demo", []string{"*lib"}, "the demo's event generator"},
	{"examples/...", []string{"*lib"}, "configs and programs that run as written"},
}

// TestImportsFollowTheMap fails with the offending arrow when a package imports a module
// package the map does not allow, and when a package is missing from the map or the tree.
func TestImportsFollowTheMap(t *testing.T) {
	pkgs := modulePackages(t)
	for _, p := range pkgs {
		if _, ok := layerOf(p.dir); !ok && !isInternal(p.dir) {
			t.Errorf("%s is not on the map: add it to DESIGN.md's Layout table and to layers in deps_test.go", p.dir)
			continue
		}
		for _, imp := range p.imports {
			if !mayImport(p.dir, imp) {
				t.Errorf("%s → %s: %s may import only %s (DESIGN.md, Layout)", name(p.dir), name(imp), name(p.dir), allowedText(p.dir))
			}
		}
	}
	for _, l := range layers {
		if strings.HasSuffix(l.pkg, "/...") {
			continue
		}
		if !slices.ContainsFunc(pkgs, func(p pkgImports) bool { return p.dir == l.pkg }) {
			t.Errorf("%s is on the map (%s) but not in the tree", l.pkg, l.whatFor)
		}
	}
}

type layer struct {
	pkg     string   // directory relative to the module root; "x/..." covers x and below
	mayUse  []string // module packages it may import; "*" any, "*lib" any but cmd/ and examples/
	whatFor string
}

// mayImport reports whether the package in module directory from may import the module
// package in directory to.
func mayImport(from, to string) bool {
	if isInternal(to) && internalVisible(from, to) {
		return true
	}
	if isInternal(from) {
		return false // internal helpers sit below every layer: they import only each other
	}
	l, ok := layerOf(from)
	if !ok {
		return false
	}
	for _, u := range l.mayUse {
		switch {
		case u == "*":
			return true
		case u == "*lib":
			if !strings.HasPrefix(to, "cmd/") && !strings.HasPrefix(to, "examples/") {
				return true
			}
		case u == to:
			return true
		}
	}
	return false
}

// internalVisible applies Go's own rule: a/b/internal/c is visible to a/b and below.
func internalVisible(from, to string) bool {
	i := strings.LastIndex(to, "internal")
	parent := strings.TrimSuffix(to[:i], "/")
	return parent == "" || from == parent || strings.HasPrefix(from, parent+"/")
}

// isInternal reports whether dir is a shared internal helper (internal/redact, …) rather
// than a package on the map (cmd/kete/internal/bench is on the map).
func isInternal(dir string) bool {
	if _, mapped := layerOf(dir); mapped {
		return false
	}
	return dir == "internal" || strings.HasPrefix(dir, "internal/") || strings.Contains(dir, "/internal/")
}

func layerOf(dir string) (layer, bool) {
	for _, l := range layers {
		if l.pkg == dir || strings.HasSuffix(l.pkg, "/...") && strings.HasPrefix(dir+"/", strings.TrimSuffix(l.pkg, "...")) {
			return l, true
		}
	}
	return layer{}, false
}

func allowedText(dir string) string {
	l, _ := layerOf(dir)
	var names []string
	for _, u := range l.mayUse {
		names = append(names, name(u))
	}
	names = append(names, "internal/…")
	return strings.Join(names, ", ")
}

// name is how a message names the package in dir: the root is "kete".
func name(dir string) string {
	if dir == "." {
		return "kete"
	}
	return dir
}

type pkgImports struct {
	dir     string   // relative to the module root, "." for the root
	imports []string // module packages it imports, as directories
}

// modulePackages reads every package of the module from its source, with the production
// imports (tests may import more: a test of server may start a NATS broker) of every
// GOOS we build for, so a file behind a build tag is checked too.
func modulePackages(t *testing.T) []pkgImports {
	t.Helper()
	var out []pkgImports
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
			return filepath.SkipDir
		}
		imports := map[string]bool{}
		found := false
		for _, goos := range []string{"linux", "darwin", "windows"} {
			ctx := build.Default
			ctx.GOOS = goos
			bp, err := ctx.ImportDir(p, 0)
			if err != nil {
				if _, none := err.(*build.NoGoError); none {
					continue
				}
				t.Fatalf("reading %s for %s: %v", p, goos, err)
			}
			found = true
			for _, imp := range bp.Imports {
				if imp == module {
					imports["."] = true
				} else if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
					imports[rel] = true
				}
			}
		}
		if found {
			keys := make([]string, 0, len(imports))
			for k := range imports {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out = append(out, pkgImports{dir: path.Clean(filepath.ToSlash(p)), imports: keys})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		wd, _ := os.Getwd()
		t.Fatalf("found only %d packages under %s: not the module root?", len(out), wd)
	}
	return out
}

// TestTheMapsRules holds the rules DESIGN.md says the table implies, so an edit of layers
// that breaks one of them fails here, not in a review.
func TestTheMapsRules(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{".", "template", false},                     // the root imports nothing of the module
		{"server", "destination", false},             // the server never knows the library …
		{"destination", "server", false},             // … nor the library the server
		{"destination", "internal/ingestwire", true}, // they share the wire through internal/
		{"server", "internal/ingestwire", true},
		{"config", "server", false}, // only cmd/kete knows both
		{"daemon", "server", false},
		{"cmd/kete", "server", true},
		{"cmd/kete", "destination", true},
		{"cmd/kete/internal/bench", "server/natsbroker", true},
		{"server", "cmd/kete/internal/bench", false},
		{"internal/redact", ".", false},
		{"oauth", "keycloak", true},
		{"keycloak", "oauth", false},
	} {
		if got := mayImport(c.from, c.to); got != c.ok {
			t.Errorf("mayImport(%s → %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
