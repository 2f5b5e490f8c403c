package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestVerifyMatrix runs every token shape against raw-key verifiers.
func TestVerifyMatrix(t *testing.T) {
	k := testKeys()
	rsaV := newVerifier(t, Key{Source: "raw", Key: publicPEM(t, k.rsa), Algorithms: []string{"RS256", "PS256"}}, fixedOptions())
	esV := newVerifier(t, Key{Source: "raw", Key: publicPEM(t, k.p256), Algorithms: []string{"ES256"}}, fixedOptions())
	edV := newVerifier(t, Key{Source: "raw", Key: publicPEM(t, k.ed), Algorithms: []string{"EdDSA"}}, fixedOptions())
	hsV := newVerifier(t, Key{Source: "raw", Key: string(k.hmac), Algorithms: []string{"HS256"}}, fixedOptions())
	audV := newVerifier(t, Key{Source: "raw", Key: publicPEM(t, k.rsa), Algorithms: []string{"RS256"},
		Audience: []string{"https://a.example", "https://b.example"}, Issuer: []string{"https://idp-1", "https://idp-2"}}, fixedOptions())

	ok := MintClaims{Subject: "user0@example.com", Issuer: "https://idp-1", Audience: []string{"https://b.example"}, TTL: time.Hour,
		Permissions: []string{"realtime:publisher:write:topic:main"}}
	with := func(f func(*MintClaims)) MintClaims { c := ok; f(&c); return c }
	rsaPEM := []byte(publicPEM(t, k.rsa))

	header := b64(`{"alg":"none","typ":"JWT"}`)
	payload := b64(`{"sub":"evil","exp":` + jsonNum(fixedNow.Add(time.Hour).Unix()) + `,"permissions":["*"]}`)
	algNone := header + "." + payload + "."

	valid := mint(t, "RS256", k.rsa, ok)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(`{"sub":"admin","exp":`+jsonNum(fixedNow.Add(time.Hour).Unix())+`}`) + "." + parts[2]

	tests := []struct {
		name  string
		v     *Verifier
		token string
		code  string // "" = accepted
	}{
		{"RS256 valid", rsaV, valid, ""},
		{"PS256 valid", rsaV, mint(t, "PS256", k.rsa, ok), ""},
		{"ES256 valid", esV, mint(t, "ES256", k.p256, ok), ""},
		{"EdDSA valid", edV, mint(t, "EdDSA", k.ed, ok), ""},
		{"HS256 valid", hsV, mint(t, "HS256", k.hmac, ok), ""},
		{"alg none on RSA key", rsaV, algNone, CodeTokenInvalid},
		{"alg none on HMAC key", hsV, algNone, CodeTokenInvalid},
		{"HS256 signed with the RSA public key PEM", rsaV, hs256WithSecret(t, rsaPEM, ok), CodeTokenInvalid},
		{"algorithm not in the key's list", rsaV, mint(t, "RS384", k.rsa, ok), CodeTokenInvalid},
		{"HS512 on an HS256-only key", hsV, mint(t, "HS512", k.hmac, ok), CodeTokenInvalid},
		{"signed by another app's RSA key", rsaV, mint(t, "RS256", k.rsa2, ok), CodeTokenInvalid},
		{"signed by another app's Ed25519 key", edV, mint(t, "EdDSA", k.ed2, ok), CodeTokenInvalid},
		{"signed by another app's secret", hsV, mint(t, "HS256", k.hmac2, ok), CodeTokenInvalid},
		{"ES256 token on an RSA key", rsaV, mint(t, "ES256", k.p256, ok), CodeTokenInvalid},
		{"tampered payload", rsaV, tampered, CodeTokenInvalid},
		{"expired", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.IssuedAt = fixedNow.Add(-2 * time.Hour) })), CodeTokenExpired},
		{"expired 10s ago: within leeway", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) {
			c.IssuedAt, c.TTL = fixedNow.Add(-time.Hour-10*time.Second), time.Hour
		})), ""},
		{"expired 31s ago: past leeway", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) {
			c.IssuedAt, c.TTL = fixedNow.Add(-time.Hour-31*time.Second), time.Hour
		})), CodeTokenExpired},
		{"nbf in 5 minutes", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.NotBefore = fixedNow.Add(5 * time.Minute) })), CodeTokenNotYetValid},
		{"nbf in 10s: within leeway", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.NotBefore = fixedNow.Add(10 * time.Second) })), ""},
		{"iat in 5 minutes", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.IssuedAt = fixedNow.Add(5 * time.Minute) })), CodeTokenNotYetValid},
		{"no exp", rsaV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.TTL = 0 })), CodeTokenInvalid},
		{"audience and issuer accepted", audV, valid, ""},
		{"wrong audience", audV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.Audience = []string{"https://c.example"} })), CodeTokenInvalid},
		{"one of several audiences", audV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.Audience = []string{"x", "https://a.example"} })), ""},
		{"no audience", audV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.Audience = nil })), CodeTokenInvalid},
		{"second issuer", audV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.Issuer = "https://idp-2" })), ""},
		{"wrong issuer", audV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.Issuer = "https://evil" })), CodeTokenInvalid},
		{"no issuer", audV, mint(t, "RS256", k.rsa, with(func(c *MintClaims) { c.Issuer = "" })), CodeTokenInvalid},
		{"empty", rsaV, "", CodeTokenMissing},
		{"blank", rsaV, "   ", CodeTokenMissing},
		{"garbage", rsaV, "not-a-token", CodeTokenMalformed},
		{"two dots of garbage", rsaV, "a.b.c", CodeTokenMalformed},
		{"four parts", rsaV, valid + ".x", CodeTokenMalformed},
		{"header not JSON", rsaV, b64("{") + "." + parts[1] + "." + parts[2], CodeTokenMalformed},
		{"huge", rsaV, strings.Repeat("a", maxTokenBytes+1), CodeTokenMalformed},
		{"unknown alg", rsaV, b64(`{"alg":"XX999"}`) + "." + parts[1] + "." + parts[2], CodeTokenInvalid},
	}
	// Why the security-relevant cases fail matters as much as that they fail.
	reasons := map[string]string{
		"alg none on RSA key":                      "algorithm is not accepted",
		"alg none on HMAC key":                     "algorithm is not accepted",
		"HS256 signed with the RSA public key PEM": "algorithm is not accepted",
		"algorithm not in the key's list":          "algorithm is not accepted",
		"HS512 on an HS256-only key":               "algorithm is not accepted",
		"ES256 token on an RSA key":                "algorithm is not accepted",
		"signed by another app's RSA key":          "signature is invalid",
		"signed by another app's Ed25519 key":      "signature is invalid",
		"signed by another app's secret":           "signature is invalid",
		"tampered payload":                         "signature is invalid",
		"nbf in 5 minutes":                         "nbf",
		"iat in 5 minutes":                         "iat",
		"no exp":                                   "exp",
		"wrong audience":                           "audience",
		"no audience":                              "aud",
		"wrong issuer":                             "issuer",
		"no issuer":                                "iss",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.Verify(tt.token)
			if tt.code != "" {
				ae := wantAuthError(t, err, tt.code)
				if want := reasons[tt.name]; !strings.Contains(ae.Reason, want) {
					t.Fatalf("reason %q, want it to contain %q", ae.Reason, want)
				}
				if ae.Status != http.StatusUnauthorized || ae.Reason == "" {
					t.Fatalf("error %+v: want status 401 and a reason", ae)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != ok.Subject {
				t.Fatalf("subject %q, want %q", c.Subject, ok.Subject)
			}
		})
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// hs256WithSecret signs with jwt directly, bypassing Mint's refusal of PEM secrets: this is
// the attacker's token.
func hs256WithSecret(t *testing.T, secret []byte, c MintClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": c.Subject, "iss": c.Issuer, "iat": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix(),
		"permissions": []string{"*"},
	})
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyClaims(t *testing.T) {
	k := testKeys()
	v := newVerifier(t, Key{Key: string(k.hmac), Algorithms: []string{"HS256"}}, fixedOptions())
	tok := mint(t, "HS256", k.hmac, MintClaims{Subject: "svc", Issuer: "https://signer", Audience: []string{"a", "b"},
		TTL: time.Minute, ID: "id-1", Permissions: []string{"realtime:admin:manage:connections"}})
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Subject: "svc", Issuer: "https://signer", ID: "id-1", Audience: []string{"a", "b"},
		Permissions: []string{"realtime:admin:manage:connections"},
		ExpiresAt:   fixedNow.Add(time.Minute), IssuedAt: fixedNow}
	if c.Subject != want.Subject || c.Issuer != want.Issuer || c.ID != want.ID || !slices.Equal(c.Audience, want.Audience) ||
		!slices.Equal(c.Permissions, want.Permissions) || !c.ExpiresAt.Equal(want.ExpiresAt) || !c.IssuedAt.Equal(want.IssuedAt) {
		t.Fatalf("claims %+v, want %+v", *c, want)
	}
}

