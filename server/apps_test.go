package server

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server/auth"
)

func TestAppsFileReloadRotatesAPIKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apps.yaml")
	write := func(key string) {
		t.Helper()
		y := fmt.Sprintf(`
- appId: a
  enabled: true
  authKey: {source: raw, key: %q, algorithms: [HS256]}
  apiKeys:
    - name: gateway
      hash: %q
      permissions: ["realtime:publisher:write:topic:*"]
`, secretA, auth.HashAPIKey(key))
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("old-key")
	_, hs := startServer(t, Options{AppsFile: path, ReloadInterval: 20 * time.Millisecond})
	rotate(t, hs, write, func() {
		// Make sure the modification time moves even on coarse file systems.
		future := time.Now().Add(2 * time.Second)
		_ = os.Chtimes(path, future, future)
	})
}

// rotate checks that old-key works, rewrites the file with new-key, triggers a reload and
// checks that only new-key works then.
func rotate(t *testing.T, hs *httptest.Server, write func(string), trigger func()) {
	t.Helper()
	canConnect := func(key string) bool {
		tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/a?api_key="+key), wstest.Options{})
		if err != nil {
			return false
		}
		_ = tc.Conn().WriteClose(1000, nil)
		return true
	}
	if !canConnect("old-key") {
		t.Fatal("old key refused before rotation")
	}
	write("new-key")
	trigger()
	waitUntil(t, "new key accepted", func() bool { return canConnect("new-key") })
	if canConnect("old-key") {
		t.Fatal("old key still accepted after rotation")
	}
}

func TestLoadApps(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ok.json":    `[{"appId":"a","enabled":true,"oneConnectionPerUser":true,"limits":{"idleTimeout":"45s","maxMessageSize":1024}}]`,
		"wrap.json":  `{"apps":[{"appId":"a","enabled":true}]}`,
		"ok.yaml":    "- appId: a\n  enabled: true\n  oneConnectionPerUser: reject\n  limits: {pingInterval: 5000}\n",
		"dup.json":   `[{"appId":"a"},{"appId":"a"}]`,
		"noid.yaml":  "- enabled: true\n",
		"cidr.json":  `[{"appId":"a","clientSourceAddress":["300.1.1.1"]}]`,
		"policy.yml": "- appId: a\n  oneConnectionPerUser: sometimes\n",
		"apps.txt":   "[]",
		// A misspelt field must not be dropped: maxConection would leave the app unlimited.
		"typo.json":      `[{"appId":"a","maxConection":5}]`,
		"limittypo.json": `[{"appId":"a","limits":{"maxMesageSize":10}}]`,
		"typo.yaml":      "- appId: a\n  adminSourceAdress: [10.0.0.0/8]\n",
		"limittypo.yaml": "apps:\n  - appId: a\n    limits: {maxMessagesize: 10}\n",
		"wraptypo.yaml":  "apps: []\napp: []\n",
		"trailing.json":  `[{"appId":"a"}] [{"appId":"b"}]`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file    string
		wantErr string
	}{
		{"ok.json", ""},
		{"wrap.json", ""},
		{"ok.yaml", ""},
		{"dup.json", "duplicate appId"},
		{"noid.yaml", "appId is empty"},
		{"cidr.json", "clientSourceAddress"},
		{"policy.yml", "sometimes"},
		{"apps.txt", "unknown extension"},
		{"missing.json", "no such file"},
		{"typo.json", `unknown field "maxConection"`},
		{"limittypo.json", `unknown field "maxMesageSize"`},
		{"typo.yaml", "field adminSourceAdress not found"},
		{"limittypo.yaml", "field maxMessagesize not found"},
		{"wraptypo.yaml", "field app not found"},
		{"trailing.json", "more after the apps"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			apps, err := LoadApps(filepath.Join(dir, tt.file))
			if tt.wantErr == "" {
				if err != nil || len(apps) != 1 {
					t.Fatalf("got %v, %v", apps, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.file) {
				t.Fatalf("error %v, want one naming %s and %q", err, tt.file, tt.wantErr)
			}
		})
	}
	apps, _ := LoadApps(filepath.Join(dir, "ok.json"))
	l := apps[0].Limits.withDefaults()
	if apps[0].OneConnectionPerUser != OnePerUserReplace || l.IdleTimeout.std() != 45*time.Second || l.MaxMessageSize != 1024 || l.MaxBacklog != DefaultMaxBacklog {
		t.Fatalf("decoded %+v limits %+v", apps[0], l)
	}
	apps, _ = LoadApps(filepath.Join(dir, "ok.yaml"))
	if apps[0].OneConnectionPerUser != OnePerUserReject || apps[0].Limits.PingInterval.std() != 5*time.Second {
		t.Fatalf("decoded %+v", apps[0])
	}
}

// TestReloadClosesAConnectionThatUpgradedAsItsAppWent: a reload removes an app while one
// of its clients is between the upgrade and its registration. The reload closes the
// connections it finds; this one registers after, on the stopped hub, and must be closed
// too (1001 "app removed") instead of waiting for messages that never come.
func TestReloadClosesAConnectionThatUpgradedAsItsAppWent(t *testing.T) {
	var srv atomic.Pointer[Server] // set before any connection; read by the hook
	var once sync.Once
	s, hs := startServer(t, Options{Apps: []App{testApp("a", secretA), testApp("b", secretB)}, upgraded: func() {
		once.Do(func() {
			if err := srv.Load().SetApps([]App{testApp("b", secretB)}); err != nil {
				t.Error(err)
			}
		})
	}})
	srv.Store(s)
	c, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "late", time.Hour)), wstest.Options{})
	if err != nil {
		t.Fatalf("connect: %v (status %d)", err, wstest.Status(resp))
	}
	ce := c.WaitClosed()
	if ce == nil || ce.Code != CloseGoingAway || string(ce.Reason) != "app removed" {
		t.Fatalf("closed with %+v, want %d \"app removed\"", ce, CloseGoingAway)
	}
}
