package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSecondDaemonOnOneSpoolExitsNamingTheHolder: two daemons on one spool directory
// would each lose track of the other's cursors (issue 10.10); the second exits with an
// error naming the directory and the pid that holds it.
func TestSecondDaemonOnOneSpoolExitsNamingTheHolder(t *testing.T) {
	app := startTestServer(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	props := routeConfig(app, t, "127.0.0.1:0", spoolDir)
	startTestDaemon(t, props, daemonOptions{})
	cfgPath := filepath.Join(t.TempDir(), "kete.properties")
	os.WriteFile(cfgPath, []byte(props), 0o600)
	code, _, stderr := runCLI(t, "run", "--config", cfgPath)
	if code == 0 || !strings.Contains(stderr, spoolDir) || !strings.Contains(stderr, "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second kete run = %d, stderr:\n%s\nwant an error naming %s and pid %d", code, stderr, spoolDir, os.Getpid())
	}
}
