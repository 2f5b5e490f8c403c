package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestDescribeMasksSecrets(t *testing.T) {
	keyPEM := selfSignedPEM(t)
	c := parse(t, `
kete.routes.ws.destination.url=wss://127.0.0.1:9/events/${realmLowerCase}?access_token=${env:URL_TOKEN}&tenant=acme
kete.routes.ws.destination.headers.Authorization=Bearer header-secret
kete.routes.ws.destination.headers.X-Api-Key=api-secret
kete.routes.ws.destination.headers.X-Tenant=acme
kete.routes.ws.destination.tls.key-store.loader.kind=pem-file-base64
kete.routes.ws.destination.tls.key-store.loader.base64=`+base64.StdEncoding.EncodeToString(keyPEM)+`
kete.routes.ws.destination.tls.verify-hostname=false
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=https://auth.example.com/token
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=oauth-secret
kete.routes.ws.destination.oauth.timeout-seconds=5
kete.routes.ws.retry.enabled=false
`, "URL_TOKEN=url-secret")
	var b strings.Builder
	if err := c.Describe(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, secret := range []string{"url-secret", "header-secret", "api-secret", "oauth-secret", base64.StdEncoding.EncodeToString(keyPEM)[:20]} {
		if strings.Contains(out, secret) {
			t.Errorf("Describe shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		"url:            wss://127.0.0.1:9/events/${realmLowerCase}?access_token=****&tenant=acme",
		"example:        wss://127.0.0.1:9/events/master?access_token=****&tenant=acme (LOGIN in realm master)",
		"header:         Authorization: ****",
		"header:         X-Api-Key: ****",
		"header:         X-Tenant: acme",
		"tls:            on, verify-hostname false, trust-store system roots, key-store pem-file-base64 ****",
		"oauth:          external, token-url https://auth.example.com/token, client-id kete, client-secret ****, timeout 5s",
		"retry:          off (one attempt)",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("Describe lacks %q:\n%s", want, out)
		}
	}
	if r := c.Route("ws"); r.Destination.tlsConfig == nil || len(r.Destination.tlsConfig.Certificates) != 1 {
		t.Error("the key store was not loaded at Load")
	}
}

func TestServerTLS(t *testing.T) {
	path := writeFile(t, "server.pem", string(selfSignedPEM(t)))
	c := parse(t, `
kete.server.tls.enabled=true
kete.server.tls.key-store.loader.kind=pem-file-path
kete.server.tls.key-store.loader.path=`+path+"\n")
	cfg, err := c.Server.TLSConfig()
	if err != nil || cfg == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("TLSConfig: %v, %v", cfg, err)
	}

	for _, tc := range []struct{ props, key, reason string }{
		{"kete.server.tls.enabled=true", "kete.server.tls.key-store.loader.kind", "required"},
		{"kete.server.tls.enabled=true\nkete.server.tls.key-store.loader.kind=pem-file-path\nkete.server.tls.key-store.loader.path=/does/not/exist.pem", "kete.server.tls.key-store", "exist.pem"},
		{"kete.server.tls.enabled=true\nkete.server.tls.key-store.loader.kind=pem-file-path\nkete.server.tls.key-store.loader.path=" + path + "\nkete.server.tls.client-auth=sometimes", "kete.server.tls.client-auth", "want none"},
	} {
		ps := problems(t, FormatProperties, tc.props)
		if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Reason, tc.reason) {
			t.Errorf("%s:\nproblems %v, want one for %s saying %q", tc.props, ps, tc.key, tc.reason)
		}
	}
}

// selfSignedPEM returns a certificate for 127.0.0.1 and its key, both PEM.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kete test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
}

// TestDescribeRetrySaysWhatRunDoes: kete run retries until delivered unless
// retry.max-attempts is set, and kete check must say the same.
func TestDescribeRetrySaysWhatRunDoes(t *testing.T) {
	for _, tt := range []struct{ extra, want string }{
		{"", "retry:          until delivered (set retry.max-attempts to dead-letter after N), first wait 500ms, max wait 30s"},
		{"kete.routes.ws.retry.max-attempts=5\n", "retry:          5 attempts, then dead-lettered, first wait 500ms, max wait 30s"},
	} {
		c := parse(t, "kete.routes.ws.destination.url=ws://127.0.0.1:9/events\n"+tt.extra)
		var b strings.Builder
		if err := c.Describe(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want+"\n") {
			t.Errorf("with %q Describe lacks %q:\n%s", tt.extra, tt.want, b.String())
		}
	}
}

// A daemon with no source enabled answers 404 to every webhook post; `kete check` says so
// and names the key to set.
func TestDescribeWarnsWhenNoSourceIsEnabled(t *testing.T) {
	for _, tt := range []struct{ props, want string }{
		{"kete.sources.webhook.listen=:9000\n", "warning: kete.sources.webhook.listen is set but kete.sources.webhook.enabled is not: the daemon answers 404 to every webhook post; set kete.sources.webhook.enabled=true\n"},
		{"kete.spool.dir=/var/lib/kete\n", "warning: no source is enabled"},
		{"", ""}, // a library or server configuration: no sources expected
		{"kete.sources.keycloak.realms=acme\n", "set kete.sources.keycloak.enabled=true"},
		{"kete.sources.webhook.enabled=true\n", ""},
		{"kete.sources.keycloak.enabled=true\nkete.keycloak.url=http://127.0.0.1:1\nkete.keycloak.username=a\nkete.keycloak.password=b\n", ""},
	} {
		c := parse(t, "kete.routes.ws.destination.url=ws://127.0.0.1:9/events\n"+tt.props)
		var b strings.Builder
		if err := c.Describe(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if tt.want == "" {
			if strings.Contains(out, "no source is enabled") || strings.Contains(out, "is set but kete.sources") {
				t.Errorf("with %q Describe warns that no source is enabled:\n%s", tt.props, out)
			}
			continue
		}
		if !strings.Contains(out, tt.want) {
			t.Errorf("with %q Describe lacks %q:\n%s", tt.props, tt.want, out)
		}
	}
}

// Realm matchers meet senders that carry only the realm's id: without Keycloak admin
// access, check says the route must list the id; with it, kete looks names up.
func TestDescribeSaysWhatRealmMatchersNeed(t *testing.T) {
	const route = "kete.routes.ws.destination.url=ws://127.0.0.1:9/events\nkete.routes.ws.realm-matchers.realm=list:acme\nkete.sources.webhook.enabled=true\n"
	for _, tt := range []struct {
		extra string
		note  bool
	}{
		{"", true},
		{"kete.keycloak.url=http://127.0.0.1:1\nkete.keycloak.client-id=kete\nkete.keycloak.client-secret=s\n", false},
	} {
		c := parse(t, route+tt.extra)
		var b strings.Builder
		if err := c.Describe(&b); err != nil {
			t.Fatal(err)
		}
		want := "note: route ws: realm-matchers.realm=list:acme match the realm's name or id; events from senders that send only the id"
		if got := strings.Contains(b.String(), want); got != tt.note {
			t.Errorf("with %q the realm note shown = %v, want %v:\n%s", tt.extra, got, tt.note, b.String())
		}
		if tt.note && !strings.Contains(b.String(), "set kete.keycloak.url and admin credentials") {
			t.Errorf("the note does not name the keys:\n%s", b.String())
		}
	}
}
