package testcerts_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"go.mozilla.org/pkcs7"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/kete-dev/kete/internal/testcerts"
)

// verify checks that l chains to ca's root for usage, naming host when not blank.
func verify(t *testing.T, ca *testcerts.CA, l *testcerts.Leaf, usage x509.ExtKeyUsage, host string) {
	t.Helper()
	inter := x509.NewCertPool()
	for _, c := range l.Chain {
		inter.AddCert(c)
	}
	_, err := l.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), Intermediates: inter, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		t.Fatalf("%s does not verify: %v", l.Cert.Subject.CommonName, err)
	}
}

func TestLeavesVerify(t *testing.T) {
	s := testcerts.New(t)
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		verify(t, s.CA, s.Server, x509.ExtKeyUsageServerAuth, host)
	}
	verify(t, s.CA, s.Client, x509.ExtKeyUsageClientAuth, "")
	if _, err := s.Client.Cert.Verify(x509.VerifyOptions{Roots: s.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate verifies for server auth")
	}

	inter := s.CA.Intermediate(t, "intermediate")
	leaf := inter.Server(t, "svc.example")
	if len(leaf.Chain) != 1 || !leaf.Chain[0].Equal(inter.Cert) {
		t.Fatalf("chain of a leaf from an intermediate = %d certs, want the intermediate", len(leaf.Chain))
	}
	if !inter.Root().Equal(s.CA.Cert) {
		t.Error("intermediate's root is not the CA")
	}
	verify(t, inter, leaf, x509.ExtKeyUsageServerAuth, "svc.example")

	expired := s.CA.Issue(t, testcerts.Options{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if _, err := expired.Cert.Verify(x509.VerifyOptions{Roots: s.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Error("expired certificate verifies")
	}
}

func TestWritersRoundTrip(t *testing.T) {
	s := testcerts.New(t)
	leaf := s.CA.Intermediate(t, "intermediate").Client(t, "c")
	rsaLeaf := s.CA.Issue(t, testcerts.Options{CommonName: "rsa", RSA: true})

	for _, l := range []*testcerts.Leaf{leaf, rsaLeaf} {
		pair, err := tls.X509KeyPair(l.PEM(t), l.PEM(t))
		if err != nil {
			t.Fatalf("PEM key store: %v", err)
		}
		if len(pair.Certificate) != 1+len(l.Chain) {
			t.Errorf("PEM key store has %d certificates, want %d", len(pair.Certificate), 1+len(l.Chain))
		}
	}

	certs, err := x509.ParseCertificates(testcerts.DER(s.CA.Cert, leaf.Cert))
	if err != nil || len(certs) != 2 {
		t.Fatalf("DER: %d certs, %v", len(certs), err)
	}

	p7, err := pkcs7.Parse(testcerts.PKCS7(t, s.CA.Cert, leaf.Cert))
	if err != nil || len(p7.Certificates) != 2 {
		t.Fatalf("PKCS#7: %v", err)
	}

	key, cert, chain, err := pkcs12.DecodeChain(testcerts.PKCS12(t, leaf, "pw"), "pw")
	if err != nil || key == nil || !cert.Equal(leaf.Cert) || len(chain) != 1 {
		t.Fatalf("PKCS#12 key store: %v", err)
	}
	trusted, err := pkcs12.DecodeTrustStore(testcerts.PKCS12TrustStore(t, "pw", s.CA.Cert), "pw")
	if err != nil || len(trusted) != 1 {
		t.Fatalf("PKCS#12 trust store: %v", err)
	}

	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(testcerts.JKS(t, leaf, "store", "key")), []byte("store")); err != nil {
		t.Fatalf("JKS key store: %v", err)
	}
	entry, err := ks.GetPrivateKeyEntry("key", []byte("key"))
	if err != nil || len(entry.CertificateChain) != 2 {
		t.Fatalf("JKS key entry: %v", err)
	}
	ts := keystore.New()
	if err := ts.Load(bytes.NewReader(testcerts.JKSTrustStore(t, "store", s.CA.Cert, leaf.Cert)), []byte("store")); err != nil {
		t.Fatalf("JKS trust store: %v", err)
	}
	if !ts.IsTrustedCertificateEntry("cert-1") || !ts.IsTrustedCertificateEntry("cert-2") {
		t.Errorf("JKS trust store aliases = %v", ts.Aliases())
	}
}

// TestSetConfigsHandshake: the Set's ready-made configs complete an mTLS handshake on
// loopback, and the server sees the client certificate.
func TestSetConfigsHandshake(t *testing.T) {
	s := testcerts.New(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.ServerConfig(tls.RequireAndVerifyClientCert))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			peer <- err.Error()
			return
		}
		_, _ = tc.Write([]byte{1})
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), s.ClientConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	select {
	case got := <-peer:
		if got != "kete-test-client" {
			t.Fatalf("server saw %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not finish")
	}
}
