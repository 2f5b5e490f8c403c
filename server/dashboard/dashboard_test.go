package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/server/dashboard"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(dashboard.Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, path string
		wantStatus         int
		wantType           string // Content-Type prefix
		wantBody           string // substring
	}{
		{"page at root", http.MethodGet, "/", http.StatusOK, "text/html", `<script type="module" src="app.js">`},
		{"page has a live status", http.MethodGet, "/", http.StatusOK, "text/html", `aria-live="polite"`},
		{"module", http.MethodGet, "/app.js", http.StatusOK, "text/javascript", "export function extractEvents"},
		{"stylesheet", http.MethodGet, "/style.css", http.StatusOK, "text/css", "prefers-color-scheme: dark"},
		{"icon", http.MethodGet, "/favicon.svg", http.StatusOK, "image/svg+xml", "<svg"},
		{"head", http.MethodHead, "/app.js", http.StatusOK, "text/javascript", ""},
		{"index only at root", http.MethodGet, "/index.html", http.StatusNotFound, "", ""},
		{"unknown file", http.MethodGet, "/nope.js", http.StatusNotFound, "", ""},
		{"directory escape", http.MethodGet, "/../dashboard.go", http.StatusNotFound, "", ""},
		{"post refused", http.MethodPost, "/", http.StatusMethodNotAllowed, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusOK {
				return
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q, want %q…", ct, tc.wantType)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body lacks %q", tc.wantBody)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self' ws: wss:") {
				t.Errorf("Content-Security-Policy %q does not keep scripts and connections local", csp)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// TestAssetsAreSelfContained keeps the page usable offline: nothing it loads comes from
// another host.
func TestAssetsAreSelfContained(t *testing.T) {
	for _, name := range []string{"assets/index.html", "assets/app.js", "assets/style.css"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// The SVG namespace is a name, not an address the browser fetches.
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		for _, bad := range []string{"https://", "http://", "//cdn", "@import"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s mentions %q: the dashboard must not load anything from another host", name, bad)
			}
		}
	}
}

// TestScriptHelpers runs the page's pure helpers (frame decoding, event normalisation,
// filters, settings from the URL) under Node's test runner. Node is needed; without it the
// test skips, unless CI is set, where it fails.
func TestScriptHelpers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node not found on PATH (CI=%s, so this does not skip): %v", os.Getenv("CI"), err)
		}
		t.Skip("node not found on PATH; install Node.js 20+ to run the dashboard's script tests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "testdata/app.test.mjs")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/app.test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "pass") {
		t.Fatalf("node --test printed no passing test:\n%s", out)
	}
	t.Logf("%s", out)
}

// The dashboard is a plain http.Handler: mount it at the root of the server's mux, beside
// the WebSocket and API routes it talks to.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("GET /", dashboard.Handler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output: 200 text/html; charset=utf-8
}
