package kete_test

import (
	"maps"
	"testing"

	"github.com/kete-dev/kete"
)

func login() kete.Event {
	return kete.Event{Kind: kete.KindEvent, Time: 1700000000123, RealmID: "r-1", RealmName: "acme", Type: "LOGIN",
		ClientID: "app", UserID: "u-1", SessionID: "s-1", IPAddress: "10.0.0.1",
		Details: map[string]string{"username": "alice", "auth_method": "openid-connect"}}
}

func userCreate() kete.Event {
	return kete.Event{Kind: kete.KindAdminEvent, Time: 1700000000456, RealmID: "r-1", OperationType: "CREATE",
		ResourceType: "USER", ResourcePath: "users/u-2", Representation: `{"username":"bob"}`,
		AuthDetails: &kete.AuthDetails{RealmID: "master", ClientID: "admin-cli", UserID: "admin", IPAddress: "10.0.0.2"}}
}

// The digests were computed by keycloak.EventKey before it moved here: pollers keep keys
// in their durable cursors, so a changed digest would send events again after an upgrade.
func TestKeyIsStableAcrossReleases(t *testing.T) {
	for name, tc := range map[string]struct {
		e    kete.Event
		want string
	}{
		"user event":  {login(), "k-9ae1572f5078633f8153597ac0673ee0"},
		"admin event": {userCreate(), "k-8c8d7b9351e06b42cab9777e82d85fcb"},
	} {
		if got := tc.e.Key(); got != tc.want {
			t.Errorf("%s: Key() = %s, want %s", name, got, tc.want)
		}
	}
}

func TestKeyIsKeycloaksIDWhenSent(t *testing.T) {
	e := login()
	e.ID = "0b5f2c1e-7d1a-4c8e-9a57-3f1b8f0e6a42"
	if got := e.Key(); got != e.ID {
		t.Fatalf("Key() = %s, want the id %s", got, e.ID)
	}
}

func TestKeyTellsEventsApart(t *testing.T) {
	base := login()
	same := login()
	same.Details = maps.Clone(base.Details) // a map built in another order
	if base.Key() != same.Key() {
		t.Fatal("one event, two keys")
	}
	for name, change := range map[string]func(*kete.Event){
		"time":       func(e *kete.Event) { e.Time++ },
		"user":       func(e *kete.Event) { e.UserID = "u-2" },
		"session":    func(e *kete.Event) { e.SessionID = "s-2" },
		"a detail":   func(e *kete.Event) { e.Details = map[string]string{"username": "bob", "auth_method": "openid-connect"} },
		"an error":   func(e *kete.Event) { e.Error = "invalid_user_credentials" },
		"the realm":  func(e *kete.Event) { e.RealmName = "other" },
		"admin auth": func(e *kete.Event) { e.AuthDetails = &kete.AuthDetails{UserID: "admin"} },
	} {
		e := login()
		change(&e)
		if e.Key() == base.Key() {
			t.Errorf("events that differ in %s have one key", name)
		}
	}
}
