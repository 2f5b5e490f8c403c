package kete_test

import (
	"context"
	"fmt"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// A Router sends each event to every route whose matchers accept it; here one route takes
// failed logins in realm acme and hands them, as JSON, to a function.
func ExampleRouter() {
	realm, _ := kete.ParseMatcher("list:acme")
	failures, _ := kete.ParseMatcher("glob:*_ERROR")
	router := &kete.Router{Routes: []*kete.Route{{
		Name:          "failed-logins",
		RealmMatchers: []kete.Matcher{realm},
		EventMatchers: []kete.Matcher{failures},
		Serializer:    serializer.JSON{},
		Destination: kete.DestinationFunc(func(ctx context.Context, e *kete.Event, body []byte) error {
			fmt.Printf("%s: %s\n", e.EventType(), body)
			return nil
		}),
	}}}
	defer router.Close()

	events := []*kete.Event{
		{Kind: kete.KindEvent, ID: "1", Time: 1700000000000, RealmName: "acme", Type: "LOGIN"},
		{Kind: kete.KindEvent, ID: "2", Time: 1700000000500, RealmName: "acme", Type: "LOGIN_ERROR", UserID: "alice", Error: "invalid_user_credentials"},
		{Kind: kete.KindEvent, ID: "3", Time: 1700000000900, RealmName: "other", Type: "LOGIN_ERROR"},
	}
	for _, e := range events {
		matched, err := router.Send(context.Background(), e)
		if err != nil {
			fmt.Println("error:", err)
		}
		fmt.Printf("event %s matched %d route(s)\n", e.ID, matched)
	}
	// Output:
	// event 1 matched 0 route(s)
	// LOGIN_ERROR: {"id":"2","time":1700000000500,"type":"LOGIN_ERROR","realmId":null,"realmName":"acme","clientId":null,"userId":"alice","sessionId":null,"ipAddress":null,"error":"invalid_user_credentials","details":null}
	// event 2 matched 1 route(s)
	// event 3 matched 0 route(s)
}
