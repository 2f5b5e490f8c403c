package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server/auth"
)

// TestConnectAuthMatrix: every bad token is refused before the upgrade with 401 and a
// JSON reason, on an app with an RS256 key, an issuer and an audience.
func TestConnectAuthMatrix(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := auth.PublicKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	app := App{AppID: "rsa", Enabled: true, AuthKey: auth.Key{
		Source: "raw", Key: pubPEM, Algorithms: []string{"RS256"},
		Issuer: []string{"https://issuer.example"}, Audience: []string{"kete"},
	}}
	_, hs := startServer(t, Options{Apps: []App{app, testApp("other", secretB)}})

	claims := func(mod func(*auth.MintClaims)) auth.MintClaims {
		c := auth.MintClaims{Subject: "alice", Issuer: "https://issuer.example", Audience: []string{"kete"}, TTL: time.Hour}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	rs := func(mod func(*auth.MintClaims)) string {
		tok, err := auth.Mint("RS256", priv, claims(mod))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := rs(nil)
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	// The classic confusion attack: HS256 with the RSA public key as the HMAC secret.
	hsHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	mac := hmac.New(sha256.New, []byte(pubPEM))
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hsWithPub := hsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	wrongKey, _ := auth.Mint("RS256", otherKey, claims(nil))

	tests := []struct{ name, token string }{
		{"alg none", none},
		{"HS256 signed with the RSA public key", hsWithPub},
		{"expired", rs(func(c *auth.MintClaims) { c.IssuedAt = time.Now().Add(-3 * time.Hour) })},
		{"not yet valid", rs(func(c *auth.MintClaims) { c.NotBefore = time.Now().Add(time.Hour) })},
		{"wrong audience", rs(func(c *auth.MintClaims) { c.Audience = []string{"someone-else"} })},
		{"wrong issuer", rs(func(c *auth.MintClaims) { c.Issuer = "https://evil.example" })},
		{"signed by another key", wrongKey},
		{"another app's key", mint(t, secretB, "alice", time.Hour)},
		{"garbage", "garbage"},
		{"signature cut off", parts[0] + "." + parts[1] + "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := wstest.Dial(t, wsURL(hs, "/apps/rsa?access_token="+tt.token), wstest.Options{})
			if err == nil {
				t.Fatal("upgrade succeeded")
			}
			if wstest.Status(resp) != 401 {
				t.Fatalf("status %d, want 401", wstest.Status(resp))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	t.Run("good token connects", func(t *testing.T) { connect(t, hs, "rsa", good) })
}

// TestConnectJWKS: an app whose authKey is a JWKS endpoint accepts tokens signed with a
// published key and refuses an unknown kid with 401.
func TestConnectJWKS(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := `{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"` + b64(priv.N.Bytes()) +
		`","e":"` + b64(big.NewInt(int64(priv.E)).Bytes()) + `"}]}`
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwks))
	}))
	defer js.Close()
	app := App{AppID: "j", Enabled: true, AuthKey: auth.Key{Source: "jwks", JWKSURI: js.URL, Algorithms: []string{"RS256"}}}
	_, hs := startServer(t, Options{Apps: []App{app}, HTTPClient: js.Client()})
	tok := func(kid string) string {
		s, err := auth.Mint("RS256", priv, auth.MintClaims{Subject: "alice", TTL: time.Hour, Kid: kid})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	connect(t, hs, "j", tok("k1"))
	if _, resp, err := wstest.Dial(t, wsURL(hs, "/apps/j?access_token="+tok("k2")), wstest.Options{}); err == nil || wstest.Status(resp) != 401 {
		t.Fatalf("unknown kid: %v, status %d, want 401", err, wstest.Status(resp))
	}
}
