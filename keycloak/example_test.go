package keycloak_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// A webhook body in any known shape becomes kete events; elements that are not events
// are reported by index.
func ExampleDecodeEvents() {
	body := []byte(`[
	  {"type":"access.LOGIN","uid":"u1","time":1732694400000,"realmId":"7a11ef96","authDetails":{"realmId":"acme","userId":"42","username":"ann"}},
	  {"type":"USER-CREATE","realmId":"7a11ef96","realmName":"acme","resourcePath":"users/43"},
	  {"hello":"world"}
	]`)
	events, bad, err := keycloak.DecodeEvents(body)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Kind, e.Realm(), e.EventType())
	}
	for _, b := range bad {
		fmt.Println(b)
	}
	// Output:
	// EVENT acme LOGIN
	// ADMIN_EVENT acme USER_CREATE
	// event 2: no type, operationType or resourceType: not a Keycloak event
}

// A p2-inc webhook is checked against its shared secret before it is decoded.
func ExampleVerifyP2Signature() {
	body := []byte(`{"type":"access.LOGOUT","uid":"u2"}`)
	header := keycloak.SignP2(body, "webhook-secret") // what p2-inc sends in X-Keycloak-Signature
	fmt.Println(keycloak.VerifyP2Signature(body, "webhook-secret", header))
	fmt.Println(keycloak.VerifyP2Signature(body, "other-secret", header))
	// Output:
	// <nil>
	// keycloak: webhook signature does not match the body (X-Keycloak-Signature)
}

// Reading the newest stored events of a realm through the Admin REST API.
func ExampleAdmin_Events() {
	kc, err := keycloaktest.Start(keycloaktest.WithRealm("acme"))
	if err != nil {
		log.Fatal(err)
	}
	defer kc.Close()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", Time: t0.UnixMilli(), UserID: "42"})
	kc.AddEvent("acme", kete.Event{Type: "LOGOUT", Time: t0.Add(time.Hour).UnixMilli(), UserID: "42"})

	admin := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Username: "admin", Password: "admin"})
	events, err := admin.Events(context.Background(), "acme", keycloak.EventQuery{Max: 10, DateFrom: t0})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Realm(), e.Type, time.UnixMilli(e.Time).UTC().Format(time.Kitchen))
	}
	// Output:
	// acme LOGOUT 10:00AM
	// acme LOGIN 9:00AM
}
