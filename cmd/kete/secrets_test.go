package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/spool"
)

// The secrets below must never be printed; every test also checks that the rest of the
// URL stays readable, so an operator still sees where kete went.
const leakedSecret = "S3CRET-do-not-print"

func writeConfig(t *testing.T, props string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kete.properties")
	if err := os.WriteFile(path, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertRedacted(t *testing.T, where, text, readable string) {
	t.Helper()
	if strings.Contains(text, leakedSecret) {
		t.Errorf("%s shows the secret:\n%s", where, text)
	}
	if !strings.Contains(text, readable) {
		t.Errorf("%s does not show %q:\n%s", where, readable, text)
	}
}

// A client_secret in oauth.token-url's query (some token endpoints take one there) is
// masked in `kete check`, and the rest of the URL is shown.
func TestCheckMasksTheTokenURLQuery(t *testing.T) {
	path := writeConfig(t, `
kete.routes.ws.destination.kind=websocket
kete.routes.ws.destination.url=ws://127.0.0.1:9/events?access_token=`+leakedSecret+`&tenant=acme
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=https://auth.example.com/token?client_secret=`+leakedSecret+`&audience=ws
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=`+leakedSecret+`
`)
	code, stdout, stderr := runCLI(t, "check", "--config", path)
	if code != 0 {
		t.Fatalf("check exited %d: %s", code, stderr)
	}
	assertRedacted(t, "kete check", stdout, "token-url https://auth.example.com/token?client_secret=****&audience=ws")
	assertRedacted(t, "kete check", stdout, "ws://127.0.0.1:9/events?access_token=****&tenant=acme")
}

// A token endpoint that cannot be reached: x/oauth2 and net/http quote the token URL,
// query and all, in their error, which reaches the unauthenticated /readyz, the
// dead-letter file and the log. None of them may show the client_secret.
func TestRunMasksTheTokenURLQuery(t *testing.T) {
	tokenAddr, dir := freeAddr(t), t.TempDir()
	logs := &syncbuf.Buffer{}
	d, webhook := startTestDaemon(t, fmt.Sprintf(`
kete.routes.ws.destination.kind=websocket
kete.routes.ws.destination.url=ws://%s/events
kete.routes.ws.destination.connection-timeout-seconds=1
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=http://%s/token?client_secret=%s&audience=ws
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=%s
kete.routes.ws.destination.oauth.timeout-seconds=2
kete.routes.ws.retry.max-attempts=1
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%s
`, freeAddr(t), tokenAddr, leakedSecret, leakedSecret, dir), daemonOptions{Logger: newLogger(logs, slog.LevelDebug), ShutdownTimeout: time.Millisecond})
	if status, err := postEvents(context.Background(), webhook, makeEvents("leak", 0, 1)); err != nil || status != http.StatusAccepted {
		t.Fatalf("POST = %d, %v", status, err)
	}
	var letters []spool.DeadLetter
	waitUntil(t, 30*time.Second, "the event to be dead-lettered", func() bool {
		var err error
		letters, err = spool.DeadLetters(dir, "ws")
		return err == nil && len(letters) == 1
	})
	readable := tokenAddr + "/token?client_secret=****"
	assertRedacted(t, "the dead-letter reason", letters[0].Reason, readable)
	raw, err := os.ReadFile(filepath.Join(dir, "deadletters", "ws.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	assertRedacted(t, "the dead-letter file", string(raw), readable)

	resp, err := http.Get("http://" + d.opsAddr.String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertRedacted(t, "/readyz", string(body), readable)
	assertRedacted(t, "the log", logs.String(), readable)
}

// A password in kete.keycloak.url's user information never reaches the log, while the
// poller reports why it cannot sign in.
func TestRunMasksTheKeycloakURLPassword(t *testing.T) {
	kcAddr := freeAddr(t)
	logs := &syncbuf.Buffer{}
	startTestDaemon(t, fmt.Sprintf(`
kete.keycloak.url=http://admin:%s@%s
kete.keycloak.client-id=kete
kete.keycloak.client-secret=%s
kete.sources.keycloak.enabled=true
kete.sources.keycloak.realms=acme
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%s
`, leakedSecret, kcAddr, leakedSecret, t.TempDir()), daemonOptions{Logger: newLogger(logs, slog.LevelDebug), ShutdownTimeout: time.Millisecond})
	waitUntil(t, 30*time.Second, "the poller to report the failed sign-in", func() bool {
		return strings.Contains(logs.String(), "keycloak poll failed")
	})
	assertRedacted(t, "the log", logs.String(), "http://admin:****@"+kcAddr)
}

// An open webhook (enabled, reachable beyond loopback, no secret, bearer token or basic
// auth) is a warning in `kete check` and in `kete run`'s log; on loopback, or with any
// of the three, there is none.
func TestOpenWebhookIsAWarning(t *testing.T) {
	const warning = "takes events from anyone who can reach it"
	for _, tc := range []struct {
		name, props string
		open        bool
	}{
		{"every interface, no auth", "kete.sources.webhook.listen=0.0.0.0:0", true},
		{"loopback", "kete.sources.webhook.listen=127.0.0.1:0", false},
		{"every interface with a secret", "kete.sources.webhook.listen=0.0.0.0:0\nkete.sources.webhook.secret=hmac-key", false},
		{"every interface with a bearer token", "kete.sources.webhook.listen=0.0.0.0:0\nkete.sources.webhook.bearer-token=tok", false},
		{"every interface with basic auth", "kete.sources.webhook.listen=0.0.0.0:0\nkete.sources.webhook.basic-username=kc\nkete.sources.webhook.basic-password=pw", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A route, for kete run refuses to start with none.
			path := writeConfig(t, "kete.routes.ws.destination.url=ws://127.0.0.1:1/\nkete.routes.ws.destination.pool.min-idle=0\n"+
				"kete.sources.webhook.enabled=true\nkete.spool.dir="+t.TempDir()+"\n"+tc.props+"\n")
			code, stdout, stderr := runCLI(t, "check", "--config", path)
			if code != 0 {
				t.Fatalf("check exited %d: %s", code, stderr)
			}
			if got := strings.Contains(stdout, "warning: kete.sources.webhook.listen") && strings.Contains(stdout, warning); got != tc.open {
				t.Errorf("kete check warns about an open webhook: %v, want %v\n%s", got, tc.open, stdout)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := startKete(ctx, t, "run", "--config", path)
			waitUntil(t, 20*time.Second, "kete run to listen", func() bool {
				return strings.Contains(p.stderr.String(), "daemon listening")
			})
			cancel()
			p.wait(t)
			if got := strings.Contains(p.stderr.String(), warning); got != tc.open {
				t.Errorf("kete run warns about an open webhook: %v, want %v\n%s", got, tc.open, p.stderr.String())
			}
		})
	}
}
