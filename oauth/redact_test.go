package oauth

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A token-url may carry a secret in its query; the errors Token returns name the
// endpoint with that secret masked, for a refusal and for an endpoint that cannot be
// reached (where net/http quotes the whole URL).
func TestTokenErrorsMaskTheTokenURLQuery(t *testing.T) {
	const secret = "query-S3CRET"
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
	}))
	t.Cleanup(refusing.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, base := range []string{refusing.URL, "http://" + closed} {
		s, err := NewExternal(External{TokenURL: base + "/token?client_secret=" + secret + "&audience=ws", ClientID: "kete", ClientSecret: "basic-secret"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Token(ctxFor(t))
		if err == nil {
			t.Fatalf("%s: Token succeeded", base)
		}
		if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, base+"/token?client_secret=****&audience=ws") {
			t.Errorf("%s: error %q, want the URL with the secret masked", base, msg)
		}
		if strings.Contains(s.TokenURL(), secret) {
			t.Errorf("TokenURL() = %q shows the secret", s.TokenURL())
		}
	}
}
