package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary text to verifiers of every key kind: Verify must never panic,
// must return either claims or an *Error with a 401, and must never accept a token that
// the fuzzer did not get from a real signer.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	// Fixed claims: fuzz workers are separate processes, and the HS256 token (fixed key)
	// must come out the same in each. Keys of the other kinds differ per process, so their
	// tokens from another process are just more garbage.
	claims := MintClaims{Subject: "u", TTL: time.Hour, IssuedAt: fixedNow, ID: "fuzz", Permissions: []string{"*"}}
	hs, err := Mint("HS256", k.hmac, claims)
	if err != nil {
		f.Fatal(err)
	}
	rs, err := Mint("RS256", k.rsa, claims)
	if err != nil {
		f.Fatal(err)
	}
	es, err := Mint("ES256", k.p256, claims)
	if err != nil {
		f.Fatal(err)
	}
	ed, err := Mint("EdDSA", k.ed, claims)
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{hs: true, rs: true, es: true, ed: true}
	for tok := range valid {
		f.Add(tok)
		f.Add(tok[:len(tok)-2])
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJ.eyJ.eyJ", "\x00.\xff.\n", "Bearer x"} {
		f.Add(s)
	}
	var verifiers []*Verifier
	for _, key := range []Key{
		{Key: string(k.hmac), Algorithms: []string{"HS256"}},
		{Key: publicPEM(f, k.rsa)},
		{Key: publicPEM(f, k.p256)},
		{Key: publicPEM(f, k.ed)},
	} {
		verifiers = append(verifiers, newVerifier(f, key, fixedOptions()))
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range verifiers {
			c, err := v.Verify(token)
			if err == nil {
				if !valid[strings.TrimSpace(token)] {
					t.Fatalf("accepted a token no signer made: %q", token)
				}
				if c.Subject != "u" {
					t.Fatalf("claims %+v", c)
				}
				continue
			}
			ae, ok := err.(*Error)
			if !ok || ae.Status != http.StatusUnauthorized || ae.Code == "" || ae.Reason == "" {
				t.Fatalf("error %#v", err)
			}
		}
	})
}
