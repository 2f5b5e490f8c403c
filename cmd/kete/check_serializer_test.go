package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kete-dev/kete/serializer"
)

// TestCheckAcceptsEverySerializerKind: kete check accepts a route with each of KETE's
// serializer kinds (binary ones with destination.binary-mode=true) and names the kind and
// its content type; a binary kind in text frames fails, naming destination.binary-mode.
func TestCheckAcceptsEverySerializerKind(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range serializer.Kinds() {
		props := fmt.Sprintf("kete.routes.ws.destination.url=ws://127.0.0.1:1/x\nkete.routes.ws.serializer.kind=%s\nkete.routes.ws.destination.binary-mode=%v\n",
			kind, serializer.IsBinary(kind))
		if kind == serializer.KindTemplate {
			props += "kete.routes.ws.serializer.template-file-text=${type} ${realmName}\n"
		}
		path := filepath.Join(dir, kind+".properties")
		if err := os.WriteFile(path, []byte(props), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "check", "--config", path)
		if code != 0 {
			t.Errorf("%s: check exited %d:\n%s", kind, code, stderr)
			continue
		}
		s, err := serializer.Build(serializer.Options{Kind: kind, TemplateFileText: map[bool]string{true: "x"}[kind == serializer.KindTemplate]})
		if err != nil {
			t.Fatal(err)
		}
		if want := kind + " (" + s.ContentType() + ")"; !strings.Contains(stdout, want) {
			t.Errorf("%s: check output lacks %q:\n%s", kind, want, stdout)
		}
	}

	path := filepath.Join(dir, "text.properties")
	os.WriteFile(path, []byte("kete.routes.ws.destination.url=ws://127.0.0.1:1/x\nkete.routes.ws.serializer.kind=protobuf\n"), 0o600)
	code, _, stderr := runCLI(t, "check", "--config", path)
	if code != 1 || !strings.Contains(stderr, "kete.routes.ws.destination.binary-mode") {
		t.Errorf("protobuf in text frames: check exited %d:\n%s", code, stderr)
	}
}
