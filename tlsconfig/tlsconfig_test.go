package tlsconfig_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/kete-dev/kete/internal/testcerts"
	"github.com/kete-dev/kete/tlsconfig"
)

// handshakeTimeout bounds every dial, read and accept in these tests.
const handshakeTimeout = 10 * time.Second

// result is what both ends of one TLS connection saw.
type result struct {
	clientErr error
	serverErr error
	server    tls.ConnectionState // valid when serverErr is nil
}

// handshake runs one TLS connection between a server on 127.0.0.1 using serverCfg and a
// client using clientCfg. After a good handshake the server writes one byte and the client
// reads it, so that a client certificate the server refuses (reported after the client's
// own handshake under TLS 1.3) shows up as a client error too.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type served struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan served, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- served{err: err}
			return
		}
		defer conn.Close()
		tc := tls.Server(conn, serverCfg)
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			done <- served{err: err}
			return
		}
		_, err = tc.Write([]byte{'k'})
		done <- served{err: err, state: tc.ConnectionState()}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	var r result
	d := tls.Dialer{Config: clientCfg.Clone()} // Clone: the dialer may fill in ServerName
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
		buf := make([]byte, 1)
		_, err = conn.Read(buf)
		conn.Close()
	}
	r.clientErr = err

	select {
	case s := <-done:
		r.serverErr, r.server = s.err, s.state
	case <-time.After(handshakeTimeout):
		t.Fatal("server side of the handshake did not finish")
	}
	return r
}

// mustSucceed fails the test unless both ends completed the handshake.
func (r result) mustSucceed(t *testing.T) {
	t.Helper()
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("handshake failed: client: %v; server: %v", r.clientErr, r.serverErr)
	}
}

// mustFail fails the test unless the client saw an error containing want.
func (r result) mustFail(t *testing.T, want string) {
	t.Helper()
	if r.clientErr == nil {
		t.Fatalf("handshake succeeded, want a client error containing %q", want)
	}
	if !strings.Contains(r.clientErr.Error(), want) {
		t.Fatalf("client error = %v, want it to contain %q", r.clientErr, want)
	}
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// wrapped is base64 broken over 76-column lines, as `base64` writes it.
func wrapped(data []byte) string {
	s := b64(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	return b.String() + s + "\n"
}

func pemText(certs ...*x509.Certificate) *tlsconfig.Store {
	return &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: tlsconfig.KindPEMText, Text: string(testcerts.CertsPEM(certs...))}}
}

func newClient(t *testing.T, o tlsconfig.Options) *tls.Config {
	t.Helper()
	cfg, err := tlsconfig.Client(o)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	return cfg
}

