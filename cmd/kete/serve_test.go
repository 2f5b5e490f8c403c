package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/httpguard"
	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/internal/testcerts"
)

// TestServeLogsHTTPErrorsAsJSON: net/http's own complaints (here a failed TLS handshake)
// come out through kete's logger, as JSON lines like every other, not as plain text.
func TestServeLogsHTTPErrorsAsJSON(t *testing.T) {
	ca := testcerts.NewCA(t, "serve test CA")
	leaf := ca.Server(t, "127.0.0.1")
	ln, err := listen("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}}, httpguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, http.NotFoundHandler(), httpguard.Options{}, newLogger(&out, 0))
	}()
	t.Cleanup(func() { cancel(); <-done })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // plain HTTP to a TLS port
	_, _ = c.Read(make([]byte, 512))
	c.Close()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "TLS handshake error") {
		if time.Now().After(deadline) {
			t.Fatalf("no TLS handshake error logged; log: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level != "WARN" {
			t.Errorf("log line %q: %v, want a JSON record at WARN", line, err)
		}
	}
}
