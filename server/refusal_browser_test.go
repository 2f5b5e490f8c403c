package server_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// TestRefusedOriginShownInBrowser: the dashboard, opened for an app whose allowedOrigins
// leave the dashboard's own origin out, stops and says so ("origin … is not in the
// allowedOrigins of app …"), where it used to show "cannot connect · retry in N s" for
// ever while the server said nothing.
func TestRefusedOriginShownInBrowser(t *testing.T) {
	node, chromium := nodeToolsOrSkip(t, true, "playwright-core")
	secret := randomSecret(t)
	srv, err := server.New(server.Options{Apps: []server.App{{
		AppID: "demo", Enabled: true,
		AuthKey:        auth.Key{Source: "raw", Key: string(secret), Algorithms: []string{"HS256"}},
		AllowedOrigins: []string{"https://app.example"},
	}}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = srv.Close() })
	token, err := auth.Mint("HS256", secret, auth.MintClaims{Subject: "analyst", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("KETE_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := startNodeScript(ctx, t, node, "testdata/browser/refused.mjs",
		"KETE_URL="+ts.URL, "KETE_APP=demo", "KETE_TOKEN="+token,
		"KETE_SCREENSHOT_DIR="+shots, "CHROMIUM="+chromium, "KETE_TIMEOUT_MS=10000")
	done := script.expect(ctx, t, "done")
	t.Logf("screenshot: %v", done["screenshot"])
	status, _ := done["status"].(string)
	if done["state"] != "error" || !strings.Contains(status, "allowedOrigins") || !strings.Contains(status, ts.URL) {
		t.Fatalf("the page shows %q (state %v); want it to stop and name its origin %s and allowedOrigins", status, done["state"], ts.URL)
	}
	if err := script.cmd.Wait(); err != nil {
		t.Fatalf("node script: %v\nstderr:\n%s", err, script.stderr)
	}
}
