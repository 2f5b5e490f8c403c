package demo

import (
	"context"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

func TestGeneratorMakesValidVariedEvents(t *testing.T) {
	g := NewGenerator(1)
	types := map[string]int{}
	realms := map[string]bool{}
	ids := map[string]bool{}
	admin := 0
	for range 2000 {
		e := g.Next(time.Unix(1700000000, 0))
		if e.ID == "" || ids[e.ID] {
			t.Fatalf("event id %q empty or repeated", e.ID)
		}
		ids[e.ID] = true
		if e.EventType() == "" || e.Realm() == "" || e.Time == 0 {
			t.Fatalf("incomplete event %+v", e)
		}
		if e.Kind == kete.KindAdminEvent {
			admin++
			if e.ResourcePath == "" || e.AuthDetails == nil {
				t.Fatalf("admin event without path or auth details: %+v", e)
			}
		}
		if (e.Result() == kete.ResultError) != (e.Type == "LOGIN_ERROR" || e.Type == "REGISTER_ERROR") {
			t.Fatalf("error field and type disagree: %+v", e)
		}
		types[e.EventType()]++
		realms[e.Realm()] = true
	}
	if len(realms) != 3 || len(types) < 10 || admin == 0 || types["LOGIN"] < types["LOGOUT"] {
		t.Fatalf("realms %v, %d types %v, %d admin events", realms, len(types), types, admin)
	}
}

func TestRunEmitsAtTheRequestedRate(t *testing.T) {
	g := NewGenerator(2)
	ctx, cancel := context.WithCancel(context.Background())
	total := 0
	n, err := g.Run(ctx, 1000, func(_ context.Context, batch []kete.Event) error {
		total += len(batch)
		if total >= 300 {
			cancel()
		}
		return nil
	})
	if err != nil || n != total || n < 300 {
		t.Fatalf("Run = %d, %v; emitted %d", n, err, total)
	}
}