// TestClientTrustStoreKinds: for every loader kind, a client trusting the store completes a
// handshake with a server whose certificate the store's CA signed, and refuses a server
// whose certificate another CA signed.
func TestClientTrustStoreKinds(t *testing.T) {
	certs := testcerts.New(t)
	ca := certs.CA.Cert
	other := testcerts.New(t) // same hosts, another CA
	passwordless, err := pkcs12.Passwordless.EncodeTrustStore([]*x509.Certificate{ca}, "")
	if err != nil {
		t.Fatal(err)
	}
	// A PKCS#12 key store (someone's client identity) whose chain holds our CA.
	keyStoreWithCA, err := pkcs12.Modern.Encode(certs.Client.Key, certs.Client.Cert, []*x509.Certificate{ca}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	p7 := testcerts.PKCS7(t, other.CA.Cert, ca)

	tests := []struct {
		name  string
		store tlsconfig.Store
	}{
		{"pem-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-path", Path: testcerts.WriteFile(t, "ca.pem", testcerts.CertsPEM(ca))}}},
		{"pem-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-base64", Base64: b64(testcerts.CertsPEM(ca))}}},
		{"pem-file-base64 wrapped", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-base64", Base64: wrapped(testcerts.CertsPEM(ca))}}},
		{"pem-file-base64 unpadded", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-base64", Base64: strings.TrimRight(b64(testcerts.CertsPEM(ca)), "=")}}},
		{"pem-file-text", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(testcerts.CertsPEM(ca))}}},
		{"pem-file-text bundle", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(testcerts.CertsPEM(other.CA.Cert, ca))}}},
		{"pem-file-text upper case kind", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: " PEM-FILE-TEXT ", Text: string(testcerts.CertsPEM(ca))}}},
		{"der-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "der-file-path", Path: testcerts.WriteFile(t, "ca.der", testcerts.DER(ca))}}},
		{"der-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "der-file-base64", Base64: b64(testcerts.DER(ca))}}},
		{"pkcs12-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-path", Path: testcerts.WriteFile(t, "trust.p12", testcerts.PKCS12TrustStore(t, "s3cret", ca))}, Password: "s3cret"}},
		{"pkcs12-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(testcerts.PKCS12TrustStore(t, "s3cret", other.CA.Cert, ca))}, Password: "s3cret"}},
		{"pkcs12-file-base64 passwordless", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(passwordless)}}},
		{"pkcs12-file-base64 key store", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(keyStoreWithCA)}, Password: "pw"}},
		{"jks-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-path", Path: testcerts.WriteFile(t, "trust.jks", testcerts.JKSTrustStore(t, "changeit", ca))}, Password: "changeit"}},
		{"jks-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: b64(testcerts.JKSTrustStore(t, "changeit", other.CA.Cert, ca))}, Password: "changeit"}},
		{"pkcs7-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs7-file-path", Path: testcerts.WriteFile(t, "ca.p7b", p7)}}},
		{"pkcs7-file-path PEM armoured", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs7-file-path", Path: testcerts.WriteFile(t, "ca.p7b", pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7}))}}},
		{"pkcs7-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs7-file-base64", Base64: b64(p7)}}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen[strings.ToLower(strings.TrimSpace(string(tt.store.Loader.Kind)))] = true
			store := tt.store
			cfg := newClient(t, tlsconfig.Options{VerifyHostname: true, TrustStore: &store})
			handshake(t, certs.ServerConfig(tls.NoClientCert), cfg).mustSucceed(t)
			handshake(t, strangerServer(t), cfg).mustFail(t, "certificate signed by unknown authority")
		})
	}
	for _, kind := range tlsconfig.Kinds() {
		if !seen[string(kind)] {
			t.Errorf("kind %s has no trust-store case", kind)
		}
	}
}

// strangerServer serves a certificate for the same hosts as testcerts.New's server, signed
// by a CA no store in these tests holds.
func strangerServer(t *testing.T) *tls.Config {
	t.Helper()
	stranger := testcerts.NewCA(t, "stranger CA").Server(t)
	return &tls.Config{Certificates: []tls.Certificate{stranger.TLSCertificate()}}
}

