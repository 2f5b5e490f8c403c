//go:build unix

package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/syncbuf"
)

// TestMainAsKete is not a test: run by TestInterruptExitsZero in a child process (the
// test binary, with RUN_AS_KETE=1), it is kete's main with the rest of the arguments.
func TestMainAsKete(t *testing.T) {
	if os.Getenv("RUN_AS_KETE") != "1" {
		t.Skip("runs only as the child of TestInterruptExitsZero")
	}
	for i, a := range os.Args {
		if a == "--" {
			os.Args = append([]string{"kete"}, os.Args[i+1:]...)
			main()
		}
	}
	t.Fatal("no -- before kete's arguments")
}

// TestInterruptExitsZero: Ctrl-C (SIGINT) and SIGTERM stop kete server and kete run with
// status 0, through main's real signal handling, in a process of their own.
func TestInterruptExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	apps := writeFile(t, dir, "apps.yaml", "- appId: demo\n  authKey: {source: raw, key: secret-0123456789abcdef0123456789ab}\n")
	daemonCfg := writeFile(t, dir, "kete.properties", "kete.routes.ws.destination.url=ws://127.0.0.1:9/events\nkete.sources.webhook.enabled=true\nkete.sources.webhook.listen=127.0.0.1:0\nkete.spool.dir="+dir+"/spool\n")
	for _, tc := range []struct {
		sig   syscall.Signal
		ready string
		args  []string
	}{
		{syscall.SIGINT, "kete server listening", []string{"server", "--apps", apps, "--listen", "127.0.0.1:0"}},
		{syscall.SIGTERM, "daemon listening", []string{"run", "--config", daemonCfg}},
		{syscall.SIGINT, "daemon listening", []string{"run", "--config", daemonCfg}},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestMainAsKete$", "--"}, tc.args...)...)
		cmd.Env = append(os.Environ(), "RUN_AS_KETE=1")
		var stderr syncbuf.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(stderr.String(), tc.ready) {
			select {
			case err := <-exited:
				t.Fatalf("%v: exited before it was ready (%v):\n%s", tc.args, err, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-exited
				t.Fatalf("%v: never ready:\n%s", tc.args, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := cmd.Process.Signal(tc.sig); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err != nil {
			t.Errorf("kete %s after %v: %v, want exit status 0\n%s", tc.args[0], tc.sig, err, stderr.String())
		}
	}
}
