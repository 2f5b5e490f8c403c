package keycloak_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

func TestPollerTakesEachEventOnceAcrossRestarts(t *testing.T) {
	t.Run("epoch milliseconds", func(t *testing.T) { testPollerOnce(t, false) })
	// Keycloak before 26.2 takes days only: the poller asks from the cursor's day and
	// drops what it already has.
	t.Run("dates only", func(t *testing.T) { testPollerOnce(t, true) })
}

func testPollerOnce(t *testing.T, datesOnly bool) {
	opts := []keycloaktest.Option{keycloaktest.WithRealm("acme")}
	if datesOnly {
		opts = append(opts, keycloaktest.WithDatesOnly())
	}
	kc := keycloaktest.New(t, opts...)
	admin := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Realm: "master", Username: "admin", Password: "admin"})
	state := filepath.Join(t.TempDir(), "poller.json")
	base := time.Now().Add(-time.Hour).UnixMilli()
	// 250 events, several sharing a millisecond, to cross page boundaries and ties.
	for i := range 250 {
		kc.AddEvent("acme", kete.Event{Kind: kete.KindEvent, Type: "LOGIN", UserID: "u", Time: base + int64(i/3)})
	}
	kc.AddEvent("acme", kete.Event{Kind: kete.KindAdminEvent, ResourceType: "USER", OperationType: "CREATE", ResourcePath: "users/1", Time: base})

	sink := &memSink{}
	ctx := context.Background()
	p, err := keycloak.NewPoller(admin, sink, keycloak.PollerOptions{Realms: []string{"acme"}, StateFile: state, PageSize: 40, DatesOnly: datesOnly})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.PollOnce(ctx, "acme"); err != nil || n != 251 {
		t.Fatalf("first poll = %d, %v; want 251", n, err)
	}
	if n, err := p.PollOnce(ctx, "acme"); err != nil || n != 0 {
		t.Fatalf("second poll = %d, %v; want nothing new", n, err)
	}
	// Two more at the newest millisecond already seen, and one later.
	last := base + 249/3
	kc.AddEvent("acme", kete.Event{Kind: kete.KindEvent, Type: "LOGOUT", UserID: "u", Time: last})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindEvent, Type: "LOGOUT", UserID: "v", Time: last})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindEvent, Type: "REGISTER", UserID: "w", Time: last + 5})

	// A new poller (a restarted daemon) resumes from the saved cursor.
	p2, err := keycloak.NewPoller(admin, sink, keycloak.PollerOptions{Realms: []string{"acme"}, StateFile: state, PageSize: 40, DatesOnly: datesOnly})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p2.PollOnce(ctx, "acme"); err != nil || n != 3 {
		t.Fatalf("poll after restart = %d, %v; want the 3 new events", n, err)
	}
	ids := map[string]int{}
	for _, e := range sink.got() {
		if e.ID == "" {
			t.Fatalf("event without id: %+v", e)
		}
		ids[e.ID]++
	}
	if len(ids) != 254 {
		t.Fatalf("distinct events = %d, want 254", len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("event %s taken %d times", id, n)
		}
	}
}

// TestPollerNeedsDatesOnlyForOldKeycloak: an old Keycloak refuses epoch milliseconds, and
// the error says which parameter, so the operator knows to set dates-only.
func TestPollerNeedsDatesOnlyForOldKeycloak(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithDatesOnly())
	admin := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Realm: "master", Username: "admin", Password: "admin"})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindEvent, Type: "LOGIN", UserID: "u", Time: time.Now().UnixMilli()})
	p, err := keycloak.NewPoller(admin, &memSink{}, keycloak.PollerOptions{Realms: []string{"acme"}, StateFile: filepath.Join(t.TempDir(), "s.json"), SkipAdminEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.PollOnce(context.Background(), "acme"); err != nil || n != 1 {
		t.Fatalf("first poll (no dateFrom yet) = %d, %v; want 1", n, err)
	}
	if _, err := p.PollOnce(context.Background(), "acme"); err == nil || !strings.Contains(err.Error(), "dateFrom") || !strings.Contains(err.Error(), "dates-only") {
		t.Fatalf("second poll against a dates-only Keycloak: %v, want an error naming dateFrom and the dates-only setting", err)
	}
}

func TestPollerDoesNotAdvanceWhenTheSinkFails(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	admin := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Realm: "master", Username: "admin", Password: "admin"})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindEvent, Type: "LOGIN", UserID: "u", Time: time.Now().UnixMilli()})
	sink := &memSink{err: errFull}
	p, _ := keycloak.NewPoller(admin, sink, keycloak.PollerOptions{Realms: []string{"acme"}, StateFile: filepath.Join(t.TempDir(), "s.json"), SkipAdminEvents: true})
	if _, err := p.PollOnce(context.Background(), "acme"); err == nil {
		t.Fatal("poll into a failing sink reported no error")
	}
	sink.mu.Lock()
	sink.err = nil
	sink.mu.Unlock()
	if n, err := p.PollOnce(context.Background(), "acme"); err != nil || n != 1 {
		t.Fatalf("poll after the sink recovered = %d, %v; want the event again", n, err)
	}
}