// TestClientKeyStoreKinds: for every loader kind that can hold a key, a client presenting
// the store is accepted by a server requiring a client certificate from the CA, and the
// server sees the client's subject.
func TestClientKeyStoreKinds(t *testing.T) {
	certs := testcerts.New(t)
	leaf := certs.Client
	inter := certs.CA.Intermediate(t, "kete test intermediate")
	chained := inter.Client(t, "chained-client") // the server only trusts the root
	rsaLeaf := certs.CA.Issue(t, testcerts.Options{CommonName: "rsa-client", Client: true, RSA: true})
	ecDER, err := x509.MarshalECPrivateKey(leaf.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), testcerts.CertsPEM(leaf.Cert)...)
	rsaPEM := append(testcerts.CertsPEM(rsaLeaf.Cert), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaLeaf.Key.(*rsa.PrivateKey))})...)
	certsFirst := append(testcerts.CertsPEM(chained.Chain[0]), append(testcerts.CertsPEM(chained.Cert), testcerts.KeyPEM(t, chained.Key)...)...)
	legacy, err := pkcs12.LegacyDES.Encode(leaf.Key, leaf.Cert, nil, "old")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		store  tlsconfig.Store
		wantCN string
	}{
		{"pem-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-path", Path: testcerts.WriteFile(t, "client.pem", leaf.PEM(t))}}, leaf.Cert.Subject.CommonName},
		{"pem-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-base64", Base64: b64(leaf.PEM(t))}}, leaf.Cert.Subject.CommonName},
		{"pem-file-text", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(leaf.PEM(t))}}, leaf.Cert.Subject.CommonName},
		{"pem-file-text with intermediate", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(chained.PEM(t))}}, "chained-client"},
		{"pem-file-text certificates before key", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(certsFirst)}}, "chained-client"},
		{"pem-file-text EC key", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(ecPEM)}}, leaf.Cert.Subject.CommonName},
		{"pem-file-text PKCS#1 RSA key", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(rsaPEM)}}, "rsa-client"},
		{"pkcs12-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-path", Path: testcerts.WriteFile(t, "client.p12", testcerts.PKCS12(t, leaf, "s3cret"))}, Password: "s3cret"}, leaf.Cert.Subject.CommonName},
		{"pkcs12-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(testcerts.PKCS12(t, chained, "s3cret"))}, Password: "s3cret", KeyPassword: "s3cret"}, "chained-client"},
		{"pkcs12-file-base64 legacy DES", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(legacy)}, Password: "old"}, leaf.Cert.Subject.CommonName},
		{"jks-file-path", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-path", Path: testcerts.WriteFile(t, "client.jks", testcerts.JKS(t, leaf, "storepw", "storepw"))}, Password: "storepw"}, leaf.Cert.Subject.CommonName},
		{"jks-file-base64", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: b64(testcerts.JKS(t, chained, "storepw", "storepw"))}, Password: "storepw"}, "chained-client"},
		{"jks-file-base64 own key password", tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: b64(testcerts.JKS(t, leaf, "storepw", "keypw"))}, Password: "storepw", KeyPassword: "keypw"}, leaf.Cert.Subject.CommonName},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen[string(tt.store.Loader.Kind)] = true
			store := tt.store
			cfg := newClient(t, tlsconfig.Options{VerifyHostname: true, TrustStore: pemText(certs.CA.Cert), KeyStore: &store})
			r := handshake(t, certs.ServerConfig(tls.RequireAndVerifyClientCert), cfg)
			r.mustSucceed(t)
			if got := r.server.PeerCertificates[0].Subject.CommonName; got != tt.wantCN {
				t.Errorf("server saw client %q, want %q", got, tt.wantCN)
			}
		})
	}
	for _, kind := range tlsconfig.Kinds() {
		if !seen[string(kind)] && kind.Format() != "der" && kind.Format() != "pkcs7" {
			t.Errorf("kind %s has no key-store case", kind)
		}
	}
}

// TestClientWithoutKeyStoreRefusedByMTLSServer: no client certificate, no entry.
func TestClientWithoutKeyStoreRefusedByMTLSServer(t *testing.T) {
	certs := testcerts.New(t)
	cfg := newClient(t, tlsconfig.Options{VerifyHostname: true, TrustStore: pemText(certs.CA.Cert)})
	r := handshake(t, certs.ServerConfig(tls.RequireAndVerifyClientCert), cfg)
	r.mustFail(t, "certificate required")
	if r.serverErr == nil {
		t.Error("server accepted a client without a certificate")
	}
}

// TestClientKeyStoreFromOtherCARefused: a client certificate the server's CA did not sign
// is turned away.
func TestClientKeyStoreFromOtherCARefused(t *testing.T) {
	certs := testcerts.New(t)
	stranger := testcerts.NewCA(t, "stranger CA").Client(t, "stranger")
	key := &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(stranger.PEM(t))}}
	cfg := newClient(t, tlsconfig.Options{VerifyHostname: true, TrustStore: pemText(certs.CA.Cert), KeyStore: key})
	r := handshake(t, certs.ServerConfig(tls.RequireAndVerifyClientCert), cfg)
	if r.clientErr == nil || r.serverErr == nil {
		t.Fatalf("stranger's certificate accepted: client: %v; server: %v", r.clientErr, r.serverErr)
	}
}

