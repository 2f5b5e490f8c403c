package main

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// drogueMember is a consumer of the bundled server's Drogue Cloud endpoint as Drogue's
// WebSocket integration documents it: {base}/{application}/{channel}?token=…&group_id=…,
// one CloudEvent per text frame.
type drogueMember struct {
	c      *wstest.Client
	events []map[string]any
}

// snapshot is every event the member has received so far.
func (m *drogueMember) snapshot() []map[string]any {
	for {
		select {
		case f := <-m.c.Frames():
			var ev map[string]any
			if json.Unmarshal(f.Raw, &ev) == nil {
				m.events = append(m.events, ev)
			}
		default:
			return m.events
		}
	}
}

// TestDrogueGroupSharesKeycloakEvents: three replicas of a service in one consumer group
// on the demo's events channel share the events a kete route writes with the
// cloudevents serializer: each event reaches exactly one replica, as the CloudEvent the
// serializer wrote (issue 15's fraud-service case).
func TestDrogueGroupSharesKeycloakEvents(t *testing.T) {
	app := startTestServer(t)
	u := "ws://" + app.addr() + "/drogue/demo/events?" + url.Values{"token": {app.token(t, "fraud")}, "group_id": {"fraud"}}.Encode()
	var members []*drogueMember
	for range 3 {
		c, resp, err := wstest.Dial(t, u, wstest.Options{})
		if err != nil {
			t.Fatalf("connect %s: %v (status %d)", u, err, wstest.Status(resp))
		}
		members = append(members, &drogueMember{c: c})
	}
	// A new group starts at the end: probe until every member has joined and got one.
	deadline := time.Now().Add(10 * time.Second)
	for {
		app.publish(t, "events", `{"probe":true}`)
		all := true
		for _, m := range members {
			all = all && len(m.snapshot()) > 0
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("members never joined")
		}
		time.Sleep(10 * time.Millisecond)
	}

	d, _ := startTestDaemon(t, routeConfig(app, t, "127.0.0.1:0", t.TempDir())+"kete.routes.all.serializer.kind=cloudevents\n", daemonOptions{})
	events := makeEvents("drogue", 0, 30)
	if err := d.pipeline.Ingest(context.Background(), "test", events); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, e := range events {
		want[e.ID] = true
	}
	owner := map[string]int{}
	deadline = time.Now().Add(30 * time.Second)
	for len(owner) < len(want) && time.Now().Before(deadline) {
		clear(owner)
		for i, m := range members {
			for _, ev := range m.snapshot() {
				if ev["type"] != "keycloak.event.login" {
					continue // a probe
				}
				id, _ := ev["id"].(string)
				if prev, dup := owner[id]; dup {
					t.Fatalf("event %s reached replicas %d and %d", id, prev, i)
				}
				if ev["specversion"] != "1.0" || ev["source"] != "/realms/acme" {
					t.Errorf("not the serializer's CloudEvent: %v", ev)
				}
				owner[id] = i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id := range want {
		if _, ok := owner[id]; !ok {
			t.Errorf("event %s reached no replica", id)
		}
	}
}
