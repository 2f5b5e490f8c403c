package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/cmd/kete/internal/demo"
)

// TestDemoEveryEventOnEveryTopic runs `kete demo`'s own configuration (two routes into
// one app: "all" to events, "logins" to logins/{realm}) over generated events: the events
// topic gets every event, and logins/acme every login of acme. Both routes send the same
// event ids, so the server must de-duplicate per topic, not per app (issue 10, item 1:
// the demo's events topic used to get about 150 of every 200).
func TestDemoEveryEventOnEveryTopic(t *testing.T) {
	app := startTestServer(t)
	events := app.subscribe(t, "events")
	logins := app.subscribe(t, "logins/acme")
	props := string(demo.Config(app.addr(), app.token(t, "kete-demo-daemon", "realtime:publisher:write:topic:*"), t.TempDir(), "127.0.0.1:0"))
	d, _ := startTestDaemon(t, props, daemonOptions{})

	gen := demo.NewGenerator(42)
	wantAll, wantLogins := map[string]bool{}, map[string]bool{}
	batch := make([]kete.Event, 0, 200)
	now := time.Now()
	for range 200 {
		e := gen.Next(now)
		batch = append(batch, e)
		wantAll[e.ID] = true
		if strings.HasPrefix(e.Type, "LOGIN") && strings.EqualFold(e.RealmName, "acme") {
			wantLogins[e.ID] = true
		}
	}
	if len(wantLogins) == 0 {
		t.Fatal("the generator made no acme login: pick another seed")
	}
	if err := d.pipeline.Ingest(context.Background(), "generator", batch); err != nil {
		t.Fatal(err)
	}
	if dups := events.waitFor(t, wantAll, 30*time.Second); dups != 0 {
		t.Errorf("events: %d duplicates", dups)
	}
	if dups := logins.waitFor(t, wantLogins, 30*time.Second); dups != 0 {
		t.Errorf("logins/acme: %d duplicates", dups)
	}
}

// TestDemoRunsAndReports runs `kete demo` for two seconds on free ports: it prints the
// dashboard link and the webhook, generates events into the spool, and ends with the
// progress line of both routes and exit status 0.
func TestDemoRunsAndReports(t *testing.T) {
	code, stdout, stderr := runCLI(t, "demo", "--listen", "127.0.0.1:0", "--webhook", "127.0.0.1:0", "--duration", "2s", "--quiet")
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"Dashboard:  http://127.0.0.1:", "#app=demo&token=", "Webhook:    curl -X POST http://127.0.0.1:", "all: delivered", "logins: delivered"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	var generated, spooled int
	last := stdout[strings.LastIndex(stdout, "\r")+1:]
	if _, err := fmt.Sscanf(last, "generated %d  spooled %d", &generated, &spooled); err != nil || generated == 0 || spooled < generated {
		t.Errorf("last progress line %q: generated %d, spooled %d (%v)", last, generated, spooled, err)
	}
}