func TestVerifyOptions(t *testing.T) {
	k := testKeys()
	key := Key{Key: string(k.hmac), Algorithms: []string{"HS256"}}
	noExp := mint(t, "HS256", k.hmac, MintClaims{Subject: "s"})
	expired10s := mint(t, "HS256", k.hmac, MintClaims{Subject: "s", IssuedAt: fixedNow.Add(-70 * time.Second), TTL: time.Minute})

	o := fixedOptions()
	o.AllowNoExpiry = true
	c, err := newVerifier(t, key, o).Verify(noExp)
	if err != nil || !c.ExpiresAt.IsZero() {
		t.Fatalf("AllowNoExpiry: claims %+v, err %v", c, err)
	}

	o = fixedOptions()
	o.Leeway = -1
	_, err = newVerifier(t, key, o).Verify(expired10s)
	wantAuthError(t, err, CodeTokenExpired)

	o = fixedOptions()
	o.Leeway = time.Minute
	if _, err := newVerifier(t, key, o).Verify(expired10s); err != nil {
		t.Fatalf("1m leeway: %v", err)
	}
}

func TestNewVerifierConfigErrors(t *testing.T) {
	k := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := publicPEM(t, k.rsa)
	tests := []struct {
		name string
		key  Key
		want string // in the error
	}{
		{"HS256 with an RSA PEM", Key{Source: "raw", Key: rsaPEM, Algorithms: []string{"RS256", "HS256"}}, `"HS256" cannot be used with a PEM key`},
		{"HS256 with an EC PEM", Key{Source: "raw", Key: publicPEM(t, k.p256), Algorithms: []string{"HS256"}}, `"HS256" cannot be used with a PEM key`},
		{"alg none", Key{Source: "raw", Key: rsaPEM, Algorithms: []string{"none"}}, `algorithm "none" is not supported`},
		{"unknown alg", Key{Source: "raw", Key: rsaPEM, Algorithms: []string{"RS257"}}, `algorithm "RS257" is not supported`},
		{"ES256 with an RSA key", Key{Source: "raw", Key: rsaPEM, Algorithms: []string{"ES256"}}, `"ES256" does not fit this RSA key`},
		{"ES256 with a P-384 key", Key{Source: "raw", Key: publicPEM(t, k.p384), Algorithms: []string{"ES256"}}, `"ES256" does not fit this EC key (it fits ES384)`},
		{"EdDSA with an RSA key", Key{Source: "raw", Key: rsaPEM, Algorithms: []string{"EdDSA"}}, `"EdDSA" does not fit`},
		{"RS256 with a secret", Key{Source: "raw", Key: string(k.hmac), Algorithms: []string{"RS256"}}, `"RS256" needs a PEM public key`},
		{"short HMAC secret", Key{Source: "raw", Key: "secret", Algorithms: []string{"HS256"}}, "HMAC secret is 6 bytes; HS256 needs at least 32"},
		{"HS512 with a 32-byte secret", Key{Source: "raw", Key: string(k.hmac[:32]), Algorithms: []string{"HS512"}}, "HS512 needs at least 64"},
		{"short HMAC secret, no algorithms", Key{Key: "secret"}, "HS256 needs at least 32"},
		{"empty raw key", Key{Source: "raw"}, "key is empty"},
		{"private key PEM", Key{Source: "raw", Key: string(privatePEM(t, k.rsa, "PRIVATE KEY"))}, "is a private key"},
		{"broken PEM", Key{Source: "raw", Key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}, `PEM "PUBLIC KEY"`},
		{"not a PEM block", Key{Source: "raw", Key: "-----BEGIN PUBLIC KEY----- oops"}, "not a valid PEM block"},
		{"1024-bit RSA", Key{Source: "raw", Key: publicPEM(t, small)}, "RSA key has 1024 bits"},
		{"jwks without uri", Key{Source: "jwks"}, `jwksUri "" is not an http(s) URL`},
		{"jwks with a file uri", Key{Source: "jwks", JWKSURI: "file:///etc/keys"}, "is not an http(s) URL"},
		{"jwks with HS256", Key{Source: "jwks", JWKSURI: "https://idp.example/certs", Algorithms: []string{"HS256"}}, `"HS256" cannot be used with a JWKS`},
		{"jwks with a key", Key{Source: "jwks", JWKSURI: "https://idp.example/certs", Key: rsaPEM}, "takes jwksUri, not key"},
		{"raw with a jwksUri", Key{Source: "raw", Key: rsaPEM, JWKSURI: "https://idp.example/certs"}, "takes key, not jwksUri"},
		{"unknown source", Key{Source: "vault", Key: rsaPEM}, `source "vault" is not supported`},
		{"no source, nothing set", Key{}, `source "" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.key, Options{})
			if err == nil {
				v.Close()
				t.Fatal("NewVerifier accepted the key")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestVerifierDefaultAlgorithms(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name string
		key  Key
		want []string
	}{
		{"RSA", Key{Key: publicPEM(t, k.rsa)}, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}},
		{"P-256", Key{Key: publicPEM(t, k.p256)}, []string{"ES256"}},
		{"P-521", Key{Key: publicPEM(t, k.p521)}, []string{"ES512"}},
		{"Ed25519", Key{Key: publicPEM(t, k.ed)}, []string{"EdDSA"}},
		{"64-byte secret", Key{Key: string(k.hmac)}, []string{"HS256", "HS384", "HS512"}},
		{"48-byte secret", Key{Key: string(k.hmac[:48])}, []string{"HS256", "HS384"}},
		{"one-line PEM with literal \\n", Key{Key: strings.ReplaceAll(publicPEM(t, k.p256), "\n", `\n`)}, []string{"ES256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newVerifier(t, tt.key, Options{}).Algorithms(); !slices.Equal(got, tt.want) {
				t.Fatalf("algorithms %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPermissionClaims(t *testing.T) {
	k := testKeys()
	v := newVerifier(t, Key{Key: string(k.hmac), Algorithms: []string{"HS256"}}, fixedOptions())
	tests := []struct {
		name  string
		extra map[string]any
		perms []string
		want  []string
		bad   bool
	}{
		{"permissions list", nil, []string{"realtime:publisher:write:topic:main", "realtime:admin:manage:connections"},
			[]string{"realtime:publisher:write:topic:main", "realtime:admin:manage:connections"}, false},
		{"scp list", map[string]any{"scp": []string{"a", "b"}}, nil, []string{"a", "b"}, false},
		{"scp string", map[string]any{"scp": "a b"}, nil, []string{"a", "b"}, false},
		{"scope string", map[string]any{"scope": "openid realtime:publisher:write:topic:*"}, nil, []string{"openid", "realtime:publisher:write:topic:*"}, false},
		{"permissions win over scp and scope", map[string]any{"scp": []string{"x"}, "scope": "y"}, []string{"p"}, []string{"p"}, false},
		{"scp wins over scope", map[string]any{"scp": []string{"x"}, "scope": "y"}, nil, []string{"x"}, false},
		{"empty scp still wins over scope", map[string]any{"scp": []string{}, "scope": "y"}, nil, []string{}, false},
		{"null scp falls through to scope", map[string]any{"scp": nil, "scope": "y"}, nil, []string{"y"}, false},
		{"blank entries dropped", map[string]any{"scp": []string{" a ", "", "b"}}, nil, []string{"a", "b"}, false},
		{"no claim", nil, nil, nil, false},
		{"permissions as a number", map[string]any{"scp": 42}, nil, nil, true},
		{"permissions list with a number", map[string]any{"scope": []any{"a", 1}}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mint(t, "HS256", k.hmac, MintClaims{Subject: "s", TTL: time.Hour, Permissions: tt.perms, Extra: tt.extra})
			c, err := v.Verify(tok)
			if tt.bad {
				wantAuthError(t, err, CodeTokenInvalid)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Permissions, tt.want) {
				t.Fatalf("permissions %q, want %q", c.Permissions, tt.want)
			}
		})
	}
}

// TestKeyDecode reads keys the way the Realtime docs write them, in JSON and YAML.
func TestKeyDecode(t *testing.T) {
	tests := []struct {
		name, format, text string
		want               Key
	}{
		{"docs raw key", "json", `{"source":"raw","key":"-----BEGIN PUBLIC KEY-----\nMIGb\n-----END PUBLIC KEY-----","algorithms":["ES512"],"issuer":[]}`,
			Key{Source: "raw", Key: "-----BEGIN PUBLIC KEY-----\nMIGb\n-----END PUBLIC KEY-----", Algorithms: []string{"ES512"}, Issuer: []string{}}},
		{"docs jwks key", "json", `{"source":"jwks","jwksUri":"https://example.com/.well-known/jwks.json","audience":"https://example.com","issuer":[]}`,
			Key{Source: "jwks", JWKSURI: "https://example.com/.well-known/jwks.json", Audience: []string{"https://example.com"}, Issuer: []string{}}},
		{"lists and strings", "json", `{"source":"raw","key":"k","algorithms":"HS256","issuer":"https://i","audience":["a","b"]}`,
			Key{Source: "raw", Key: "k", Algorithms: []string{"HS256"}, Issuer: []string{"https://i"}, Audience: []string{"a", "b"}}},
		{"empty string audience", "json", `{"source":"jwks","jwksUri":"https://x/certs","audience":""}`,
			Key{Source: "jwks", JWKSURI: "https://x/certs"}},
		{"yaml string audience", "yaml", "source: jwks\njwksUri: https://example.com/jwks\naudience: https://example.com\nissuer: []\n",
			Key{Source: "jwks", JWKSURI: "https://example.com/jwks", Audience: []string{"https://example.com"}, Issuer: []string{}}},
		{"yaml lists", "yaml", "source: raw\nkey: |\n  -----BEGIN PUBLIC KEY-----\n  MIGb\n  -----END PUBLIC KEY-----\nalgorithms: [ES256, ES512]\naudience: [a, b]\nissuer: ~\n",
			Key{Source: "raw", Key: "-----BEGIN PUBLIC KEY-----\nMIGb\n-----END PUBLIC KEY-----\n", Algorithms: []string{"ES256", "ES512"}, Audience: []string{"a", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Key
			var err error
			if tt.format == "json" {
				err = json.Unmarshal([]byte(tt.text), &got)
			} else {
				err = yaml.Unmarshal([]byte(tt.text), &got)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != tt.want.Source || got.Key != tt.want.Key || got.JWKSURI != tt.want.JWKSURI ||
				!slices.Equal(got.Algorithms, tt.want.Algorithms) || !slices.Equal(got.Issuer, tt.want.Issuer) || !slices.Equal(got.Audience, tt.want.Audience) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for bad, want := range map[string]string{
		`{"audience":42}`:                     "want a string or a list of strings",
		`{"issuer":{"a":1}}`:                  "want a string or a list of strings",
		`{"source":"jwks","audiance":"x"}`:    `unknown field "audiance"`,
		`{"source":"raw","key":"k","alg":[]}`: `unknown field "alg"`,
	} {
		var k Key
		if err := json.Unmarshal([]byte(bad), &k); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("json %s: error %v, want %q", bad, err, want)
		}
	}
	for bad, want := range map[string]string{
		"audience: {a: 1}\n":          "want a string or a list of strings",
		"source: jwks\naudiance: x\n": `line 2: unknown field "audiance"`,
	} {
		var k Key
		if err := yaml.Unmarshal([]byte(bad), &k); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("yaml %q: error %v, want %q", bad, err, want)
		}
	}
}
