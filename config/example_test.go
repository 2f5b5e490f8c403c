package config_test

import (
	"fmt"
	"os"

	"github.com/kete-dev/kete/config"
)

// A route read from .properties, with one setting from the environment, as `kete check`
// prints it. Secrets read ****.
func ExampleConfig_Describe() {
	props := `
kete.routes.ws.realm-matchers.realm=list:acme
kete.routes.ws.event-matchers.logins=glob:LOGIN*
kete.routes.ws.destination.url=ws://localhost:8080/apps/demo/publish/events/${realmLowerCase}/${eventTypeLowerCase}
kete.routes.ws.destination.headers.Authorization=Bearer ${env:WS_TOKEN}
kete.routes.ws.destination.headers.X-Tenant=acme
kete.routes.ws.destination.oauth.client-id=unused
kete.routes.ws.retry.wait-duration=PT1S
`
	environ := []string{"WS_TOKEN=very-secret", "KETE_ROUTES_WS_DESTINATION_POOL_MAX_TOTAL=4"}
	c, err := config.Parse([]byte(props), config.FormatProperties, environ)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Describe(os.Stdout)
	// Output:
	// route ws (enabled)
	//   realms:         realm=list:acme
	//   events:         logins=glob:LOGIN*
	//   serializer:     json (application/json)
	//   destination:    websocket
	//   url:            ws://localhost:8080/apps/demo/publish/events/${realmLowerCase}/${eventTypeLowerCase}
	//   example:        ws://localhost:8080/apps/demo/publish/events/acme/login (LOGIN in realm acme)
	//   frames:         text
	//   connect:        timeout 10s, heartbeat 60s
	//   header:         Authorization: ****
	//   header:         X-Tenant: acme
	//   tls:            off
	//   oauth:          off
	//   pool:           min-idle 1, max-idle 4, max-total 4, max-wait 30s (per rendered URL)
	//   retry:          until delivered (set retry.max-attempts to dead-letter after N), first wait 1s, max wait 30s
	// warning: kete.routes.ws.destination.oauth.client-id = "unused": ignored: destination.oauth.enabled is not true
}

// Every bad key is reported at once, with its value (secrets masked) and the reason.
func ExampleValidationError() {
	props := `
kete.routes.ws.destination.url=http://localhost/events
kete.routes.ws.destination.tsl.enabled=true
kete.routes.ws.destination.pool.max-total=lots
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=https://auth.example.com/token
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=${env:MISSING}
`
	_, err := config.Parse([]byte(props), config.FormatProperties, nil)
	fmt.Println(err)
	// Output:
	// invalid configuration: 4 problems
	//   kete.routes.ws.destination.oauth.client-secret = "****": ${env:MISSING}: environment variable MISSING is not set
	//   kete.routes.ws.destination.pool.max-total = "lots": want a whole number
	//   kete.routes.ws.destination.tsl.enabled = "true": unknown key (did you mean kete.routes.ws.destination.tls.enabled?)
	//   kete.routes.ws.destination.url = "http://localhost/events": want a ws:// or wss:// URL
}
