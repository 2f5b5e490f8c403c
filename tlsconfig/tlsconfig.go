package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Options describe the TLS side of one client (a WebSocket destination, a token endpoint).
type Options struct {
	// VerifyHostname checks that the server's certificate names the host dialled (or
	// ServerName). Configuration defaults it to true, unlike KETE's false. When false, the
	// server's chain is still verified against the trust store; only the name is not.
	// Note that the zero Options therefore skip the name check: set it explicitly.
	VerifyHostname bool
	// ServerName, when set, is the name sent in SNI and checked against the certificate.
	// Blank lets the dialler fill in the URL's host.
	ServerName string
	// TrustStore holds the certificates that may sign the server's chain; nil means the
	// system roots. When set it replaces the system roots (KETE adds the JVM's CAs too).
	TrustStore *Store
	// KeyStore holds the client certificate for mTLS; nil sends none.
	KeyStore *Store
}

// Client builds the *tls.Config for a client from o: TLS 1.2 at least, the trust store as
// RootCAs, the key store's pairs as Certificates.
//
// The result is shared configuration: hand each dial its own Clone. In particular gws
// writes the URL's host into the config it is given when ServerName is blank, so a config
// reused across destinations would check the wrong name.
func Client(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.TrustStore != nil {
		pool, err := certPool(*o.TrustStore)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if o.KeyStore != nil {
		pairs, err := o.KeyStore.KeyPairs()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = pairs
	}
	if !o.VerifyHostname {
		// crypto/tls verifies chain and name together, so switch its check off and do
		// the chain alone: the same roots, the intermediates the server sent, no DNSName.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, roots)
		}
	}
	return cfg, nil
}

// verifyChain checks that certs[0] chains to roots (nil: the system roots) through
// certs[1:], for server authentication, without looking at its names.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("tls: server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("tls: server certificate (hostname not checked): %w", err)
	}
	return nil
}

// certPool reads a trust store into a pool.
func certPool(s Store) (*x509.CertPool, error) {
	certs, err := s.TrustedCertificates()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ClientAuth says whether the bundled server asks clients for a certificate.
type ClientAuth string

// Client certificate modes, spelled as in configuration.
const (
	// ClientAuthNone asks for no client certificate.
	ClientAuthNone ClientAuth = "none"
	// ClientAuthRequest asks for one and verifies it if given, but lets clients without
	// one in (tls.VerifyClientCertIfGiven).
	ClientAuthRequest ClientAuth = "request"
	// ClientAuthRequire turns away clients without a certificate the trust store
	// verifies: mTLS (tls.RequireAndVerifyClientCert).
	ClientAuthRequire ClientAuth = "require-and-verify"
)

// ParseClientAuth reads a client-auth setting; blank is "" (decided by ServerOptions).
func ParseClientAuth(s string) (ClientAuth, error) {
	switch a := ClientAuth(strings.ToLower(strings.TrimSpace(s))); a {
	case "", ClientAuthNone, ClientAuthRequest, ClientAuthRequire:
		return a, nil
	}
	return "", fmt.Errorf("client-auth=%q is not a mode; valid modes: %s, %s, %s", s, ClientAuthNone, ClientAuthRequest, ClientAuthRequire)
}

// ServerOptions describe the TLS side of the bundled pub/sub server.
type ServerOptions struct {
	// KeyStore holds the server's certificate chain and key; required.
	KeyStore *Store
	// TrustStore holds the CAs that sign client certificates; nil when clients are not
	// asked for one.
	TrustStore *Store
	// ClientAuth says whether clients must show a certificate. Blank means
	// ClientAuthRequire when TrustStore is set, else ClientAuthNone.
	ClientAuth ClientAuth
}

// Server builds the *tls.Config for the bundled server from o: TLS 1.2 at least, the key
// store's pairs as Certificates and, for mTLS, the trust store as ClientCAs.
func Server(o ServerOptions) (*tls.Config, error) {
	if o.KeyStore == nil {
		return nil, errors.New("key-store: required for a TLS server")
	}
	mode, err := ParseClientAuth(string(o.ClientAuth))
	if err != nil {
		return nil, err
	}
	if mode == "" {
		mode = ClientAuthNone
		if o.TrustStore != nil {
			mode = ClientAuthRequire
		}
	}
	trustName := trustStoreName
	if o.TrustStore != nil {
		trustName = o.TrustStore.nameOr(trustStoreName)
	}
	switch {
	case mode == ClientAuthNone && o.TrustStore != nil:
		return nil, &StoreError{Store: trustName, Err: fmt.Errorf("set, but client-auth=%s never asks clients for a certificate; use %s or %s, or drop the trust store", mode, ClientAuthRequest, ClientAuthRequire)}
	case mode != ClientAuthNone && o.TrustStore == nil:
		return nil, fmt.Errorf("client-auth=%s needs a %s holding the CAs that sign client certificates", mode, trustName)
	}
	pairs, err := o.KeyStore.KeyPairs()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: pairs}
	if o.TrustStore != nil {
		if cfg.ClientCAs, err = certPool(*o.TrustStore); err != nil {
			return nil, err
		}
	}
	switch mode {
	case ClientAuthRequest:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
