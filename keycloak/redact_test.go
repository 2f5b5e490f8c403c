package keycloak_test

import (
	"net"
	"strings"
	"testing"

	"github.com/kete-dev/kete/keycloak"
)

// A password in the Keycloak URL's user information is masked in the errors Admin
// returns (which the poller logs), and the rest of the URL is shown.
func TestAdminErrorsMaskTheURLPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const secret = "url-S3CRET"
	a := keycloak.NewAdmin(keycloak.AdminOptions{URL: "http://admin:" + secret + "@" + addr, ClientID: "kete", ClientSecret: "client-S3CRET"})
	_, err = a.FindClient(testCtx(t), "acme", "kete")
	if err == nil {
		t.Fatal("FindClient succeeded against a closed port")
	}
	if msg := err.Error(); strings.Contains(msg, "S3CRET") || !strings.Contains(msg, "http://admin:****@"+addr) {
		t.Errorf("error %q, want the URL with its password masked", msg)
	}
}
