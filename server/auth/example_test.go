package auth_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/kete-dev/kete/server/auth"
)

// An app's authKey with a shared secret; a backend mints a client token and the server
// checks it and its permissions. Production apps should prefer an asymmetric key.
func Example() {
	secret := "an-example-secret-of-at-least-32-bytes!"
	v, err := auth.NewVerifier(auth.Key{
		Source:     "raw",
		Key:        secret,
		Algorithms: []string{"HS256"},
		Issuer:     []string{"https://signer.example.com"},
	}, auth.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	token, err := auth.Mint("HS256", []byte(secret), auth.MintClaims{
		Subject:     "user0@example.com",
		Issuer:      "https://signer.example.com",
		TTL:         time.Minute,
		Permissions: []string{"realtime:publisher:write:topic:main", "realtime:subscriber:read:topic:secure/logs/*"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	r := httptest.NewRequest("GET", "/apps/my-app?access_token="+token, nil)
	claims, err := v.Verify(auth.FromRequest(r).Token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Subject)
	fmt.Println(auth.CanPublish(claims.Permissions, "main"), auth.CanPublish(claims.Permissions, "secure/logs/app"))
	fmt.Println(auth.CanSubscribe(claims.Permissions, "secure/logs/app"), auth.CanSubscribe(claims.Permissions, "secure/inbound"))

	_, err = v.Verify(token + "x")
	fmt.Println(err.(*auth.Error).Code, err)
	// Output:
	// user0@example.com
	// true false
	// true false
	// token_invalid token signature is invalid
}

func ExampleMatchTopic() {
	fmt.Println(auth.MatchTopic("secure/*", "secure/logs/app"))
	fmt.Println(auth.MatchTopic("secure/*", "main"))
	fmt.Println(auth.MatchTopic("!secure/*", "main"))
	// Output:
	// true
	// false
	// true
}

func ExampleSourcePolicy() {
	p, err := auth.ParseSourcePolicy([]string{"10.0.0.0/8", "!10.0.13.0/24", "::1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range []string{"10.1.2.3", "10.0.13.7", "::1", "192.0.2.1"} {
		fmt.Println(a, p.Allows(netip.MustParseAddr(a)))
	}
	// Output:
	// 10.1.2.3 true
	// 10.0.13.7 false
	// ::1 true
	// 192.0.2.1 false
}

func ExampleHashAPIKey() {
	keys, err := auth.NewAPIKeys([]auth.APIKey{{
		Name:        "ingest",
		Hash:        auth.HashAPIKey("kete_example-key"), // store this, not the key
		Permissions: []string{"realtime:publisher:write:topic:events/*"},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := keys.Verify("kete_example-key")
	fmt.Println(c.Subject, err)
	_, err = keys.Verify("kete_wrong")
	fmt.Println(err)
	// Output:
	// apikey:ingest <nil>
	// API key is not valid
}
