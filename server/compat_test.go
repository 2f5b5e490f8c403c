package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// compatClientDir is where the official JS client's repository (with its own test suite)
// lies beside the project: third-party code, run from there and never copied into the
// project (../shared/compat/README.md). KETE_COMPAT_DIR overrides it, for a checkout that
// does not sit beside ../shared (a git worktree elsewhere).
func compatClientDir() string {
	if d := os.Getenv("KETE_COMPAT_DIR"); d != "" {
		return filepath.Join(d, "realtime-pubsub-client")
	}
	return filepath.Join("..", "..", "shared", "compat", "realtime-pubsub-client")
}

// TestOfficialJSClientSuite runs the official realtime-pubsub-client's own test suite
// (BackendStack21/realtime-pubsub-client at 9592171d113e: test/smoke.test.ts and
// test/onerror.test.ts, unchanged but for ws:// instead of wss://) against a real kete
// server, configured as the suite's README asks: an app with enableWebSocketInboundTopic
// and clientInboundAckEnabled, HS256 tokens that live 5 seconds. Every test of the suite
// must pass; node's own report is the failure message.
func TestOfficialJSClientSuite(t *testing.T) {
	src := compatClientDir()
	node, npm := compatToolsOrSkip(t, src)

	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	npmCI(ctx, t, npm, work)

	key := string(randomSecret(t))
	srv, err := server.New(server.Options{Apps: []server.App{{
		AppID:                       "compat",
		Name:                        "official JS client suite",
		Enabled:                     true,
		AuthKey:                     auth.Key{Source: "raw", Key: key, Algorithms: []string{"HS256"}},
		EnableWebSocketInboundTopic: true,
		ClientInboundAckEnabled:     true,
	}}})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = srv.Close() })

	env := fmt.Sprintf("APP_ID=compat\nWEBSOCKET_CLIENTS_SIGNING_KEY=%s\nALGORITHM=HS256\nCLUSTER_HOSTNAME=%s\n",
		key, strings.TrimPrefix(ts.URL, "http://"))
	if err := os.WriteFile(filepath.Join(work, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", "--require", "ts-node/register",
		"--env-file=.env", "--test", "test/smoke.test.ts", "test/onerror.test.ts")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	report := string(out)
	if err != nil {
		t.Fatalf("official JS client suite failed (%v):\n%s", err, report)
	}
	// node --test exits 0 only when every test passed; check its summary as well, so that
	// a suite that ran nothing does not count as a pass.
	if !strings.Contains(report, "# fail 0") || strings.Contains(report, "# pass 0\n") {
		t.Fatalf("official JS client suite: no passing summary in node's report:\n%s", report)
	}
	t.Logf("official JS client suite:\n%s", lastLines(report, 10))
}

// compatToolsOrSkip returns node and npm, or skips (fails under CI=true) when they or the
// client's folder are missing.
func compatToolsOrSkip(t *testing.T, src string) (node, npm string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(filepath.Join(src, "package-lock.json")); err != nil {
		missing = append(missing, "the official JS client at "+src+" (set KETE_COMPAT_DIR to the folder holding realtime-pubsub-client)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20+) on PATH")
	}
	npm, err = exec.LookPath("npm")
	if err != nil {
		missing = append(missing, "npm on PATH")
	}
	if len(missing) == 0 {
		return node, npm
	}
	msg := "missing: " + strings.Join(missing, "; ")
	if nodeTestsRequired() {
		t.Fatalf("%s (CI=%q, so this fails instead of skipping)", msg, os.Getenv("CI"))
	}
	t.Skip(msg)
	return "", ""
}

// npmCI installs the client's dev dependencies in dir with `npm ci`, with npm's download
// cache kept under the user's cache directory (keyed by the lock file's hash, so that a
// changed lock file starts clean) to spare the registry on every run.
func npmCI(ctx context.Context, t *testing.T, npm, dir string) {
	t.Helper()
	args := []string{"ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"}
	if cache, err := os.UserCacheDir(); err == nil {
		lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(lock)
		npmCache := filepath.Join(cache, "kete", "compat-npm-"+hex.EncodeToString(sum[:8]))
		if err := os.MkdirAll(npmCache, 0o755); err == nil {
			args = append(args, "--cache", npmCache)
		}
	}
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in a copy of the official JS client: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ts-node", "package.json")); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("npm ci installed no ts-node in %s", dir)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
