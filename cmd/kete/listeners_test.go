package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestListenersCutOffSlowClients: both of `kete run`'s listeners (the webhook/metrics one
// and the embedded server's) close a client that trickles its body before the webhook or
// the API has decided on authentication, and refuse a source address's connection over
// kete.*.http.max-connections-per-address while another address still gets in (issue 13
// item 7: 300 slow bodies held the listeners for good).
func TestListenersCutOffSlowClients(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("k", 32)
	apps := filepath.Join(dir, "apps.yaml")
	if err := os.WriteFile(apps, fmt.Appendf(nil, `
- appId: demo
  enabled: true
  authKey: {source: raw, key: %q, algorithms: [HS256]}
  adminKey: {source: raw, key: %q, algorithms: [HS256]}
`, secret, secret), 0o600); err != nil {
		t.Fatal(err)
	}
	serverAddr := freeAddr(t)
	const cap = 2
	props := fmt.Sprintf(`
kete.server.enabled=true
kete.server.listen=%s
kete.server.apps-file=%s
kete.server.http.read-timeout=300ms
kete.server.http.max-connections-per-address=%d
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.sources.webhook.secret=s3cret
kete.sources.webhook.http.read-timeout=300ms
kete.sources.webhook.http.max-connections-per-address=%d
kete.spool.dir=%s
`, serverAddr, apps, cap, cap, filepath.Join(dir, "spool"))
	d, _ := startTestDaemon(t, props, daemonOptions{})
	for name, addr := range map[string]string{"webhook": d.opsAddr.String(), "server": serverAddr} {
		t.Run(name, func(t *testing.T) {
			path := "/events"
			if name == "server" {
				path = "/api/topics/demo/publish"
			}
			slow := dialFrom(t, "127.0.0.1", addr)
			fmt.Fprintf(slow, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{", path)
			got := readUntilClosed(t, slow, "a slow body")
			if strings.Contains(got, " 202 ") || strings.Contains(got, " 200 ") {
				t.Fatalf("a body that never came was taken: %q", got)
			}

			// Fill 127.0.0.1's slots. net/http lets go of the slow connection only after
			// its lingering close (half a second), so a slot may still be taken: retry a
			// refused one until it is free.
			for range cap {
				deadline := time.Now().Add(10 * time.Second)
				for getStatus(t, dialFrom(t, "127.0.0.1", addr), "/metrics") == http.StatusServiceUnavailable {
					if time.Now().After(deadline) {
						t.Fatal("127.0.0.1 refused under its cap")
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			over := readUntilClosed(t, dialFrom(t, "127.0.0.1", addr), "the connection over the cap")
			if !strings.HasPrefix(over, "HTTP/1.1 503 ") || !strings.Contains(over, "Retry-After") {
				t.Fatalf("over the cap: %q, want 503 with Retry-After", over)
			}
			if st := getStatus(t, dialFrom(t, "127.0.0.2", addr), "/metrics"); st == 0 || st == 503 {
				t.Fatalf("127.0.0.2 got %d while 127.0.0.1 is at its cap", st)
			}
		})
	}
}

func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntilClosed reads c until the server closes it, failing after 10s.
func readUntilClosed(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: still open after 10s", what)
	}
	return string(b)
}

// getStatus sends one GET on c (kept alive) and returns the status.
func getStatus(t *testing.T, c net.Conn, path string) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestServerWithHangingJWKSStartsAndStops: `kete server` with an app whose JWKS endpoint
// accepts and never answers still starts listening (its health endpoint answers) and returns
// once its context ends (SIGTERM) (issue 13 item 8: it hung before listening, deaf to
// SIGTERM).
func TestServerWithHangingJWKSStartsAndStops(t *testing.T) {
	hang := make(chan struct{})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer jwks.Close()
	defer close(hang)
	dir := t.TempDir()
	secret := strings.Repeat("k", 32)
	apps := filepath.Join(dir, "apps.yaml")
	if err := os.WriteFile(apps, fmt.Appendf(nil, `
- appId: raw
  enabled: true
  authKey: {source: raw, key: %q, algorithms: [HS256]}
- appId: sso
  enabled: true
  authKey: {source: jwks, jwksUri: %q, algorithms: [RS256]}
`, secret, jwks.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"server", "--apps", apps, "--listen", addr}, io.Discard, io.Discard) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/health/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kete server not listening after 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("kete server exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("kete server did not stop within 15s of SIGTERM")
	}
}
