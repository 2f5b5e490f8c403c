package serializer_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
)

func TestJSONFields(t *testing.T) {
	tests := []struct {
		name  string
		event *kete.Event
		want  map[string]any
	}{
		{"user", userEvent(), map[string]any{
			"id": "0b5c1c4e-1f6c-4d5e-9a4a-0c1d2e3f4a5b", "time": 1700000000123.0, "type": "LOGIN_ERROR",
			"realmId": "6a1c", "realmName": "Acme Corp", "clientId": "account", "userId": "u-1", "sessionId": "s-1",
			"ipAddress": "127.0.0.1", "error": "invalid_user_credentials",
			"details": map[string]any{"username": "alice", "auth_method": "openid-connect", "redirect_uri": "http://127.0.0.1/cb?a=1&b=2"},
		}},
		{"admin", adminEvent(), map[string]any{
			"id": "a-1", "time": 1700000000999.0, "realmId": "6a1c", "realmName": "Acme Corp",
			"authDetails":   map[string]any{"realmId": "master-id", "realmName": nil, "clientId": "admin-cli", "userId": "admin-1", "ipAddress": "127.0.0.1"},
			"operationType": "CREATE", "resourceType": "USER", "resourceTypeAsString": "USER", "resourcePath": "users/1b2c",
			"representation": `{"username":"bob","enabled":true}`, "error": nil,
		}},
		// KETE's Jackson writes every property, null when Keycloak has none.
		{"empty fields are null", &kete.Event{Kind: kete.KindEvent, Type: "LOGOUT", Details: map[string]string{}},
			map[string]any{"id": nil, "time": 0.0, "type": "LOGOUT", "realmId": nil, "realmName": nil, "clientId": nil,
				"userId": nil, "sessionId": nil, "ipAddress": nil, "error": nil, "details": nil}},
		{"admin without auth details", &kete.Event{Kind: kete.KindAdminEvent, Time: -5, OperationType: "DELETE", Error: "boom"},
			map[string]any{"id": nil, "time": -5.0, "realmId": nil, "realmName": nil, "authDetails": nil, "operationType": "DELETE",
				"resourceType": nil, "resourcePath": nil, "representation": nil, "error": "boom", "resourceTypeAsString": nil}},
		// authDetails.realmName is the event realm's name when the admin acted in that realm.
		{"admin in its own realm", &kete.Event{Kind: kete.KindAdminEvent, Time: 1, RealmID: "r1", RealmName: "acme", OperationType: "DELETE",
			AuthDetails: &kete.AuthDetails{RealmID: "r1", UserID: "u"}},
			map[string]any{"id": nil, "time": 1.0, "realmId": "r1", "realmName": "acme",
				"authDetails":   map[string]any{"realmId": "r1", "realmName": "acme", "clientId": nil, "userId": "u", "ipAddress": nil},
				"operationType": "DELETE", "resourceType": nil, "resourcePath": nil, "representation": nil, "error": nil, "resourceTypeAsString": nil}},
	}
	s := mustNew(t, "json", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeMap(t, serialize(t, s, tt.event))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	if got, _ := json.Marshal(tricky); !bytes.Contains(got, []byte(`\ufffd`)) {
		t.Fatalf("test premise: encoding/json writes %s", got)
	}
	s := mustNew(t, "json", "")
	for _, kind := range []kete.Kind{kete.KindEvent, kete.KindAdminEvent} {
		t.Run(string(kind), func(t *testing.T) {
			out := serialize(t, s, trickyEvent(kind))
			var got struct {
				kete.Event
				RealmName            string `json:"realmName"`
				ResourceTypeAsString string `json:"resourceTypeAsString"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", out, err)
			}
			want := fixedEvent(kind)
			got.Event.RealmName = got.RealmName
			got.Event.Kind = kind // KETE's JSON has no kind field
			if !reflect.DeepEqual(&got.Event, want) {
				t.Errorf("round trip\ngot  %#v\nwant %#v", got.Event, *want)
			}
			if kind == kete.KindAdminEvent && got.ResourceTypeAsString != fixed {
				t.Errorf("resourceTypeAsString = %q, want %q", got.ResourceTypeAsString, fixed)
			}
		})
	}
}

func TestJSONDeterministic(t *testing.T) {
	e := userEvent()
	for i := range 40 {
		e.Details[string(rune('a'+i%26))+strings.Repeat("k", i)] = "v"
	}
	s := mustNew(t, "json", "")
	first := serialize(t, s, e)
	for range 20 {
		if again := serialize(t, s, e); !bytes.Equal(again, first) {
			t.Fatalf("serialization differs between calls:\n%s\n%s", first, again)
		}
	}
	// Details keys come out sorted, like encoding/json writes a map.
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.Details); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(first, append([]byte(`"details":`), bytes.TrimSpace(want.Bytes())...)) {
		t.Errorf("details not in sorted order: %s", first)
	}
}

func TestJSONAppends(t *testing.T) {
	s := mustNew(t, "json", "")
	out, err := s.Serialize([]byte("prefix"), userEvent())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix{")) {
		t.Errorf("Serialize did not append to dst: %q", out)
	}
}

func TestJSONAndCloudEventsDoNotAllocate(t *testing.T) {
	noID := userEvent()
	noID.ID = ""
	sixteen := userEvent()
	for i := range 13 {
		sixteen.Details[strings.Repeat("k", i+1)] = "v"
	}
	for _, kind := range []string{"json", "cloudevents"} {
		s := mustNew(t, kind, "")
		buf := make([]byte, 0, 8192)
		for _, e := range []*kete.Event{userEvent(), adminEvent(), trickyEvent(kete.KindEvent), noID, sixteen} {
			allocs := testing.AllocsPerRun(100, func() { buf, _ = s.Serialize(buf[:0], e) })
			if allocs > 0 {
				t.Errorf("%s Serialize(%s, id %q) allocates %.0f times, want 0", kind, e.Kind, e.ID, allocs)
			}
		}
	}
}

// BenchmarkEncodingJSON is the alternative the hand-written encoder was measured against:
// encoding/json on a struct of the same shape.
func BenchmarkEncodingJSON(b *testing.B) {
	type doc struct {
		ID        string            `json:"id,omitempty"`
		Kind      kete.Kind         `json:"kind"`
		Time      int64             `json:"time"`
		Type      string            `json:"type,omitempty"`
		RealmID   string            `json:"realmId,omitempty"`
		RealmName string            `json:"realmName,omitempty"`
		ClientID  string            `json:"clientId,omitempty"`
		UserID    string            `json:"userId,omitempty"`
		SessionID string            `json:"sessionId,omitempty"`
		IPAddress string            `json:"ipAddress,omitempty"`
		Error     string            `json:"error,omitempty"`
		Details   map[string]string `json:"details,omitempty"`
	}
	e := userEvent()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		_ = enc.Encode(doc{e.ID, e.Kind, e.Time, e.Type, e.RealmID, e.RealmName, e.ClientID, e.UserID, e.SessionID, e.IPAddress, e.Error, e.Details})
	}
}

// encodingJSON is what the JSON serializer must write, byte for byte: encoding/json with
// HTML escaping off on a struct of the documented shape.
func encodingJSON(t testing.TB, e *kete.Event) []byte {
	t.Helper()
	// KETE's shape: every property in Jackson's order, a nil *string for null.
	type auth struct {
		RealmID   *string `json:"realmId"`
		RealmName *string `json:"realmName"`
		ClientID  *string `json:"clientId"`
		UserID    *string `json:"userId"`
		IPAddress *string `json:"ipAddress"`
	}
	type admin struct {
		ID                   *string `json:"id"`
		Time                 int64   `json:"time"`
		RealmID              *string `json:"realmId"`
		RealmName            *string `json:"realmName"`
		AuthDetails          *auth   `json:"authDetails"`
		ResourceType         *string `json:"resourceType"`
		OperationType        *string `json:"operationType"`
		ResourcePath         *string `json:"resourcePath"`
		Representation       *string `json:"representation"`
		Error                *string `json:"error"`
		ResourceTypeAsString *string `json:"resourceTypeAsString"`
	}
	type user struct {
		ID        *string           `json:"id"`
		Time      int64             `json:"time"`
		Type      *string           `json:"type"`
		RealmID   *string           `json:"realmId"`
		RealmName *string           `json:"realmName"`
		ClientID  *string           `json:"clientId"`
		UserID    *string           `json:"userId"`
		SessionID *string           `json:"sessionId"`
		IPAddress *string           `json:"ipAddress"`
		Error     *string           `json:"error"`
		Details   map[string]string `json:"details"`
	}
	p := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	details := e.Details
	if len(details) == 0 {
		details = nil
	}
	var doc any = user{p(e.ID), e.Time, p(e.Type), p(e.RealmID), p(e.RealmName), p(e.ClientID), p(e.UserID), p(e.SessionID), p(e.IPAddress), p(e.Error), details}
	if e.Kind == kete.KindAdminEvent {
		a := admin{ID: p(e.ID), Time: e.Time, RealmID: p(e.RealmID), RealmName: p(e.RealmName),
			OperationType: p(e.OperationType), ResourceType: p(e.ResourceType), ResourceTypeAsString: p(e.ResourceType),
			ResourcePath: p(e.ResourcePath), Representation: p(e.Representation), Error: p(e.Error)}
		if d := e.AuthDetails; d != nil {
			var realmName *string
			if d.RealmID != "" && (d.RealmID == e.RealmID || d.RealmID == e.RealmName) {
				realmName = p(e.RealmName)
			}
			a.AuthDetails = &auth{p(d.RealmID), realmName, p(d.ClientID), p(d.UserID), p(d.IPAddress)}
		}
		doc = a
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestJSONMatchesEncodingJSON(t *testing.T) {
	many := map[string]string{}
	for i := range 17 {
		many[strings.Repeat(string(rune('q'-i%5)), i+1)] = tricky[:i]
	}
	tests := []struct {
		name  string
		event *kete.Event
	}{
		{"user", userEvent()},
		{"admin", adminEvent()},
		{"tricky user", trickyEvent(kete.KindEvent)},
		{"tricky admin", trickyEvent(kete.KindAdminEvent)},
		{"no id, one detail", &kete.Event{Kind: kete.KindEvent, Time: 7, Type: "LOGIN", Details: map[string]string{"username": "alice"}}},
		{"two details out of order", &kete.Event{Kind: kete.KindEvent, Details: map[string]string{"z": "1", "a": "2"}}},
		{"six details", &kete.Event{Kind: kete.KindEvent, Details: map[string]string{"f": "6", "b": "2", "d": "4", "a": "1", "e": "5", "c": "3"}}},
		{"seventeen details", &kete.Event{Kind: kete.KindEvent, ID: "x", Details: many}},
		{"auth details without realm", &kete.Event{Kind: kete.KindAdminEvent, AuthDetails: &kete.AuthDetails{UserID: "u", IPAddress: "::1"}}},
		{"auth details empty", &kete.Event{Kind: kete.KindAdminEvent, ID: "a", AuthDetails: &kete.AuthDetails{}}},
		{"negative time", &kete.Event{Kind: kete.KindEvent, Time: -1 << 62, Error: "e"}},
	}
	s := mustNew(t, "json", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := serialize(t, s, tt.event), encodingJSON(t, tt.event)
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			// After a prefix, into a buffer too small: the same bytes follow the prefix.
			out, err := s.Serialize([]byte("ab"), tt.event)
			if err != nil || string(out[:2]) != "ab" || !bytes.Equal(out[2:], want) {
				t.Errorf("appended to a prefix: %q, %v", out, err)
			}
		})
	}
}

// FuzzJSON checks the serializer against encoding/json on any field text.
func FuzzJSON(f *testing.F) {
	f.Add(false, "id", "LOGIN", "acme", "k", "v", "u")
	f.Add(true, tricky, "", "", "", "", "")
	f.Add(false, "", "\u2028", "a\xc3", "\x00", "\"", "\\")
	s := mustNew(f, "json", "")
	f.Fuzz(func(t *testing.T, admin bool, id, typ, realm, key, value, user string) {
		e := &kete.Event{Kind: kete.KindEvent, ID: id, Time: int64(len(id)), Type: typ, RealmName: realm, UserID: user,
			Details: map[string]string{key: value, value: key, "m": user}}
		if admin {
			e = &kete.Event{Kind: kete.KindAdminEvent, ID: id, RealmID: realm, ResourceType: typ, Representation: value,
				AuthDetails: &kete.AuthDetails{ClientID: key, UserID: user}}
		}
		// key, value and "m" may coincide; keep the case of three distinct details.
		if !admin && len(e.Details) != 3 {
			return
		}
		if got, want := serialize(t, s, e), encodingJSON(t, e); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}
