package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
)

// testKeySet is one private key of each kind the package supports, made once per test
// binary because RSA generation is slow under -race.
type testKeySet struct {
	rsa, rsa2   *rsa.PrivateKey
	p256, p384  *ecdsa.PrivateKey
	p521        *ecdsa.PrivateKey
	ed, ed2     ed25519.PrivateKey
	hmac, hmac2 []byte // 64 bytes each: long enough for HS512
}

var testKeys = sync.OnceValue(func() *testKeySet {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeySet{}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	_, k.ed2, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.hmac = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	k.hmac2 = []byte("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210")
	return k
})

// fixedNow is the clock every verifier in the tests runs on.
var fixedNow = time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)

func fixedOptions() Options { return Options{Now: func() time.Time { return fixedNow }} }

func publicPEM(t testing.TB, s crypto.Signer) string {
	t.Helper()
	p, err := PublicKeyPEM(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func privatePEM(t testing.TB, key any, kind string) []byte {
	t.Helper()
	var der []byte
	var err error
	switch kind {
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(key)
	case "RSA PRIVATE KEY":
		der = x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func newVerifier(t testing.TB, k Key, o Options) *Verifier {
	t.Helper()
	v, err := NewVerifier(k, o)
	if err != nil {
		t.Fatalf("NewVerifier(%+v): %v", k, err)
	}
	t.Cleanup(v.Close)
	v.Start(t.Context())
	if v.jwks != nil {
		// The first fetch runs in the background; tests that count fetches start after it.
		select {
		case <-v.jwks.attempted:
		case <-time.After(30 * time.Second):
			t.Fatal("the first JWKS fetch did not end")
		}
	}
	return v
}

func mint(t testing.TB, alg string, key any, c MintClaims) string {
	t.Helper()
	if c.IssuedAt.IsZero() {
		c.IssuedAt = fixedNow
	}
	s, err := Mint(alg, key, c)
	if err != nil {
		t.Fatalf("Mint(%s): %v", alg, err)
	}
	return s
}

// wantAuthError checks that err is an *Error with the code.
func wantAuthError(t testing.TB, err error, code string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	ae, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v is %T, want *Error", err, err)
	}
	if ae.Code != code {
		t.Fatalf("code %q (%s), want %q", ae.Code, ae.Reason, code)
	}
	return ae
}

// jwksServer serves a JWK Set the test can change, on 127.0.0.1, and counts fetches.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	body   []byte
	status int
}

type testJWK struct {
	kid string
	alg string // "" leaves alg out of the JWK
	key any    // public key
	use jwkset.USE
}

func newJWKSServer(t testing.TB, keys ...testJWK) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t testing.TB, keys ...testJWK) {
	t.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		use := k.use
		if use == "" {
			use = jwkset.UseSig
		}
		jwk, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.ALG(k.alg), USE: use}})
		if err != nil {
			t.Fatalf("JWK %s: %v", k.kid, err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}
