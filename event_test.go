package kete_test

import (
	"testing"

	"github.com/kete-dev/kete"
)

func TestEventResult(t *testing.T) {
	tests := []struct {
		err  string
		want kete.Result
	}{
		{"", kete.ResultSuccess},
		{" \t\n", kete.ResultSuccess},
		{"invalid_user_credentials", kete.ResultError},
		{" x ", kete.ResultError},
	}
	for _, tt := range tests {
		e := &kete.Event{Kind: kete.KindEvent, Error: tt.err}
		if got := e.Result(); got != tt.want {
			t.Errorf("Event{Error: %q}.Result() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestEventType(t *testing.T) {
	tests := []struct {
		name  string
		event kete.Event
		want  string
	}{
		{"user", kete.Event{Kind: kete.KindEvent, Type: "LOGIN_ERROR", ResourceType: "IGNORED"}, "LOGIN_ERROR"},
		{"admin", kete.Event{Kind: kete.KindAdminEvent, Type: "IGNORED", ResourceType: "USER", OperationType: "CREATE"}, "USER_CREATE"},
		{"admin compound resource", kete.Event{Kind: kete.KindAdminEvent, ResourceType: "CLIENT_ROLE_MAPPING", OperationType: "DELETE"}, "CLIENT_ROLE_MAPPING_DELETE"},
		{"admin without fields", kete.Event{Kind: kete.KindAdminEvent}, "_"},
		{"no kind reads as user", kete.Event{Type: "LOGOUT"}, "LOGOUT"},
	}
	for _, tt := range tests {
		if got := tt.event.EventType(); got != tt.want {
			t.Errorf("%s: EventType() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEventRealm(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"acme", "6a1c", "acme"},
		{"", "6a1c", "6a1c"},
		{"Acme Corp", "", "Acme Corp"},
		{"", "", ""},
	}
	for _, tt := range tests {
		e := &kete.Event{RealmName: tt.name, RealmID: tt.id}
		if got := e.Realm(); got != tt.want {
			t.Errorf("Event{RealmName: %q, RealmID: %q}.Realm() = %q, want %q", tt.name, tt.id, got, tt.want)
		}
	}
}
