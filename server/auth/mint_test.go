package auth

import (
	"crypto"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMintRoundTrip: every algorithm, minted from a key file and verified against the
// public half (or the same secret).
func TestMintRoundTrip(t *testing.T) {
	k := testKeys()
	tests := []struct {
		alg     string
		signer  crypto.Signer // nil for HMAC
		pemKind string
	}{
		{"HS256", nil, ""}, {"HS384", nil, ""}, {"HS512", nil, ""},
		{"RS256", k.rsa, "PRIVATE KEY"}, {"RS384", k.rsa, "RSA PRIVATE KEY"}, {"RS512", k.rsa, "PRIVATE KEY"},
		{"PS256", k.rsa, "RSA PRIVATE KEY"}, {"PS384", k.rsa, "PRIVATE KEY"}, {"PS512", k.rsa, "PRIVATE KEY"},
		{"ES256", k.p256, "EC PRIVATE KEY"}, {"ES384", k.p384, "PRIVATE KEY"}, {"ES512", k.p521, "EC PRIVATE KEY"},
		{"EdDSA", k.ed, "PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			var file []byte
			var verifyKey string
			if tt.signer == nil {
				file = append(append([]byte("\n  "), k.hmac...), '\n') // white space is trimmed on both sides
				verifyKey = string(k.hmac) + "\n"
			} else {
				file = privatePEM(t, tt.signer, tt.pemKind)
				verifyKey = publicPEM(t, tt.signer)
			}
			signing, err := LoadSigningKey(file, tt.alg)
			if err != nil {
				t.Fatalf("LoadSigningKey: %v", err)
			}
			c := MintClaims{Subject: "svc", Issuer: "https://signer", Audience: []string{"kete"}, TTL: 5 * time.Second,
				Permissions: []string{"realtime:publisher:write:topic:*"}, Kid: "k1", Extra: map[string]any{"tenant": "t1"}}
			tok := mint(t, tt.alg, signing, c)
			v := newVerifier(t, Key{Source: "raw", Key: verifyKey, Algorithms: []string{tt.alg}, Audience: []string{"kete"}, Issuer: []string{"https://signer"}}, fixedOptions())
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "svc" || !got.ExpiresAt.Equal(fixedNow.Add(5*time.Second)) || !slices.Equal(got.Permissions, c.Permissions) || len(got.ID) != 32 {
				t.Fatalf("claims %+v", got)
			}
		})
	}
}

func TestLoadSigningKeyErrors(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name string
		data []byte
		alg  string
		want string
	}{
		{"public key", []byte(publicPEM(t, k.rsa)), "RS256", "holds a public key"},
		{"RSA key for ES256", privatePEM(t, k.rsa, "PRIVATE KEY"), "ES256", `"ES256" does not fit this RSA key`},
		{"P-256 key for ES512", privatePEM(t, k.p256, "EC PRIVATE KEY"), "ES512", `"ES512" does not fit this EC key`},
		{"PEM as HMAC secret", privatePEM(t, k.rsa, "PRIVATE KEY"), "HS256", "must not be a PEM key"},
		{"short secret", []byte("secret"), "HS256", "HS256 needs at least 32"},
		{"not PEM", []byte("hello"), "RS256", "not PEM"},
		{"none", []byte("x"), "none", `"none" is not supported`},
		{"encrypted", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), "RS256", "encrypted PEM keys are not supported"},
		{"broken DER", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "RS256", `PEM "PRIVATE KEY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSigningKey(tt.data, tt.alg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMintErrors(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name string
		alg  string
		key  any
		c    MintClaims
		want string
	}{
		{"alg none", "none", k.hmac, MintClaims{}, `"none" is not supported`},
		{"secret for RS256", "RS256", k.hmac, MintClaims{}, "needs a private key"},
		{"RSA key for HS256", "HS256", k.rsa, MintClaims{}, "needs an HMAC secret"},
		{"public key", "RS256", &k.rsa.PublicKey, MintClaims{}, "cannot sign"},
		{"Ed25519 for ES256", "ES256", k.ed, MintClaims{}, `"ES256" does not fit`},
		{"reserved extra claim", "HS256", k.hmac, MintClaims{Extra: map[string]any{"exp": 1}}, `extra claim "exp" is set from MintClaims`},
		{"short secret", "HS512", k.hmac[:32], MintClaims{}, "HS512 needs at least 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Mint(tt.alg, tt.key, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	k := testKeys()
	v := newVerifier(b, Key{Key: publicPEM(b, k.rsa), Algorithms: []string{"RS256"}}, fixedOptions())
	tok := mint(b, "RS256", k.rsa, MintClaims{Subject: "u", TTL: time.Hour, Permissions: []string{"realtime:publisher:write:topic:*"}})
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	k := testKeys()
	v := newVerifier(b, Key{Key: string(k.hmac), Algorithms: []string{"HS256"}}, fixedOptions())
	tok := mint(b, "HS256", k.hmac, MintClaims{Subject: "u", TTL: time.Hour, Permissions: []string{"realtime:publisher:write:topic:*"}})
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
