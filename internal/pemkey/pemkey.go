// Package pemkey parses the unencrypted private-key PEM blocks that Go's x509 reads:
// PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") and SEC1 ("EC PRIVATE KEY"). The
// TLS stores (tlsconfig) and the token signer (server/auth) take the same three forms,
// and each says in its own words what else a block may be.
package pemkey

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
)

// Parse returns the private key in b. ok is false when b is none of the three forms
// (a certificate, an encrypted key, …): the caller says what that block means to it.
func Parse(b *pem.Block) (key crypto.PrivateKey, ok bool, err error) {
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, false, nil
	}
	return key, true, err
}
