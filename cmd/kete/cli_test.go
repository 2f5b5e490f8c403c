package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/spool"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckReportsEveryBadKeyAndExits1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.properties")
	os.WriteFile(path, []byte(`
kete.routes.ws.destination.kind=websocket
kete.routes.ws.destination.url=http://nope
kete.routes.ws.destination.tsl.enabled=true
kete.routes.ws.destination.oauth.client-secret=hunter2
kete.routes.ws.event-matchers.bad=regex:(
`), 0o600)
	code, _, stderr := runCLI(t, "check", "--config", path)
	if code != 1 {
		t.Fatalf("check of a bad config exited %d, want 1", code)
	}
	for _, want := range []string{"destination.url", "destination.tsl.enabled", "event-matchers.bad"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output does not name %s:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "hunter2") {
		t.Errorf("check output shows a secret:\n%s", stderr)
	}
	if code, _, _ := runCLI(t, "check"); code != 2 {
		t.Errorf("check without --config exited %d, want 2 (usage)", code)
	}
}

func TestTokenMintsAVerifiableToken(t *testing.T) {
	secret := strings.Repeat("x", 32)
	code, stdout, stderr := runCLI(t, "token", "--secret", secret, "--sub", "alice", "--perm", "realtime:subscriber:read:topic:*", "--ttl", "5m")
	if code != 0 {
		t.Fatalf("token exited %d: %s", code, stderr)
	}
	v, err := auth.NewVerifier(auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := v.Verify(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if cl.Subject != "alice" || len(cl.Permissions) != 1 || time.Until(cl.ExpiresAt) > 5*time.Minute {
		t.Fatalf("claims = %+v", cl)
	}
}

func TestDeadLettersListAndReplay(t *testing.T) {
	app := startTestServer(t)
	sub := app.subscribe(t, "events")
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	cfgPath := filepath.Join(dir, "kete.properties")
	os.WriteFile(cfgPath, []byte(routeConfig(app, t, "127.0.0.1:0", spoolDir)), 0o600)

	// Two events the route gave up on, as the daemon would have left them.
	sp, err := spool.Open(spool.Options{Dir: spoolDir, Routes: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"dl-1", "dl-2"} {
		body := fmt.Sprintf(`{"kind":"EVENT","id":%q,"time":1,"type":"LOGIN","realmName":"acme"}`, id)
		if err := sp.DeadLetter("all", spool.Record{Offset: uint64(i), Data: []byte(body)}, "server said no"); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()

	// Flags may come before the action or between it and the route.
	code, stdout, stderr := runCLI(t, "deadletters", "--config", cfgPath, "list", "all")
	if code != 0 || !strings.Contains(stdout, "dl-1") || !strings.Contains(stdout, "server said no") || !strings.Contains(stdout, "2 dead letters") {
		t.Fatalf("list = %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "deadletters", "replay", "all", "--config", cfgPath)
	if code != 0 || !strings.Contains(stdout, "replayed 2 of 2") {
		t.Fatalf("replay = %d\n%s\n%s", code, stdout, stderr)
	}
	sub.waitFor(t, map[string]bool{"dl-1": true, "dl-2": true}, 10*time.Second)
	if left, _ := spool.DeadLetters(spoolDir, "all"); len(left) != 0 {
		t.Fatalf("%d dead letters left after a successful replay", len(left))
	}
	if code, stdout, stderr := runCLI(t, "deadletters", "list", "--config", cfgPath, "all"); code != 0 || !strings.Contains(stdout, "0 dead letters") {
		t.Fatalf("list with the flag before the route = %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "deadletters", "list", "nosuch", "--config", cfgPath); code != 1 || !strings.Contains(stderr, "nosuch") {
		t.Fatalf("list of an unknown route = %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "deadletters", "-h"); code != 0 || !strings.Contains(stderr, "-config") {
		t.Fatalf("deadletters -h = %d %s, want 0 and the flags", code, stderr)
	}
	if code, _, stderr := runCLI(t, "deadletters", "list"); code != 2 || !strings.Contains(stderr, "route name") {
		t.Fatalf("deadletters without a route = %d %s, want a usage error", code, stderr)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	if code, stdout, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(stdout, "kete ") {
		t.Fatalf("version = %d %q", code, stdout)
	}
	if code, _, stderr := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(stderr, "frobnicate") {
		t.Fatalf("unknown command = %d %q", code, stderr)
	}
}

func TestBenchE2ERunsWithoutLoss(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "e2e", "--subscribers", "3", "--rate", "200", "--batch", "5", "--duration", "500ms")
	if code != 0 {
		t.Fatalf("bench e2e exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "kete e2e") || !strings.Contains(stdout, "delivered to each subscriber") {
		t.Fatalf("bench e2e output lacks its table:\n%s", stdout)
	}
	// The table's loss column is 0: every stamped event reached every subscriber.
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) > 8 && f[0] == "kete" && f[1] == "e2e" { // target, round, mode, subs, sent, delivered, loss
			if f[7] != "0" {
				t.Fatalf("bench e2e lost events: %s", line)
			}
			return
		}
	}
	t.Fatalf("no result row in:\n%s", stdout)
}
