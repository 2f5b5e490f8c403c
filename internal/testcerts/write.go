package testcerts

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"go.mozilla.org/pkcs7"
	"software.sslmate.com/src/go-pkcs12"
)

// CertsPEM encodes certs as consecutive CERTIFICATE blocks: a PEM trust store or bundle.
func CertsPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to memory: cannot fail
	}
	return b.Bytes()
}

// KeyPEM encodes key as an unencrypted PKCS#8 "PRIVATE KEY" block.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testcerts: marshal PKCS#8 key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PEM encodes l as a PEM key store: its PKCS#8 key, then the leaf and its chain.
func (l *Leaf) PEM(t testing.TB) []byte {
	t.Helper()
	return append(KeyPEM(t, l.Key), CertsPEM(l.Certificates()...)...)
}

// DER concatenates the DER encodings of certs; one certificate is a .der/.cer file.
func DER(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, c.Raw...)
	}
	return b
}

// PKCS7 encodes certs as a degenerate (certificates-only) PKCS#7 SignedData in DER, as in a
// .p7b file.
func PKCS7(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	der, err := pkcs7.DegenerateCertificate(DER(certs...))
	if err != nil {
		t.Fatalf("testcerts: PKCS#7: %v", err)
	}
	return der
}

// PKCS12 encodes l (key, leaf and chain) as a PKCS#12 key store protected by password, with
// today's algorithms (AES-256, PBKDF2, SHA-256 MAC).
func PKCS12(t testing.TB, l *Leaf, password string) []byte {
	t.Helper()
	der, err := pkcs12.Modern.Encode(l.Key, l.Cert, l.Chain, password)
	if err != nil {
		t.Fatalf("testcerts: PKCS#12 key store: %v", err)
	}
	return der
}

// PKCS12TrustStore encodes certs as a Java-style PKCS#12 trust store (each certificate
// marked trusted) protected by password.
func PKCS12TrustStore(t testing.TB, password string, certs ...*x509.Certificate) []byte {
	t.Helper()
	der, err := pkcs12.Modern.EncodeTrustStore(certs, password)
	if err != nil {
		t.Fatalf("testcerts: PKCS#12 trust store: %v", err)
	}
	return der
}

// JKS encodes l as a Java KeyStore with one private key entry, alias "key": the store is
// sealed with storePassword and the key encrypted with keyPassword.
func JKS(t testing.TB, l *Leaf, storePassword, keyPassword string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		t.Fatalf("testcerts: marshal PKCS#8 key: %v", err)
	}
	entry := keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der}
	for _, c := range l.Certificates() {
		entry.CertificateChain = append(entry.CertificateChain, keystore.Certificate{Type: "X509", Content: c.Raw})
	}
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry("key", entry, []byte(keyPassword)); err != nil {
		t.Fatalf("testcerts: JKS key entry: %v", err)
	}
	return storeJKS(t, ks, storePassword)
}

// JKSTrustStore encodes certs as a Java KeyStore of trusted certificate entries, aliases
// "cert-1", "cert-2", …, sealed with password.
func JKSTrustStore(t testing.TB, password string, certs ...*x509.Certificate) []byte {
	t.Helper()
	ks := keystore.New()
	for i, c := range certs {
		entry := keystore.TrustedCertificateEntry{
			CreationTime: time.Now(),
			Certificate:  keystore.Certificate{Type: "X509", Content: c.Raw},
		}
		if err := ks.SetTrustedCertificateEntry(fmt.Sprintf("cert-%d", i+1), entry); err != nil {
			t.Fatalf("testcerts: JKS trusted entry: %v", err)
		}
	}
	return storeJKS(t, ks, password)
}

func storeJKS(t testing.TB, ks keystore.KeyStore, password string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		t.Fatalf("testcerts: write JKS: %v", err)
	}
	return b.Bytes()
}

// WriteFile writes data to a file called name in a directory removed after the test, and
// returns its path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("testcerts: %v", err)
	}
	return path
}