// TestClientNilTrustStoreUsesSystemRoots: without a trust store the test CA is not trusted.
func TestClientNilTrustStoreUsesSystemRoots(t *testing.T) {
	certs := testcerts.New(t)
	cfg := newClient(t, tlsconfig.Options{VerifyHostname: true})
	if cfg.RootCAs != nil {
		t.Fatal("RootCAs set without a trust store")
	}
	handshake(t, certs.ServerConfig(tls.NoClientCert), cfg).mustFail(t, "certificate signed by unknown authority")
}

// TestClientMinimumTLS12: a server that stops at TLS 1.1 is refused.
func TestClientMinimumTLS12(t *testing.T) {
	certs := testcerts.New(t)
	cfg := newClient(t, tlsconfig.Options{VerifyHostname: true, TrustStore: pemText(certs.CA.Cert)})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	old := certs.ServerConfig(tls.NoClientCert)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if r := handshake(t, old, cfg); r.clientErr == nil {
		t.Fatal("handshake with a TLS 1.1 server succeeded")
	}
}

// TestVerifyHostname: the name check is on with VerifyHostname and off without it, while
// the chain is checked either way.
func TestVerifyHostname(t *testing.T) {
	certs := testcerts.New(t) // server certificate for 127.0.0.1, ::1, localhost
	inter := certs.CA.Intermediate(t, "kete test intermediate")
	viaIntermediate := inter.Server(t, "elsewhere.example")
	stranger := testcerts.NewCA(t, "stranger CA").Server(t)
	expired := certs.CA.Issue(t, testcerts.Options{Hosts: []string{"127.0.0.1"}, Server: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	serve := func(l *testcerts.Leaf) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{l.TLSCertificate()}}
	}

	tests := []struct {
		name       string
		verify     bool
		serverName string
		server     *tls.Config
		wantErr    string // "" for success
	}{
		{"verify, dialled IP in certificate", true, "", serve(certs.Server), ""},
		{"verify, server name in certificate", true, "localhost", serve(certs.Server), ""},
		{"verify, wrong server name", true, "wrong.example", serve(certs.Server), "certificate is valid for"},
		{"no verify, wrong server name", false, "wrong.example", serve(certs.Server), ""},
		{"no verify, dialled IP not in certificate, chain via intermediate", false, "", serve(viaIntermediate), ""},
		{"verify, dialled IP not in certificate", true, "", serve(viaIntermediate), "doesn't contain any IP SANs"},
		{"no verify, untrusted certificate", false, "wrong.example", serve(stranger), "certificate signed by unknown authority"},
		{"verify, untrusted certificate", true, "", serve(stranger), "certificate signed by unknown authority"},
		{"no verify, expired certificate", false, "", serve(expired), "certificate has expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newClient(t, tlsconfig.Options{VerifyHostname: tt.verify, ServerName: tt.serverName, TrustStore: pemText(certs.CA.Cert)})
			r := handshake(t, tt.server, cfg)
			if tt.wantErr == "" {
				r.mustSucceed(t)
			} else {
				r.mustFail(t, tt.wantErr)
			}
		})
	}
}

// TestClientConfigReusedAcrossDials: the config a dialler fills in is a clone; the
// original keeps a blank ServerName.
func TestClientConfigReusedAcrossDials(t *testing.T) {
	certs := testcerts.New(t)
	cfg := newClient(t, tlsconfig.Options{VerifyHostname: true, TrustStore: pemText(certs.CA.Cert)})
	for range 2 {
		handshake(t, certs.ServerConfig(tls.NoClientCert), cfg).mustSucceed(t)
	}
	if cfg.ServerName != "" {
		t.Fatalf("ServerName = %q after dials, want blank", cfg.ServerName)
	}
}

