package pemkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestParseTheThreeForms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	for _, b := range []*pem.Block{
		{Type: "PRIVATE KEY", Bytes: pkcs8},
		{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)},
		{Type: "EC PRIVATE KEY", Bytes: sec1},
	} {
		key, ok, err := Parse(b)
		if !ok || err != nil || key == nil {
			t.Errorf("%s: key %T, ok %v, err %v; want a key", b.Type, key, ok, err)
		}
	}
	if _, ok, err := Parse(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")}); !ok || err == nil {
		t.Errorf("damaged key: ok %v, err %v; want ok and an error", ok, err)
	}
	for _, typ := range []string{"CERTIFICATE", "ENCRYPTED PRIVATE KEY", "PUBLIC KEY"} {
		if key, ok, err := Parse(&pem.Block{Type: typ}); ok || err != nil || key != nil {
			t.Errorf("%s: key %T, ok %v, err %v; want not a key", typ, key, ok, err)
		}
	}
}
