package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// The examples' paths (apps file, certificates, secrets) are relative to the repository
// root, where the README runs them from; these tests run there too.
// examples/library is tested by its own package (go test ./examples/library).

// exampleConfigs lists every configuration under examples/ that `kete check` reads.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"examples/*.properties", "examples/*.json", "examples/*.yaml", "examples/*.yml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if filepath.Base(p) != "apps.yaml" { // the server's apps, not a kete configuration
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	if len(paths) < 7 {
		t.Fatalf("found only %d example configurations: %v", len(paths), paths)
	}
	return paths
}

// TestExampleConfigsCheck runs `kete check` on every example configuration: each must be
// valid as written, without warnings, and its output must describe every route.
func TestExampleConfigsCheck(t *testing.T) {
	t.Chdir("../..")
	for _, path := range exampleConfigs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"check", "--config", path}, &out, &errOut); code != 0 {
				t.Fatalf("kete check --config %s: exit %d\nstderr:\n%s", path, code, errOut.String())
			}
			cfg, err := config.Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Routes) == 0 && !strings.Contains(out.String(), "no routes") {
				t.Errorf("no routes, and the output does not say so:\n%s", out.String())
			}
			for _, r := range cfg.Routes {
				if !strings.Contains(out.String(), "route "+r.Name+" (enabled)") {
					t.Errorf("output does not describe route %s:\n%s", r.Name, out.String())
				}
			}
			if strings.Contains(out.String(), "warning:") {
				t.Errorf("an example should have no warnings:\n%s", out.String())
			}
		})
	}
}