// TestWrongPassword: a password that does not open a store is an error naming the store
// and the format, wrapping ErrWrongPassword.
func TestWrongPassword(t *testing.T) {
	certs := testcerts.New(t)
	p12 := b64(testcerts.PKCS12(t, certs.Client, "right"))
	p12Trust := b64(testcerts.PKCS12TrustStore(t, "right", certs.CA.Cert))
	jks := b64(testcerts.JKS(t, certs.Client, "rightstore", "rightkey"))
	jksTrust := b64(testcerts.JKSTrustStore(t, "right", certs.CA.Cert))

	tests := []struct {
		name string
		opts tlsconfig.Options
		want string
	}{
		{"pkcs12 key store", tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: p12}, Password: "changeit"}}, "key-store: pkcs12: wrong password"},
		{"pkcs12 key store, blank password", tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: p12}}}, "key-store: pkcs12: wrong password"},
		{"pkcs12 trust store", tlsconfig.Options{TrustStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: p12Trust}, Password: "wrong"}}, "trust-store: pkcs12: wrong password"},
		{"pkcs12 trust store, named", tlsconfig.Options{TrustStore: &tlsconfig.Store{Name: "kete.routes.ws.destination.tls.trust-store", Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: p12Trust}, Password: "wrong"}}, "kete.routes.ws.destination.tls.trust-store: pkcs12: wrong password"},
		{"jks key store, store password", tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: jks}, Password: "wrong", KeyPassword: "rightkey"}}, "key-store: jks: wrong password"},
		{"jks key store, key password", tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: jks}, Password: "rightstore", KeyPassword: "wrong"}}, `key-store: jks: alias "key": key-password: wrong password`},
		{"jks key store, blank key password means store password", tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: jks}, Password: "rightstore"}}, `key-store: jks: alias "key": key-password (blank, so password): wrong password`},
		{"jks trust store, blank password", tlsconfig.Options{TrustStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: jksTrust}}}, "trust-store: jks: wrong password (store integrity check failed; the password is blank)"},
		{"jks trust store", tlsconfig.Options{TrustStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "jks-file-base64", Base64: jksTrust}, Password: "changeit"}}, "trust-store: jks: wrong password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsconfig.Client(tt.opts)
			if err == nil {
				t.Fatal("Client accepted a wrong password")
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
			if !errors.Is(err, tlsconfig.ErrWrongPassword) {
				t.Errorf("error %q does not wrap ErrWrongPassword", err)
			}
			for _, secret := range []string{"changeit", "wrong", "right"} {
				if strings.Contains(err.Error(), `"`+secret+`"`) || strings.Contains(err.Error(), "="+secret) {
					t.Errorf("error %q shows a password", err)
				}
			}
		})
	}
}

