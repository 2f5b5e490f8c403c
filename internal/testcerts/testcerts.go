// Package testcerts makes throwaway certificate authorities, server and client certificates
// for tests, and writes them in every store format kete reads (PEM, DER, PKCS#12, JKS,
// PKCS#7). Keys are ECDSA P-256 unless asked for RSA; certificates are valid from an hour ago
// to a day from now. Every function takes the test and fails it on error, so that tests read
// as a list of what they need:
//
//	certs := testcerts.New(t) // a CA, a server cert for 127.0.0.1/::1/localhost, a client cert
//	srv := httptest.NewUnstartedServer(h)
//	srv.TLS = certs.ServerConfig(tls.RequireAndVerifyClientCert)
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a certificate authority that issues certificates for one test.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Parents are the CAs above this one, nearest first; empty for a root.
	Parents []*x509.Certificate
}

// Leaf is an end-entity certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is what a peer sends after the leaf: the intermediate CAs, nearest first,
	// without the root.
	Chain []*x509.Certificate
}

// Options shape a leaf certificate; the zero value is a client-and-server certificate with
// an ECDSA key and no names.
type Options struct {
	CommonName string
	// Hosts become subject alternative names: IP addresses as IP SANs, the rest as DNS.
	Hosts []string
	// Server and Client set the extended key usages; both false means both.
	Server, Client bool
	// RSA asks for a 2048-bit RSA key instead of ECDSA P-256 (slower to make).
	RSA bool
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
}

// withDefaults returns o with a zero validity as an hour ago to a day from now, and
// neither usage asked for as both.
func (o Options) withDefaults() Options {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if !o.Server && !o.Client {
		o.Server, o.Client = true, true
	}
	return o
}

// NewCA makes a self-signed root CA.
func NewCA(t testing.TB, commonName string) *CA {
	t.Helper()
	key := newKey(t, false)
	tmpl := caTemplate(t, commonName)
	return &CA{Cert: sign(t, tmpl, tmpl, key.Public(), key), Key: key}
}

// Intermediate makes a CA signed by ca.
func (ca *CA) Intermediate(t testing.TB, commonName string) *CA {
	t.Helper()
	key := newKey(t, false)
	cert := sign(t, caTemplate(t, commonName), ca.Cert, key.Public(), ca.Key)
	return &CA{Cert: cert, Key: key, Parents: append([]*x509.Certificate{ca.Cert}, ca.Parents...)}
}

// Root returns the self-signed certificate at the top of ca's chain: the trust anchor.
func (ca *CA) Root() *x509.Certificate {
	if len(ca.Parents) == 0 {
		return ca.Cert
	}
	return ca.Parents[len(ca.Parents)-1]
}

// Pool returns a pool holding ca's root, for RootCAs or ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root())
	return p
}

// Issue makes a leaf certificate signed by ca.
func (ca *CA) Issue(t testing.TB, o Options) *Leaf {
	t.Helper()
	o = o.withDefaults()
	key := newKey(t, o.RSA)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: o.CommonName, Organization: []string{"kete tests"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if o.RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	var chain []*x509.Certificate
	if len(ca.Parents) > 0 { // an intermediate: send it and those between it and the root
		chain = append(chain, ca.Cert)
		chain = append(chain, ca.Parents[:len(ca.Parents)-1]...)
	}
	return &Leaf{Cert: sign(t, tmpl, ca.Cert, key.Public(), ca.Key), Key: key, Chain: chain}
}

// Server issues a server certificate for hosts; no hosts means 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(t testing.TB, hosts ...string) *Leaf {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	return ca.Issue(t, Options{CommonName: hosts[0], Hosts: hosts, Server: true})
}

// Client issues a client certificate whose subject is commonName.
func (ca *CA) Client(t testing.TB, commonName string) *Leaf {
	t.Helper()
	return ca.Issue(t, Options{CommonName: commonName, Client: true})
}

// Certificates returns the leaf followed by its chain: what a peer sends.
func (l *Leaf) Certificates() []*x509.Certificate {
	return append([]*x509.Certificate{l.Cert}, l.Chain...)
}

// TLSCertificate returns the leaf, chain and key for tls.Config.Certificates.
func (l *Leaf) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: l.Key, Leaf: l.Cert}
	for _, x := range l.Certificates() {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// Set is the usual trio for a TLS test: one CA, a server certificate for loopback and a
// client certificate, both issued by the CA.
type Set struct {
	CA     *CA
	Server *Leaf
	Client *Leaf
}

// New makes a Set: the server certificate names 127.0.0.1, ::1 and localhost; the client
// certificate's subject is "kete-test-client".
func New(t testing.TB) *Set {
	t.Helper()
	ca := NewCA(t, "kete test CA")
	return &Set{CA: ca, Server: ca.Server(t), Client: ca.Client(t, "kete-test-client")}
}

// ServerConfig returns a server config presenting s.Server and verifying client
// certificates against s.CA as clientAuth says (tls.NoClientCert for plain TLS).
func (s *Set) ServerConfig(clientAuth tls.ClientAuthType) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.Server.TLSCertificate()},
		ClientCAs:    s.CA.Pool(),
		ClientAuth:   clientAuth,
	}
}

// ClientConfig returns a client config trusting s.CA, presenting s.Client when withCert.
func (s *Set) ClientConfig(withCert bool) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.CA.Pool()}
	if withCert {
		c.Certificates = []tls.Certificate{s.Client.TLSCertificate()}
	}
	return c
}

func caTemplate(t testing.TB, commonName string) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"kete tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

func newKey(t testing.TB, useRSA bool) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatalf("testcerts: generate key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testcerts: serial number: %v", err)
	}
	return n
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatalf("testcerts: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcerts: parse certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert
}
