package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// A child `kete` for the crash test: the test binary re-executes itself as the CLI.
	if args := os.Getenv("KETECLI_TEST_ARGS"); args != "" {
		ctx, stop := signalContext()
		defer stop()
		os.Exit(run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestWebhookToSubscriber: webhook POST → spool → route → bundled server's acked ingest
// → subscriber, every event once.
func TestWebhookToSubscriber(t *testing.T) {
	app := startTestServer(t)
	sub := app.subscribe(t, "events")
	_, url := startTestDaemon(t, routeConfig(app, t, "127.0.0.1:0", t.TempDir()), daemonOptions{})
	ctx := context.Background()
	want := map[string]bool{}
	for batch := range 20 {
		events := makeEvents("e2e", batch*100, 100)
		status, err := postEvents(ctx, url, events)
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("POST batch %d = %d, %v", batch, status, err)
		}
		for _, e := range events {
			want[e.ID] = true
		}
	}
	if dups := sub.waitFor(t, want, 30*time.Second); dups != 0 {
		t.Fatalf("%d duplicates delivered", dups)
	}
}

// TestKilledDaemonLosesNothing runs `kete run` as a child process, SIGKILLs it several
// times during a stream of 10,000 events, restarts it, and checks that every event the
// webhook acknowledged with 202 reaches the subscriber.
func TestKilledDaemonLosesNothing(t *testing.T) {
	app := startTestServer(t)
	sub := app.subscribe(t, "events")
	dir := t.TempDir()
	webhook := freeAddr(t)
	cfgPath := filepath.Join(dir, "kete.properties")
	if err := os.WriteFile(cfgPath, []byte(routeConfig(app, t, webhook, filepath.Join(dir, "spool"))), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "http://" + webhook + "/events"
	ctx := context.Background()

	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KETECLI_TEST_ARGS="+strings.Join([]string{"run", "--config", cfgPath}, "\x1f"))
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { // drain, so the child never blocks on a full pipe
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
			}
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + webhook + "/healthz")
			if err == nil {
				resp.Body.Close()
				return cmd
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("child daemon never answered /healthz")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	const total, batch, kills = 10000, 100, 4
	acked := map[string]bool{}
	child := startChild()
	refused := 0
	for sent, n := 0, 0; sent < total; n++ {
		if n > 0 && n%(total/batch/(kills+1)) == 0 && len(acked) < total {
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			child = startChild()
		}
		events := makeEvents("crash", sent, batch)
		status, err := postEvents(ctx, url, events)
		if err != nil || status != http.StatusAccepted {
			refused++ // not acknowledged: the sender would retry, so do we
			if refused > 1000 {
				t.Fatalf("webhook keeps refusing: %d, %v", status, err)
			}
			continue
		}
		for _, e := range events {
			acked[e.ID] = true
		}
		sent += batch
	}
	dups := sub.waitFor(t, acked, 60*time.Second)
	child.Process.Signal(syscall.SIGTERM)
	child.Wait()
	t.Logf("%d events acknowledged across %d SIGKILLs; all delivered; %d duplicates reached the subscriber", len(acked), kills, dups)
	if dups != 0 {
		t.Errorf("%d duplicates reached the subscriber; the acked ingest's de-duplication should stop them", dups)
	}
}
