package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKETEDocExamplesPassCheck: every WebSocket example of KETE's documentation, kept
// as written in config/testdata/kete-docs (each file cites its page and section), passes
// `kete check` unchanged. A fragment (*.fragment.properties: a snippet showing a few keys
// of a route) is checked over basic.properties, the route it adds to.
//
// Two things KETE gets from running inside Keycloak are given here as a deployment would:
// internal OAuth needs kete.keycloak.url and admin credentials (KETE used its Keycloak
// session), and the example whose trust store is /certs/ca.pem needs that file, so it
// is checked for the one error a user without it sees, naming the key.
func TestKETEDocExamplesPassCheck(t *testing.T) {
	dir := filepath.Join("..", "..", "config", "testdata", "kete-docs")
	files, err := filepath.Glob(filepath.Join(dir, "*.properties"))
	if err != nil || len(files) < 10 {
		t.Fatalf("examples: %v %v", files, err)
	}
	basic, err := os.ReadFile(filepath.Join(dir, "basic.properties"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(name, ".fragment.") {
				path = filepath.Join(t.TempDir(), name)
				os.WriteFile(path, append(append(basic, '\n'), text...), 0o600)
			}
			internal := strings.Contains(string(text), "oauth.mode=internal")
			if internal {
				t.Setenv("KETE_KEYCLOAK_URL", "http://localhost:8080")
				t.Setenv("KETE_KEYCLOAK_CLIENT_ID", "kete-admin")
				t.Setenv("KETE_KEYCLOAK_CLIENT_SECRET", "admin-secret")
			}
			code, stdout, stderr := runCLI(t, "check", "--config", path)
			if strings.Contains(string(text), "loader.path=/certs/ca.pem") {
				if _, err := os.Stat("/certs/ca.pem"); err != nil {
					if code != 1 || !strings.Contains(stderr, "destination.tls.trust-store") || strings.Count(stderr, "\n  ") != 1 {
						t.Errorf("without /certs/ca.pem: exit %d, want 1 and one problem naming the trust store:\n%s", code, stderr)
					}
					return
				}
			}
			if code != 0 {
				t.Fatalf("kete check exited %d:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "(enabled)") {
				t.Errorf("no enabled route:\n%s", stdout)
			}
		})
	}
}

// TestKETEInternalOAuthExampleNamesWhatIsMissing: without the Keycloak address, the
// internal OAuth example fails with an error that names the key and what to write.
func TestKETEInternalOAuthExampleNamesWhatIsMissing(t *testing.T) {
	path := filepath.Join("..", "..", "config", "testdata", "kete-docs", "oauth-internal.properties")
	code, _, stderr := runCLI(t, "check", "--config", path)
	if code != 1 || !strings.Contains(stderr, "kete.keycloak.url") || !strings.Contains(stderr, "kete.keycloak.url=http://localhost:8080") {
		t.Errorf("exit %d, want 1 naming kete.keycloak.url and what to write:\n%s", code, stderr)
	}
}
