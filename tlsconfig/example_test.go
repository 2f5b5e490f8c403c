package tlsconfig_test

import (
	"crypto/tls"
	"fmt"

	"github.com/kete-dev/kete/tlsconfig"
)

// exampleCA is a CA certificate, as it would be pasted into `loader.text`.
const exampleCA = `-----BEGIN CERTIFICATE-----
MIIBXTCCAQOgAwIBAgIBATAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFtcGxl
IENBMCAXDTI2MDEwMTAwMDAwMFoYDzIxMjYwMTAxMDAwMDAwWjAVMRMwEQYDVQQD
EwpFeGFtcGxlIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMvXzgYlcprZ5
WroHfMGdnW71YkFcXz/305OHCGrMbkvb8PVX9FDGLuffnY86Gm+7CnON9XA6XqU/
GJio7BaqWqNCMEAwDgYDVR0PAQH/BAQDAgIEMA8GA1UdEwEB/wQFMAMBAf8wHQYD
VR0OBBYEFDytzQWwnMNNXXml6wB7coBY5KdeMAoGCCqGSM49BAMCA0gAMEUCICkk
6lkyZiPYy0LguW97jN5rSuEPmpyqwyQpx964gVBxAiEAgHVCxoBYF0qsJG03sYZu
p+8RUgaA5qgZj71UjHoapGs=
-----END CERTIFICATE-----
`

// A client that trusts one private CA and checks the server's name. Hand each dial
// cfg.Clone(): diallers such as gws fill in ServerName on the config they get.
func ExampleClient() {
	trust := &tlsconfig.Store{
		Name:   "kete.routes.ws.destination.tls.trust-store",
		Loader: tlsconfig.Loader{Kind: tlsconfig.KindPEMText, Text: exampleCA},
	}
	cfg, err := tlsconfig.Client(tlsconfig.Options{VerifyHostname: true, TrustStore: trust})
	if err != nil {
		fmt.Println(err)
		return
	}
	certs, _ := trust.TrustedCertificates()
	fmt.Println("trusts:", certs[0].Subject.CommonName)
	fmt.Println("TLS 1.2 minimum:", cfg.MinVersion == tls.VersionTLS12)
	// Output:
	// trusts: Example CA
	// TLS 1.2 minimum: true
}

// Settings that cannot work are errors that name the store and the missing key.
func ExampleClient_missingPath() {
	_, err := tlsconfig.Client(tlsconfig.Options{
		VerifyHostname: true,
		KeyStore: &tlsconfig.Store{
			Name:     "kete.routes.ws.destination.tls.key-store",
			Loader:   tlsconfig.Loader{Kind: "pkcs12-file-path"},
			Password: "s3cret",
		},
	})
	fmt.Println(err)
	// Output:
	// kete.routes.ws.destination.tls.key-store: loader.kind=pkcs12-file-path needs loader.path
}

// The bundled server with mTLS: its own certificate from a PKCS#12 key store, client
// certificates checked against a CA bundle.
func ExampleServer() {
	_, err := tlsconfig.Server(tlsconfig.ServerOptions{
		KeyStore: &tlsconfig.Store{
			Name:     "kete.server.tls.key-store",
			Loader:   tlsconfig.Loader{Kind: tlsconfig.KindPKCS12Path, Path: "/etc/kete/server.p12"},
			Password: "s3cret",
		},
		TrustStore: &tlsconfig.Store{
			Name:   "kete.server.tls.trust-store",
			Loader: tlsconfig.Loader{Kind: tlsconfig.KindPEMText, Text: exampleCA},
		},
		ClientAuth: tlsconfig.ClientAuthRequire,
	})
	fmt.Println(err)
	// Output:
	// kete.server.tls.key-store: loader.path=/etc/kete/server.p12: no such file or directory
}
