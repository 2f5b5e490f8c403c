package tlsconfig_test

import (
	"errors"
	"testing"

	"github.com/kete-dev/kete/internal/testcerts"
	"github.com/kete-dev/kete/tlsconfig"
)

// Every failure to read a store is a *StoreError naming the store, so that configuration
// blames the right key without reading the message; a wrong password still shows through.
func TestStoreErrorNamesTheStore(t *testing.T) {
	const trustKey, keyKey = "kete.server.tls.trust-store", "kete.server.tls.key-store"
	leaf := testcerts.NewCA(t, "ca").Server(t, "localhost")
	for _, tc := range []struct {
		name, store string
		err         error
		wrongPW     bool
	}{
		{"missing trust file", trustKey, func() error {
			_, err := tlsconfig.Client(tlsconfig.Options{TrustStore: &tlsconfig.Store{Name: trustKey, Loader: tlsconfig.Loader{Kind: tlsconfig.KindPEMPath, Path: t.TempDir() + "/none.pem"}}})
			return err
		}(), false},
		{"key store of the wrong password", keyKey, func() error {
			p12 := testcerts.PKCS12(t, leaf, "right")
			_, err := tlsconfig.Server(tlsconfig.ServerOptions{KeyStore: &tlsconfig.Store{Name: keyKey, Loader: tlsconfig.Loader{Kind: tlsconfig.KindPKCS12Base64, Base64: b64(p12)}, Password: "wrong"}})
			return err
		}(), true},
		{"trust store client-auth never reads", trustKey, func() error {
			_, err := tlsconfig.Server(tlsconfig.ServerOptions{
				KeyStore:   &tlsconfig.Store{Name: keyKey, Loader: tlsconfig.Loader{Kind: tlsconfig.KindPEMText, Text: string(leaf.PEM(t))}},
				TrustStore: &tlsconfig.Store{Name: trustKey, Loader: tlsconfig.Loader{Kind: tlsconfig.KindPEMText, Text: string(testcerts.CertsPEM(leaf.Cert))}},
				ClientAuth: tlsconfig.ClientAuthNone,
			})
			return err
		}(), false},
	} {
		var se *tlsconfig.StoreError
		if !errors.As(tc.err, &se) {
			t.Errorf("%s: error %v (%T) is not a *StoreError", tc.name, tc.err, tc.err)
			continue
		}
		if se.Store != tc.store {
			t.Errorf("%s: Store %q, want %q", tc.name, se.Store, tc.store)
		}
		if got := errors.Is(tc.err, tlsconfig.ErrWrongPassword); got != tc.wrongPW {
			t.Errorf("%s: errors.Is(ErrWrongPassword) = %v, want %v", tc.name, got, tc.wrongPW)
		}
	}
}
