//go:build unix

package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
)

// TestSIGHUPReloadsAppsFile: kete server (and kete run with the server embedded) reloads
// the apps file on SIGHUP. The server polls nothing here (ReloadInterval -1), so only the
// signal can bring the change in: a disabled app (403 app_disabled before the upgrade)
// becomes enabled (401 token_missing: it now reaches authentication).
func TestSIGHUPReloadsAppsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	write := func(enabled string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(`[{"appId":"a","enabled":`+enabled+`}]`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("false")
	srv, err := server.New(server.Options{AppsFile: path, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait(); hs.Close(); srv.Close() })
	reloadOnHangup(ctx, &wg, srv, slog.New(slog.DiscardHandler))

	status := func() int {
		resp, err := http.Get(hs.URL + "/apps/a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusForbidden {
		t.Fatalf("disabled app: status %d, want 403", got)
	}
	write("true")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the app enabled by the SIGHUP reload", func() bool { return status() == http.StatusUnauthorized })
}
