package keycloak_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kete-dev/kete/keycloak"
)

func TestVerifyP2Signature(t *testing.T) {
	// RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
	const (
		body   = "what do ya want for nothing?"
		secret = "Jefe"
		sig    = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	)
	tests := []struct {
		name, body, secret, header string
		want                       string // "" for success, else a part of the error
		mismatch                   bool
	}{
		{"lower-case hex as p2-inc sends it", body, secret, sig, "", false},
		{"upper-case hex", body, secret, strings.ToUpper(sig), "", false},
		{"sha256= prefix", body, secret, "sha256=" + sig, "", false},
		{"surrounding space", body, secret, " " + sig + "\t", "", false},
		{"body changed", body + " ", secret, sig, "does not match", true},
		{"wrong secret", body, "jefe", sig, "does not match", true},
		{"missing header", body, secret, "", "missing", false},
		{"not hex", body, secret, "zz" + sig[2:], "hex digits", false},
		{"truncated", body, secret, sig[:40], "hex digits", false},
		{"no secret configured", body, "", sig, "no webhook secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keycloak.VerifyP2Signature([]byte(tt.body), tt.secret, tt.header)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("VerifyP2Signature: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if errors.Is(err, keycloak.ErrSignatureMismatch) != tt.mismatch {
				t.Errorf("errors.Is(err, ErrSignatureMismatch) = %v, want %v", !tt.mismatch, tt.mismatch)
			}
		})
	}
	if got := keycloak.SignP2([]byte(body), secret); got != sig {
		t.Errorf("SignP2 = %s, want %s", got, sig)
	}
}
