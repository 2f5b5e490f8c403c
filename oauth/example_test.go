package oauth_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
	"github.com/kete-dev/kete/oauth"
)

// A destination with OAuth in external mode: any token endpoint, client credentials.
func ExampleNewExternal() {
	kc, err := keycloaktest.Start(keycloaktest.WithRealm("acme"))
	if err != nil {
		log.Fatal(err)
	}
	defer kc.Close()
	kc.AddClient("acme", keycloaktest.Client{ClientID: "events-writer", Secret: "s3cret", Enabled: true, ServiceAccountsEnabled: true, OptionalClientScopes: []string{"events:write"}})

	src, err := oauth.NewExternal(oauth.External{
		TokenURL:     kc.TokenURL("acme"), // e.g. https://auth.example.com/oauth/token
		ClientID:     "events-writer",
		ClientSecret: "s3cret",
		Scopes:       []string{"events:write"},
		Timeout:      10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tok, err := src.Token(ctx) // cached until 30 s before it expires
	if err != nil {
		log.Fatal(err)
	}
	again, _ := src.Token(ctx)
	fmt.Println("got a token:", tok != "", "reused:", again == tok)

	src.Invalidate() // the WebSocket server answered 401: the next handshake gets a new token
	renewed, _ := src.Token(ctx)
	fmt.Println("renewed:", renewed != tok)
	// Output:
	// got a token: true reused: true
	// renewed: true
}

// Internal mode: kete registers kete-oauth-client in the realm through the admin API and
// takes tokens from that realm.
func ExampleNewInternal() {
	kc, err := keycloaktest.Start(keycloaktest.WithRealm("acme"))
	if err != nil {
		log.Fatal(err)
	}
	defer kc.Close()

	admin := keycloak.NewAdmin(keycloak.AdminOptions{
		URL:      kc.URL, // e.g. https://sso.example.com
		Username: "admin",
		Password: "admin",
	})
	ctx := context.Background()
	src, err := oauth.NewInternal(ctx, admin, oauth.Internal{Realm: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	c, _ := kc.Client("acme", "kete-oauth-client")
	fmt.Println("client:", c.ClientID, "service account:", c.ServiceAccountsEnabled, "standard flow:", c.StandardFlowEnabled)
	fmt.Println("token endpoint is the realm's:", src.TokenURL() == keycloak.TokenURL(kc.URL, "acme"), "token:", tok != "")
	// Output:
	// client: kete-oauth-client service account: true standard flow: false
	// token endpoint is the realm's: true token: true
}
