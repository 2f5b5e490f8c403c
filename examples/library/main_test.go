package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example as `go run ./examples/library` does and checks that the
// subscriber received the event the route sent, whole.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	want := []string{
		"sent LOGIN in realm acme through 1 route(s)\n",
		`subscriber received on events/acme/login: {"id":"6f1c1b7e-0d6a-4f5e-9d57-0c9a4a0e2b11","time":1767225600000,"type":"LOGIN","realmId":"acme","realmName":"acme","clientId":"account","userId":"alice","sessionId":null,"ipAddress":"127.0.0.1","error":null,"details":{"username":"alice"}}` + "\n",
	}
	if got := out.String(); got != strings.Join(want, "") {
		t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(want, ""))
	}
}