// TestStoreErrors: bad loader settings and bad material are errors naming the store and
// the field or format at fault.
func TestStoreErrors(t *testing.T) {
	certs := testcerts.New(t)
	caPEM := string(testcerts.CertsPEM(certs.CA.Cert))
	p12 := b64(testcerts.PKCS12(t, certs.Client, "pw"))
	jks := b64(testcerts.JKS(t, certs.Client, "storepw", "storepw"))
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})) + caPEM
	trust := func(l tlsconfig.Loader) tlsconfig.Options {
		return tlsconfig.Options{TrustStore: &tlsconfig.Store{Loader: l, Password: "pw"}}
	}
	key := func(l tlsconfig.Loader) tlsconfig.Options {
		return tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: l, Password: "pw"}}
	}

	tests := []struct {
		name string
		opts tlsconfig.Options
		want []string
	}{
		{"missing path", trust(tlsconfig.Loader{Kind: "pem-file-path"}), []string{"trust-store: loader.kind=pem-file-path needs loader.path"}},
		{"missing base64", key(tlsconfig.Loader{Kind: "pkcs12-file-base64"}), []string{"key-store: loader.kind=pkcs12-file-base64 needs loader.base64"}},
		{"missing text", trust(tlsconfig.Loader{Kind: "pem-file-text", Text: "  \n"}), []string{"trust-store: loader.kind=pem-file-text needs loader.text"}},
		{"missing kind", trust(tlsconfig.Loader{Path: "/x"}), []string{"trust-store: loader.kind is required; valid kinds: pem-file-path,", "pkcs7-file-base64"}},
		{"unknown kind", trust(tlsconfig.Loader{Kind: "pem-file-url", Path: "/x"}), []string{`trust-store: loader.kind="pem-file-url" is not a loader kind; valid kinds: pem-file-path, pem-file-base64, pem-file-text, der-file-path, der-file-base64, pkcs12-file-path, pkcs12-file-base64, jks-file-path, jks-file-base64, pkcs7-file-path, pkcs7-file-base64`}},
		{"text for a der kind", trust(tlsconfig.Loader{Kind: "der-file-text", Text: caPEM}), []string{`loader.kind="der-file-text" is not a loader kind`}},
		{"two sources", trust(tlsconfig.Loader{Kind: "pem-file-text", Text: caPEM, Path: "/etc/ca.pem"}), []string{"trust-store: loader.path is set but loader.kind=pem-file-text reads loader.text"}},
		{"corrupt base64", trust(tlsconfig.Loader{Kind: "pem-file-base64", Base64: "bm90!!base64"}), []string{"trust-store: loader.base64: not valid base64"}},
		{"corrupt base64 key store", key(tlsconfig.Loader{Kind: "jks-file-base64", Base64: jks[:10] + "*" + jks[11:]}), []string{"key-store: loader.base64: not valid base64"}},
		{"missing file", trust(tlsconfig.Loader{Kind: "der-file-path", Path: "/nonexistent/ca.der"}), []string{"trust-store: loader.path=/nonexistent/ca.der:", "no such file"}},
		{"empty file", trust(tlsconfig.Loader{Kind: "pem-file-path", Path: testcerts.WriteFile(t, "empty.pem", nil)}), []string{"trust-store: loader.path=", "file is empty"}},
		{"pem without blocks", trust(tlsconfig.Loader{Kind: "pem-file-text", Text: "hello"}), []string{"trust-store: pem: no PEM block found"}},
		{"pem trust store of keys only", trust(tlsconfig.Loader{Kind: "pem-file-text", Text: string(testcerts.KeyPEM(t, certs.Client.Key))}), []string{"trust-store: pem: no certificates found"}},
		{"pem with a CRL", trust(tlsconfig.Loader{Kind: "pem-file-text", Text: string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1}}))}), []string{`trust-store: pem: block 1 is "X509 CRL", not a CERTIFICATE`}},
		{"pem given as der", trust(tlsconfig.Loader{Kind: "der-file-base64", Base64: b64([]byte(caPEM))}), []string{"trust-store: der: data is PEM text, not binary DER; use a pem-file-* kind"}},
		{"pem given as pkcs12", key(tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(certs.Client.PEM(t))}), []string{"key-store: pkcs12: data is PEM text, not binary PKCS12; use a pem-file-* kind"}},
		{"jks given as pem", key(tlsconfig.Loader{Kind: "pem-file-base64", Base64: jks}), []string{"key-store: pem: this is a JKS store; use a jks-file-* kind"}},
		{"jks given as pkcs7", trust(tlsconfig.Loader{Kind: "pkcs7-file-base64", Base64: jks}), []string{"trust-store: pkcs7: this is a JKS store; use a jks-file-* kind"}},
		{"der garbage", trust(tlsconfig.Loader{Kind: "der-file-base64", Base64: b64([]byte{0x30, 0x03, 1, 2, 3})}), []string{"trust-store: der:"}},
		{"pkcs7 garbage", trust(tlsconfig.Loader{Kind: "pkcs7-file-base64", Base64: b64([]byte{1, 2, 3})}), []string{"trust-store: pkcs7:"}},
		{"jks given as pkcs12", trust(tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: jks}), []string{"trust-store: pkcs12: this is a JKS store; use a jks-file-* kind"}},
		{"pkcs12 given as jks", key(tlsconfig.Loader{Kind: "jks-file-base64", Base64: p12}), []string{"key-store: jks: this looks like a PKCS#12 store", "use a pkcs12-file-* kind"}},
		{"pem key store without key", key(tlsconfig.Loader{Kind: "pem-file-text", Text: caPEM}), []string{"key-store: pem: no private key"}},
		{"pem key store without certificate", key(tlsconfig.Loader{Kind: "pem-file-text", Text: string(testcerts.KeyPEM(t, certs.Client.Key))}), []string{"key-store: pem: private key without a certificate"}},
		{"pem key store, key and certificate do not match", key(tlsconfig.Loader{Kind: "pem-file-text", Text: string(testcerts.KeyPEM(t, certs.Server.Key)) + string(testcerts.CertsPEM(certs.Client.Cert))}), []string{"key-store: pem: none of the 1 certificates matches the private key"}},
		{"pem key store, two keys", key(tlsconfig.Loader{Kind: "pem-file-text", Text: string(certs.Client.PEM(t)) + string(certs.Server.PEM(t))}), []string{"key-store: pem: 2 private keys"}},
		{"pem key store, encrypted PKCS#8", key(tlsconfig.Loader{Kind: "pem-file-text", Text: encrypted}), []string{"key-store: pem: block 1 is an encrypted PKCS#8 key"}},
		{"der key store", key(tlsconfig.Loader{Kind: "der-file-base64", Base64: b64(testcerts.DER(certs.Client.Cert))}), []string{"key-store: der: a DER file holds a single certificate or a single key, never both"}},
		{"pkcs7 key store", key(tlsconfig.Loader{Kind: "pkcs7-file-base64", Base64: b64(testcerts.PKCS7(t, certs.Client.Cert))}), []string{"key-store: pkcs7: a PKCS#7 bundle holds certificates only"}},
		{"jks trust store as key store", key(tlsconfig.Loader{Kind: "jks-file-base64", Base64: b64(testcerts.JKSTrustStore(t, "pw", certs.CA.Cert))}), []string{"key-store: jks: no private key entry"}},
		{"pkcs12 trust store as key store", key(tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(testcerts.PKCS12TrustStore(t, "pw", certs.CA.Cert))}), []string{"key-store: pkcs12: private key missing (a store of trusted certificates only is a trust store)"}},
		{"pkcs12 with a second password", tlsconfig.Options{KeyStore: &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: p12}, Password: "pw", KeyPassword: "other"}}, []string{"key-store: pkcs12: key-password differs from password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tlsconfig.Client(tt.opts); err == nil {
				t.Fatalf("Client succeeded, want an error containing %q", tt.want)
			} else {
				t.Log(err)
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error = %q, want it to contain %q", err, w)
					}
				}
				if errors.Is(err, tlsconfig.ErrWrongPassword) {
					t.Errorf("error %q wraps ErrWrongPassword", err)
				}
			}
		})
	}
}

