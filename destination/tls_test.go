package destination

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/kete-dev/kete/internal/testcerts"
)

func TestTLS(t *testing.T) {
	certs := testcerts.New(t)
	other := testcerts.New(t)
	tests := []struct {
		name       string
		clientAuth tls.ClientAuthType
		client     *tls.Config
		wantErr    string
	}{
		{"trusted", tls.NoClientCert, certs.ClientConfig(false), ""},
		{"untrusted certificate", tls.NoClientCert, other.ClientConfig(false), "certificate"},
		{"nil config uses system roots", tls.NoClientCert, nil, "certificate"},
		{"mtls without client certificate", tls.RequireAndVerifyClientCert, certs.ClientConfig(false), "certificate"},
		{"mtls with client certificate", tls.RequireAndVerifyClientCert, certs.ClientConfig(true), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, serverOptions{tls: certs.ServerConfig(tt.clientAuth)})
			d := newDestination(t, srv.url+"/secure", WebSocketOptions{TLS: tt.client})
			err := d.Send(testContext(t), login("master"), []byte(`{"tls":true}`))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if f := srv.next(t); f.data != `{"tls":true}` {
					t.Errorf("frame %q", f.data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("send: %v, want an error about %q", err, tt.wantErr)
			}
			srv.noFrame(t)
		})
	}
}

func TestTLSConfigNotShared(t *testing.T) {
	certs := testcerts.New(t)
	srv := newTestServer(t, serverOptions{tls: certs.ServerConfig(tls.NoClientCert)})
	cfg := certs.ClientConfig(false)
	d := newDestination(t, srv.url+"/secure", WebSocketOptions{TLS: cfg})
	if err := d.Send(testContext(t), login("master"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "" {
		t.Errorf("Send wrote ServerName %q into the caller's tls.Config", cfg.ServerName)
	}
}