// TestExampleAppsFile loads examples/apps.yaml as `kete server` does: the keys compile,
// and the API key the example routes send is accepted with the permissions they need.
func TestExampleAppsFile(t *testing.T) {
	t.Chdir("../..")
	apps, err := server.LoadApps("examples/apps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{AppsFile: "examples/apps.yaml", ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	keys, err := auth.NewAPIKeys(apps[0].APIKeys)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := keys.Verify(exampleAPIKey)
	if err != nil {
		t.Fatalf("the example API key does not match examples/apps.yaml: %v", err)
	}
	for _, topic := range []string{"events/acme", "logins/acme", "admin/acme/user/create"} {
		if !auth.CanPublish(claims.Permissions, topic) {
			t.Errorf("the example API key may not publish to %s", topic)
		}
	}
}

// exampleAPIKey and exampleSecret are the throwaway credentials of examples/apps.yaml.
const (
	exampleAPIKey = "kete_EXAMPLE-ONLY-publisher-key-not-for-production"
	exampleSecret = "example-only-secret-0123456789abcdef"
)

// TestExampleServerAndBasicRoute is the README's walk-through: `kete server` with
// examples/server.properties, `kete run` with examples/basic.properties, a webhook POST,
// and a subscriber that sees the event. Addresses are moved to free loopback ports with
// KETE_ variables, as an operator would.
func TestExampleServerAndBasicRoute(t *testing.T) {
	t.Chdir("../..")
	srvAddr, hookAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serverProc := startKete(ctx, t, "server", "--config", "examples/server.properties", "--listen", srvAddr)
	waitHTTP(t, "http://"+srvAddr+"/api/health/status")

	sub := exampleSubscribe(t, "ws://"+srvAddr+"/apps/demo", "events/acme")

	t.Setenv("KETE_ROUTES_WS_DESTINATION_URL", "ws://"+srvAddr+"/apps/demo/publish/events/${realmLowerCase}?ack=1")
	t.Setenv("KETE_SOURCES_WEBHOOK_LISTEN", hookAddr)
	t.Setenv("KETE_SPOOL_DIR", t.TempDir())
	daemon := startKete(ctx, t, "run", "--config", "examples/basic.properties")
	waitHTTP(t, "http://"+hookAddr+"/readyz")

	postExampleEvent(t, "http://"+hookAddr+"/events", `{"id":"basic-1","time":1767225600000,"type":"LOGIN","realmId":"acme","userId":"alice"}`)
	waitForID(t, sub, "events/acme", "basic-1")

	cancel()
	daemon.wait(t)
	serverProc.wait(t)
}

// TestExampleTLSRoute runs examples/tls.properties: the bundled server with TLS and
// required client certificates, and a route that reaches it over wss:// with the example
// CA and client certificate. An event posted to the webhook must be delivered.
func TestExampleTLSRoute(t *testing.T) {
	t.Chdir("../..")
	srvAddr, hookAddr := freeAddr(t), freeAddr(t)
	_, port, _ := strings.Cut(srvAddr, ":")
	t.Setenv("KETE_SERVER_LISTEN", srvAddr)
	// localhost, not 127.0.0.1: the route checks the server's name against its certificate.
	t.Setenv("KETE_ROUTES_MTLS_DESTINATION_URL", "wss://localhost:"+port+"/apps/demo/publish/events/${realmLowerCase}?ack=1")
	t.Setenv("KETE_SOURCES_WEBHOOK_LISTEN", hookAddr)
	t.Setenv("KETE_SPOOL_DIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemon := startKete(ctx, t, "run", "--config", "examples/tls.properties")
	waitHTTP(t, "http://"+hookAddr+"/readyz")

	postExampleEvent(t, "http://"+hookAddr+"/events", `{"id":"tls-1","time":1767225600000,"type":"LOGIN","realmId":"acme","userId":"alice"}`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ready struct {
			Routes []struct {
				Route     string `json:"route"`
				Delivered int    `json:"delivered"`
				LastError string `json:"lastError"`
			} `json:"routes"`
		}
		getJSON(t, "http://"+hookAddr+"/readyz", &ready)
		if len(ready.Routes) == 1 && ready.Routes[0].Delivered == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event was not delivered over mTLS: %+v", ready)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	daemon.wait(t)
}

// keteProcess is a kete command running in the test process.
type keteProcess struct {
	args   []string
	done   chan int
	stderr *syncbuf.Buffer
}

func startKete(ctx context.Context, t *testing.T, args ...string) *keteProcess {
	t.Helper()
	p := &keteProcess{args: args, done: make(chan int, 1), stderr: &syncbuf.Buffer{}}
	go func() { p.done <- run(ctx, args, io.Discard, p.stderr) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kete %s stderr:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

// wait waits for the command to end after its context was cancelled.
func (p *keteProcess) wait(t *testing.T) {
	t.Helper()
	select {
	case code := <-p.done:
		if code != 0 {
			t.Errorf("kete %s: exit %d\n%s", strings.Join(p.args, " "), code, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kete %s did not stop", strings.Join(p.args, " "))
	}
}

// waitHTTP waits until url answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200 (last error: %v)", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

func postExampleEvent(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", url, resp.Status, b)
	}
}

// exampleSubscribe connects with a token minted from the example app's secret, as
// `kete token --secret … --perm realtime:subscriber:read:topic:*` does, and waits until
// the server has confirmed the subscription to topic.
func exampleSubscribe(t *testing.T, appURL, topic string) *wstest.Client {
	t.Helper()
	tok, err := auth.Mint("HS256", []byte(exampleSecret), auth.MintClaims{Subject: "example-test", Permissions: []string{"realtime:subscriber:read:topic:*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := wstest.Connect(t, appURL+"?access_token="+tok, wstest.Options{})
	c.Subscribe(topic)
	return c
}

// waitForID waits until the event id arrives on topic; the daemon's path there may take
// longer than one wstest.WaitLimit.
func waitForID(t *testing.T, c *wstest.Client, topic, id string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f := <-c.Frames():
			var d struct {
				ID string `json:"id"`
			}
			if f.Topic == topic && json.Unmarshal(f.Data, &d) == nil && d.ID == id {
				return
			}
		case <-timeout:
			t.Fatalf("event %s never reached the subscriber of %s", id, topic)
		}
	}
}

// TestReadmeOpensWithTheTwoCommands keeps the README's promise to a new user: right after
// the title and one line, the command that shows kete working and the command that tests it.
func TestReadmeOpensWithTheTwoCommands(t *testing.T) {
	t.Chdir("../..")
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 {
		t.Fatalf("README.md has %d lines", len(lines))
	}
	want := []string{"```sh", "go run ./cmd/kete demo", "go test -race ./...", "```"}
	if !strings.HasPrefix(lines[0], "# ") || lines[1] != "" || lines[2] == "" || lines[3] != "" {
		t.Errorf("README.md should open with a title, a blank line, one line of description and a blank line; got %q", lines[:4])
	}
	if got := lines[4:8]; !slices.Equal(got, want) {
		t.Errorf("README.md lines 5-8 = %q, want %q", got, want)
	}
}
