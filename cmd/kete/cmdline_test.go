package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/syncbuf"
)

// startCLI runs kete with args until the returned stop is called; stop cancels the
// context (what SIGINT and SIGTERM do in main) and returns the exit status.
func startCLI(t *testing.T, args ...string) (stderr *syncbuf.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	errOut := &syncbuf.Buffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, errOut) }()
	var once bool
	var code int
	stop = func() int {
		if !once {
			once = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return errOut, stop
}

func waitForText(t *testing.T, b *syncbuf.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServerPrintsALinkABrowserOpens: on ":0" (every address) the log said
// http://[::]:PORT/, which is not a page; it names 127.0.0.1. Cancelling the context, as
// Ctrl-C does, ends it with status 0.
func TestServerPrintsALinkABrowserOpens(t *testing.T) {
	apps := writeFile(t, t.TempDir(), "apps.yaml", "- appId: demo\n  authKey: {source: raw, key: secret-0123456789abcdef0123456789ab}\n")
	stderr, stop := startCLI(t, "server", "--apps", apps, "--listen", ":0")
	waitForText(t, stderr, `"dashboard":"http://127.0.0.1:`)
	if strings.Contains(stderr.String(), `"dashboard":"http://[::]`) {
		t.Errorf("log shows an address a browser cannot open:\n%s", stderr)
	}
	if code := stop(); code != 0 {
		t.Fatalf("kete server stopped by a signal exited %d, want 0:\n%s", code, stderr)
	}
}

// TestRunPrintsTheDashboardOfItsServer: kete run with kete.server.enabled prints the same
// link, and exits 0 when stopped.
func TestRunPrintsTheDashboardOfItsServer(t *testing.T) {
	dir := t.TempDir()
	apps := writeFile(t, dir, "apps.yaml", "- appId: demo\n  authKey: {source: raw, key: secret-0123456789abcdef0123456789ab}\n")
	cfg := writeFile(t, dir, "kete.properties", "kete.routes.ws.destination.url=ws://127.0.0.1:9/events\nkete.server.enabled=true\nkete.server.listen=:0\nkete.server.apps-file="+apps+
		"\nkete.sources.webhook.enabled=true\nkete.sources.webhook.secret=s\nkete.sources.webhook.listen=127.0.0.1:0\nkete.spool.dir="+filepath.Join(dir, "spool")+"\n")
	stderr, stop := startCLI(t, "run", "--config", cfg)
	waitForText(t, stderr, `"dashboard":"http://127.0.0.1:`)
	waitForText(t, stderr, "daemon listening")
	if code := stop(); code != 0 {
		t.Fatalf("kete run stopped by a signal exited %d, want 0:\n%s", code, stderr)
	}
}

// TestBusyPortIsRefusedWithTheKey: a configured port that is taken is an error naming
// the key, not a silent move to another port.
func TestBusyPortIsRefusedWithTheKey(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	apps := writeFile(t, t.TempDir(), "apps.yaml", "- appId: demo\n  authKey: {source: raw, key: secret-0123456789abcdef0123456789ab}\n")
	code, _, stderr := runCLI(t, "server", "--apps", apps, "--listen", addr)
	if code != 1 || !strings.Contains(stderr, "--listen="+addr+": the port is in use") {
		t.Fatalf("server on a busy port = %d:\n%s", code, stderr)
	}

	// kete demo: a port the user gave is refused too ...
	code, _, stderr = runCLI(t, "demo", "--listen", addr, "--duration", "1s", "--quiet")
	if code != 1 || !strings.Contains(stderr, "--listen "+addr+": the port is in use") {
		t.Fatalf("demo --listen on a busy port = %d:\n%s", code, stderr)
	}
	// ... and a default one that is taken moves, saying where.
	var note bytes.Buffer
	ln, err := listenOrFree(addr, false, "listen", &note)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() == addr || !strings.Contains(note.String(), addr+" is in use; using "+ln.Addr().String()+" instead") {
		t.Fatalf("fallback bound %s and said %q", ln.Addr(), note.String())
	}
}

// TestPortOutOfRangeIsAnErrorNamingTheKey, for the file and for the flag.
func TestPortOutOfRangeIsAnErrorNamingTheKey(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "kete.properties", "kete.sources.webhook.listen=:70000\n")
	if code, _, stderr := runCLI(t, "check", "--config", cfg); code != 1 || !strings.Contains(stderr, `kete.sources.webhook.listen = ":70000": port 70000 is out of range`) {
		t.Fatalf("check = %d:\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "server", "--apps", "x.yaml", "--listen", ":70000"); code != 2 || !strings.Contains(stderr, "--listen :70000: port 70000 is out of range") {
		t.Fatalf("server --listen :70000 = %d:\n%s", code, stderr)
	}
}

// TestStdinDoesNotTakeTheWebhookPort: kete run --stdin without the webhook binds nothing
// (a pipe next to a running daemon must not fail on, or take, its port); with
// kete.sources.webhook.listen set it serves /metrics there.
func TestStdinDoesNotTakeTheWebhookPort(t *testing.T) {
	for _, tc := range []struct {
		extra  string
		listen bool
	}{
		{"", false},
		{"kete.sources.webhook.listen=127.0.0.1:0\n", true},
	} {
		dir := t.TempDir()
		cfg, err := config.Parse([]byte("kete.spool.dir="+filepath.Join(dir, "spool")+"\n"+tc.extra), "properties", nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := startDaemon(context.Background(), cfg, daemonOptions{Logger: discardLogger(), Stdin: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.opsAddr != nil; got != tc.listen {
			t.Errorf("with %q: listener bound = %v, want %v", tc.extra, got, tc.listen)
		}
		if err := d.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTokenRefusesWhatItCannotMint: an unknown permission word and a TTL that does not
// parse are usage errors (exit 2) naming the flag, before any key is read.
func TestTokenRefusesWhatItCannotMint(t *testing.T) {
	secret := strings.Repeat("x", 32)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--perm", "read"}, `--perm "read": not a permission`},
		{[]string{"--perm", "realtime:subscriber:read:topics:*"}, `not a permission`},
		{[]string{"--perm", "realtime:publisher:write:topic:"}, `no topic pattern`},
		{[]string{"--ttl", "1 hour"}, `--ttl "1 hour": want a positive duration`},
		{[]string{"--ttl", "-5m"}, `--ttl "-5m"`},
	} {
		args := append([]string{"token", "--secret", secret, "--sub", "me"}, tc.args...)
		code, stdout, stderr := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%v = %d, stdout %q, stderr:\n%s\nwant 2 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	for _, ok := range []string{"realtime:publisher:write:topic:events/*", "!realtime:subscriber:read:topic:secure/*",
		"realtime:publisher:write:topic:!secure/*", "realtime:admin:manage:connections", "realtime:admin:manage:*"} {
		if code, _, stderr := runCLI(t, "token", "--secret", secret, "--sub", "me", "--perm", ok, "--ttl", "24h"); code != 0 {
			t.Errorf("--perm %s = %d: %s", ok, code, stderr)
		}
	}
}
