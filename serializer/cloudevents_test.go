package serializer_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

var uuidV8 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCloudEvents(t *testing.T) {
	s := mustNew(t, "cloudevents", "")
	js := mustNew(t, "json", "")
	resourceless := &kete.Event{Kind: kete.KindAdminEvent, Time: 5, RealmID: "r-id", OperationType: "ACTION", ResourceType: "CLIENT_ROLE_MAPPING"}
	tests := []struct {
		name  string
		event *kete.Event
		want  map[string]any // without data
	}{
		{"user", userEvent(), map[string]any{
			"specversion": "1.0", "id": "0b5c1c4e-1f6c-4d5e-9a4a-0c1d2e3f4a5b", "source": "/realms/Acme%20Corp",
			"type": "keycloak.event.login_error", "time": "2023-11-14T22:13:20.123Z", "subject": "u-1",
			"datacontenttype": "application/json",
		}},
		{"admin", adminEvent(), map[string]any{
			"specversion": "1.0", "id": "a-1", "source": "/realms/Acme%20Corp",
			"type": "keycloak.admin-event.user.create", "time": "2023-11-14T22:13:20.999Z", "subject": "users/1b2c",
			"datacontenttype": "application/json",
		}},
		{"admin by realm id, no subject", resourceless, map[string]any{
			"specversion": "1.0", "source": "/realms/r-id",
			"type": "keycloak.admin-event.client_role_mapping.action", "time": "1970-01-01T00:00:00.005Z",
			"datacontenttype": "application/json",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := serialize(t, s, tt.event)
			got := decodeMap(t, out)
			var raw struct{ Data json.RawMessage }
			if err := json.Unmarshal(out, &raw); err != nil {
				t.Fatal(err)
			}
			if want := serialize(t, js, tt.event); !bytes.Equal(raw.Data, want) {
				t.Errorf("data = %s, want the json serializer's %s", raw.Data, want)
			}
			delete(got, "data")
			if _, ok := tt.want["id"]; !ok {
				id, _ := got["id"].(string)
				if !uuidV8.MatchString(id) {
					t.Errorf("generated id %q is not a version 8 UUID", id)
				}
				delete(got, "id")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			if _, err := time.Parse(time.RFC3339, got["time"].(string)); err != nil {
				t.Errorf("time is not RFC 3339: %v", err)
			}
		})
	}
}

func TestCloudEventsGeneratedID(t *testing.T) {
	s := mustNew(t, "cloudevents", "")
	id := func(e *kete.Event) string {
		t.Helper()
		return decodeMap(t, serialize(t, s, e))["id"].(string)
	}
	a, b := userEvent(), userEvent()
	a.ID, b.ID = "", ""
	if id(a) != id(b) {
		t.Errorf("the same event got two ids: %s, %s", id(a), id(b))
	}
	b.Time++
	if id(a) == id(b) {
		t.Errorf("different events got the same id %s", id(a))
	}
	// The id must not depend on what the buffer held before.
	out, err := s.Serialize([]byte("garbage"), a)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeMap(t, out[len("garbage"):])["id"]; got != id(a) {
		t.Errorf("id with a non-empty dst = %v, want %v", got, id(a))
	}
}

func TestCloudEventsTricky(t *testing.T) {
	s := mustNew(t, "cloudevents", "")
	for _, kind := range []kete.Kind{kete.KindEvent, kete.KindAdminEvent} {
		e := trickyEvent(kind)
		got := decodeMap(t, serialize(t, s, e))
		if got["id"] != fixed {
			t.Errorf("%s: id = %q, want %q", kind, got["id"], fixed)
		}
		if src, _ := got["source"].(string); !strings.HasPrefix(src, "/realms/") || strings.ContainsAny(src, " \"\n") {
			t.Errorf("%s: source %q is not an escaped path", kind, src)
		}
	}
}
