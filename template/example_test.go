package template_test

import (
	"fmt"
	"net/url"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/template"
)

// A route's destination URL is compiled once, when the configuration loads, and rendered
// per event; an admin event's eventType is RESOURCETYPE_OPERATIONTYPE.
func Example() {
	t, err := template.Compile("ws://127.0.0.1:8080/${realmKebabCase}/${eventTypeLowerCase}")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Render(&kete.Event{Kind: kete.KindEvent, RealmName: "Acme Corp", Type: "LOGIN_ERROR"}))
	fmt.Println(t.Render(&kete.Event{Kind: kete.KindAdminEvent, RealmName: "Acme Corp", ResourceType: "USER", OperationType: "CREATE"}))

	// With an escape, a rendered value stays one path segment.
	raw, _ := template.CompileWith("/events/${realmLowerCase}", template.Options{Escape: url.PathEscape})
	fmt.Println(raw.Render(&kete.Event{RealmName: "a/b c"}))

	// A misspelt variable is refused when it is compiled.
	_, err = template.Compile("/${realmLowercase}")
	fmt.Println(err)
	// Output:
	// ws://127.0.0.1:8080/acme-corp/login_error
	// ws://127.0.0.1:8080/acme-corp/user_create
	// /events/a%2Fb%20c
	// template: unknown variable ${realmLowercase} at offset 1 (did you mean ${realmLowerCase}?)
}
