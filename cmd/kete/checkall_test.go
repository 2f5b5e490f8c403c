package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckMisspeltAppsFileFailsWithThePath: before, check printed "no routes" and exited
// 0, and `kete server` then failed on the same file.
func TestCheckMisspeltAppsFileFailsWithThePath(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "server.properties", "kete.server.apps-file="+filepath.Join(dir, "aps.yaml")+"\n")
	code, _, stderr := runCLI(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "kete.server.apps-file="+filepath.Join(dir, "aps.yaml")+": no such file") {
		t.Fatalf("check with a missing apps file = %d\n%s", code, stderr)
	}
}

const badAppsYAML = `- appId: demo
  enabled: true
  authKey:
    source: raw
    key: a-secret-that-must-not-show-0123456789
    algorithms: [HS256]
  adminSourceAdress: [127.0.0.1/32]
  maxConnections: lots
  historyTtl: 10x
  limits:
    maxMesageSize: 5
- appId: other
  clientSourceAddress: ["300.0.0.1"]
`

// TestCheckAppsFileNamesEveryBadFieldWithItsLine: every bad field at once, each with the
// file, its line and its name, where the YAML decoder alone says "unmarshal errors" about
// the first ones without the app.
func TestCheckAppsFileNamesEveryBadFieldWithItsLine(t *testing.T) {
	dir := t.TempDir()
	apps := writeFile(t, dir, "apps.yaml", badAppsYAML)
	code, _, stderr := runCLI(t, "check", apps)
	if code != 1 {
		t.Fatalf("check of a bad apps file exited %d:\n%s", code, stderr)
	}
	for _, want := range []string{
		"apps file " + apps + `: line 7: field adminSourceAdress (app "demo"): unknown field; did you mean adminSourceAddress?`,
		"apps file " + apps + `: line 8: field maxConnections (app "demo"): cannot unmarshal`,
		"apps file " + apps + `: line 9: field historyTtl (app "demo"): duration "10x"`,
		"apps file " + apps + `: line 11: field limits.maxMesageSize (app "demo"): unknown field; did you mean maxMessageSize?`,
		"apps file " + apps + `: line 13: field clientSourceAddress (app "other"): source address #1 "300.0.0.1"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}

	json := writeFile(t, dir, "apps.json", `[{"appId": "demo",
  "authKey": {"source": "raw", "key": "x"},
  "maxConections": 3}]`)
	code, _, stderr = runCLI(t, "check", "--apps", json)
	if want := "apps file " + json + `: line 3: field maxConections (app "demo"): unknown field; did you mean maxConnections?`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("check of a bad JSON apps file = %d, want %q in:\n%s", code, want, stderr)
	}

	// kete server says it the same way, rather than with the decoder's words.
	code, _, stderr = runCLI(t, "server", "--apps", apps, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, `line 7: field adminSourceAdress (app "demo")`) {
		t.Errorf("kete server on a bad apps file = %d:\n%s", code, stderr)
	}
}

// TestCheckAppsFileOnItsOwn: `kete check examples/apps.yaml` describes the apps, keys
// masked, where it used to fail to read it as a configuration.
func TestCheckAppsFileOnItsOwn(t *testing.T) {
	t.Chdir("../..")
	code, stdout, stderr := runCLI(t, "check", "examples/apps.yaml")
	if code != 0 {
		t.Fatalf("check examples/apps.yaml = %d\n%s", code, stderr)
	}
	for _, want := range []string{"app demo (enabled)", "authKey:        raw ****, HS256", "admin from:     127.0.0.1/32, ::1/128", "apiKeys:        kete-daemon"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, exampleSecret) || strings.Contains(stdout, "example-only-admin-secret") {
		t.Errorf("output shows a key:\n%s", stdout)
	}
}

// TestCheckDescribesWhatRunWouldStart: the daemon example's sources, spool, listeners
// (with a link a browser opens) and the apps of the server it embeds, secrets masked.
func TestCheckDescribesWhatRunWouldStart(t *testing.T) {
	t.Chdir("../..")
	code, stdout, stderr := runCLI(t, "check", "--config", "examples/daemon.properties")
	if code != 0 {
		t.Fatalf("check = %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"webhook:        on, POST /events on :8081, auth HMAC secret ****",
		"keycloak poll:  on, realms acme, globex",
		"dir:            ./kete-data",
		":8081:          webhook POST /events, /metrics, /healthz, /readyz",
		"dashboard http://127.0.0.1:8080/",
		"app demo (enabled)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"examples/secrets/webhook-secret", "examples/secrets/keycloak-client-secret"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(b)); strings.Contains(stdout, s) {
			t.Errorf("output shows the secret of %s:\n%s", f, stdout)
		}
	}
}

// TestCheckRefusesTwoListenersOnOnePort: the webhook listener and the embedded server on
// one port would make `kete run` fail at the second bind.
func TestCheckRefusesTwoListenersOnOnePort(t *testing.T) {
	dir := t.TempDir()
	apps := writeFile(t, dir, "apps.yaml", "- appId: demo\n  authKey: {source: raw, key: secret-0123456789abcdef0123456789ab}\n")
	cfg := writeFile(t, dir, "kete.properties", "kete.server.enabled=true\nkete.server.listen=:9090\nkete.server.apps-file="+apps+
		"\nkete.sources.webhook.enabled=true\nkete.sources.webhook.listen=127.0.0.1:9090\nkete.spool.dir="+filepath.Join(dir, "spool")+"\n")
	code, _, stderr := runCLI(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "kete.sources.webhook.listen=127.0.0.1:9090 and kete.server.listen=:9090: one port for two listeners") {
		t.Fatalf("check = %d\n%s", code, stderr)
	}
}

// TestCheckSpoolThatIsAFile: a spool path the daemon could not open is a problem now,
// not at start.
func TestCheckSpoolThatIsAFile(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "not-a-dir", "")
	cfg := writeFile(t, dir, "kete.properties", "kete.sources.webhook.enabled=true\nkete.sources.webhook.secret=s\nkete.spool.dir="+file+"\n")
	if code, _, stderr := runCLI(t, "check", "--config", cfg); code != 1 || !strings.Contains(stderr, "kete.spool.dir="+file+": not a directory") {
		t.Fatalf("check = %d\n%s", code, stderr)
	}
}

// TestCheckFileArgumentOverKETE_CONFIG: a container sets $KETE_CONFIG once; `kete check
// FILE` there checks FILE.
func TestCheckFileArgumentOverKETE_CONFIG(t *testing.T) {
	t.Chdir("../..")
	t.Setenv("KETE_CONFIG", "/nonexistent/kete.properties")
	if code, stdout, stderr := runCLI(t, "check", "examples/apps.yaml"); code != 0 || !strings.Contains(stdout, "app demo") {
		t.Fatalf("check FILE with $KETE_CONFIG set = %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestCheckNATSSettings: the broker's credential files must be there, and its password
// and token are masked where the broker is described.
func TestCheckNATSSettings(t *testing.T) {
	dir := t.TempDir()
	apps := writeFile(t, dir, "apps.yaml", "- appId: demo\n  authKey: {source: raw, key: secret-0123456789abcdef0123456789ab}\n")
	cfg := writeFile(t, dir, "server.properties", "kete.server.apps-file="+apps+
		"\nkete.server.broker=nats://nats.example:4222\nkete.server.nats.user=kete\nkete.server.nats.password=hunter2-nats\n"+
		"kete.server.nats.credentials-file="+filepath.Join(dir, "missing.creds")+"\n")
	code, stdout, stderr := runCLI(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "kete.server.nats.credentials-file="+filepath.Join(dir, "missing.creds")+": no such file") {
		t.Fatalf("check = %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "broker:         nats://nats.example:4222 (several nodes as one): credentials-file") || !strings.Contains(stdout, "user kete password ****") {
		t.Errorf("broker not described:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "hunter2-nats") {
		t.Errorf("output shows the NATS password:\n%s\n%s", stdout, stderr)
	}
}
