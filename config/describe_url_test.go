package config

import (
	"strings"
	"testing"
)

// kete check's example URL is the one the destination would dial: each value escaped for
// where it stands, path escaping before the "?", query escaping after it.
func TestDescribeExampleURLEscapesAsTheDestination(t *testing.T) {
	c := parse(t, "kete.routes.ws.destination.url=ws://h/${realmLowerCase}/x?realm=${realmLowerCase}&t=${eventTypeUpperCase}\nkete.routes.ws.realm-matchers.r=list:a b&c\n")
	var b strings.Builder
	if err := c.Describe(&b); err != nil {
		t.Fatal(err)
	}
	const want = "ws://h/a%20b&c/x?realm=a+b%26c&t=LOGIN"
	if !strings.Contains(b.String(), want) {
		t.Errorf("Describe does not show %s:\n%s", want, b.String())
	}
}
