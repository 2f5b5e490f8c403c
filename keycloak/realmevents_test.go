package keycloak_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// TestEnableRealmEvents: the three switches KETE turns on are on afterwards, and the
// realm's listeners, chosen event types and expiration are what they were.
func TestEnableRealmEvents(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	exp := int64(3600)
	kc.SetRealmEventsConfig("acme", keycloak.RealmEventsConfig{
		EventsListeners:   []string{"jboss-logging", "email"},
		EnabledEventTypes: []string{"LOGIN", "LOGOUT"},
		EventsExpiration:  &exp,
	})
	admin := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Realm: "master", Username: "admin", Password: "admin"})
	ctx := context.Background()

	changed, err := admin.EnableRealmEvents(ctx, "acme")
	if err != nil || !changed {
		t.Fatalf("EnableRealmEvents = %v, %v; want a change", changed, err)
	}
	got := kc.RealmEventsConfig("acme")
	if !got.EventsEnabled || got.AdminEventsEnabled == nil || !*got.AdminEventsEnabled ||
		got.AdminEventsDetailsEnabled == nil || !*got.AdminEventsDetailsEnabled {
		t.Errorf("config %+v: want events, admin events and details on", got)
	}
	if !slices.Equal(got.EventsListeners, []string{"jboss-logging", "email"}) {
		t.Errorf("listeners %v, want them kept", got.EventsListeners)
	}
	if !slices.Equal(got.EnabledEventTypes, []string{"LOGIN", "LOGOUT"}) {
		t.Errorf("event types %v, want them kept", got.EnabledEventTypes)
	}
	if got.EventsExpiration == nil || *got.EventsExpiration != exp {
		t.Errorf("expiration %v, want %d kept", got.EventsExpiration, exp)
	}

	// Already on: nothing is written, so Keycloak records no second REALM UPDATE.
	changed, err = admin.EnableRealmEvents(ctx, "acme")
	if err != nil || changed {
		t.Fatalf("second EnableRealmEvents = %v, %v; want no change", changed, err)
	}

	if _, err := admin.EnableRealmEvents(ctx, "nope"); !errors.Is(err, keycloak.ErrNotFound) {
		t.Errorf("unknown realm: %v, want ErrNotFound", err)
	}
}

// TestPollerConfiguresRealms: with ConfigureRealms the poller turns saving on before it
// polls, and then reads the REALM UPDATE admin event Keycloak recorded for the change.
func TestPollerConfiguresRealms(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	admin := keycloak.NewAdmin(keycloak.AdminOptions{URL: kc.URL, Realm: "master", Username: "admin", Password: "admin"})
	sink := &memSink{}
	p, err := keycloak.NewPoller(admin, sink, keycloak.PollerOptions{
		Realms: []string{"acme"}, StateFile: filepath.Join(t.TempDir(), "poller.json"),
		Interval: 10 * time.Millisecond, ConfigureRealms: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if evs := sink.got(); slices.ContainsFunc(evs, func(e kete.Event) bool {
			return e.Kind == kete.KindAdminEvent && e.ResourceType == "REALM" && e.ResourcePath == "events/config"
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poller never read the realm's REALM UPDATE; got %+v", sink.got())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c := kc.RealmEventsConfig("acme"); !c.EventsEnabled || !*c.AdminEventsEnabled || !*c.AdminEventsDetailsEnabled {
		t.Errorf("config %+v: want saving on", c)
	}
}
