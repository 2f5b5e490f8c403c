package serializer_test

import (
	"fmt"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// A route's serializer.* keys become Options; Build returns the serializer they name, and
// Serialize appends an event's bytes, here in KETE's json form (Keycloak's Event
// properties in Jackson's order, nulls included).
func Example() {
	s, err := serializer.Build(serializer.Options{Kind: "json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := &kete.Event{
		Kind: kete.KindEvent, ID: "e-1", Time: 1700000000123, Type: "LOGIN",
		RealmID: "r-1", RealmName: "acme", ClientID: "account", UserID: "u-1",
	}
	body, err := s.Serialize(nil, e)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ContentType())
	fmt.Println(string(body))

	// A key set for a kind that does not read it is refused, naming the key.
	_, err = serializer.Build(serializer.Options{Kind: "json", NestingNotation: "dot"})
	fmt.Println(err)
	// Output:
	// application/json
	// {"id":"e-1","time":1700000000123,"type":"LOGIN","realmId":"r-1","realmName":"acme","clientId":"account","userId":"u-1","sessionId":null,"ipAddress":null,"error":null,"details":null}
	// serializer.nesting-notation: set, but serializer.kind is "json" and it is read only by multipart-form and url-encoded-form
}