// TestServer: the bundled server's config in each client-auth mode, against real clients.
func TestServer(t *testing.T) {
	certs := testcerts.New(t)
	stranger := testcerts.NewCA(t, "stranger CA").Client(t, "stranger")
	keyStore := &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pkcs12-file-base64", Base64: b64(testcerts.PKCS12(t, certs.Server, "pw"))}, Password: "pw"}
	clientCAs := pemText(certs.CA.Cert)
	withCert := certs.ClientConfig(true)
	noCert := certs.ClientConfig(false)
	strangerCert := certs.ClientConfig(false)
	// Sent even though the server asks for certificates from its own CA only (with
	// Certificates, crypto/tls would quietly send none).
	strangerCert.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := stranger.TLSCertificate()
		return &c, nil
	}

	tests := []struct {
		name     string
		opts     tlsconfig.ServerOptions
		client   *tls.Config
		wantOK   bool
		wantPeer string
	}{
		{"none, no client cert", tlsconfig.ServerOptions{KeyStore: keyStore}, noCert, true, ""},
		{"none, client cert ignored", tlsconfig.ServerOptions{KeyStore: keyStore, ClientAuth: tlsconfig.ClientAuthNone}, withCert, true, ""},
		{"request, no client cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs, ClientAuth: tlsconfig.ClientAuthRequest}, noCert, true, ""},
		{"request, client cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs, ClientAuth: "REQUEST"}, withCert, true, "kete-test-client"},
		{"request, stranger's cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs, ClientAuth: tlsconfig.ClientAuthRequest}, strangerCert, false, ""},
		{"require, client cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs, ClientAuth: tlsconfig.ClientAuthRequire}, withCert, true, "kete-test-client"},
		{"require by default with a trust store, client cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs}, withCert, true, "kete-test-client"},
		{"require by default with a trust store, no client cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs}, noCert, false, ""},
		{"require, stranger's cert", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs, ClientAuth: tlsconfig.ClientAuthRequire}, strangerCert, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tlsconfig.Server(tt.opts)
			if err != nil {
				t.Fatalf("Server: %v", err)
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			r := handshake(t, cfg, tt.client)
			if !tt.wantOK {
				if r.clientErr == nil || r.serverErr == nil {
					t.Fatalf("handshake accepted: client: %v; server: %v", r.clientErr, r.serverErr)
				}
				return
			}
			r.mustSucceed(t)
			var peer string
			if len(r.server.PeerCertificates) > 0 {
				peer = r.server.PeerCertificates[0].Subject.CommonName
			}
			if peer != tt.wantPeer {
				t.Errorf("server saw client %q, want %q", peer, tt.wantPeer)
			}
		})
	}
}

// TestServerOptionErrors: settings that cannot make a sensible server are refused.
func TestServerOptionErrors(t *testing.T) {
	certs := testcerts.New(t)
	keyStore := &tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(certs.Server.PEM(t))}}
	clientCAs := &tlsconfig.Store{Name: "kete.server.tls.trust-store", Loader: tlsconfig.Loader{Kind: "pem-file-text", Text: string(testcerts.CertsPEM(certs.CA.Cert))}}
	tests := []struct {
		name string
		opts tlsconfig.ServerOptions
		want string
	}{
		{"no key store", tlsconfig.ServerOptions{TrustStore: clientCAs}, "key-store: required"},
		{"unknown mode", tlsconfig.ServerOptions{KeyStore: keyStore, ClientAuth: "want"}, `client-auth="want" is not a mode; valid modes: none, request, require-and-verify`},
		{"require without trust store", tlsconfig.ServerOptions{KeyStore: keyStore, ClientAuth: tlsconfig.ClientAuthRequire}, "client-auth=require-and-verify needs a trust-store"},
		{"trust store with none", tlsconfig.ServerOptions{KeyStore: keyStore, TrustStore: clientCAs, ClientAuth: tlsconfig.ClientAuthNone}, "kete.server.tls.trust-store: set, but client-auth=none"},
		{"bad key store", tlsconfig.ServerOptions{KeyStore: &tlsconfig.Store{Name: "kete.server.tls.key-store", Loader: tlsconfig.Loader{Kind: "pem-file-path"}}}, "kete.server.tls.key-store: loader.kind=pem-file-path needs loader.path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsconfig.Server(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestStoreReadsPathEachTime: a store reads its file when used, so a renewed certificate is
// picked up by the next Client call.
func TestStoreReadsPathEachTime(t *testing.T) {
	first, second := testcerts.New(t), testcerts.New(t)
	path := testcerts.WriteFile(t, "ca.pem", testcerts.CertsPEM(first.CA.Cert))
	store := tlsconfig.Store{Loader: tlsconfig.Loader{Kind: "pem-file-path", Path: path}}
	certs, err := store.TrustedCertificates()
	if err != nil || len(certs) != 1 || !certs[0].Equal(first.CA.Cert) {
		t.Fatalf("first read: %v, %v", certs, err)
	}
	if err := os.WriteFile(path, testcerts.CertsPEM(second.CA.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	certs, err = store.TrustedCertificates()
	if err != nil || len(certs) != 1 || !certs[0].Equal(second.CA.Cert) {
		t.Fatalf("second read: %v, %v", certs, err)
	}
}
