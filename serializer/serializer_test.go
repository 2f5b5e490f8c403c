package serializer_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// tricky holds strings every serializer must carry: quotes, newlines, unicode, control
// characters, U+2028, HTML and invalid UTF-8.
const tricky = "say \"hi\"\\ \n\r\t\b\f \x01\x1f <a&b> é 日本 🎉 \u2028\u2029 bad:\xff\xfe end"

// fixed is tricky as encoding/json decodes it back: each invalid byte is U+FFFD.
const fixed = "say \"hi\"\\ \n\r\t\b\f \x01\x1f <a&b> é 日本 🎉 \u2028\u2029 bad:\uFFFD\uFFFD end"

func userEvent() *kete.Event {
	return &kete.Event{
		Kind: kete.KindEvent, ID: "0b5c1c4e-1f6c-4d5e-9a4a-0c1d2e3f4a5b", Time: 1700000000123,
		RealmID: "6a1c", RealmName: "Acme Corp", Type: "LOGIN_ERROR", ClientID: "account",
		UserID: "u-1", SessionID: "s-1", IPAddress: "127.0.0.1", Error: "invalid_user_credentials",
		Details: map[string]string{"username": "alice", "auth_method": "openid-connect", "redirect_uri": "http://127.0.0.1/cb?a=1&b=2"},
	}
}

func adminEvent() *kete.Event {
	return &kete.Event{
		Kind: kete.KindAdminEvent, ID: "a-1", Time: 1700000000999, RealmID: "6a1c", RealmName: "Acme Corp",
		OperationType: "CREATE", ResourceType: "USER", ResourcePath: "users/1b2c",
		Representation: `{"username":"bob","enabled":true}`,
		AuthDetails:    &kete.AuthDetails{RealmID: "master-id", ClientID: "admin-cli", UserID: "admin-1", IPAddress: "127.0.0.1"},
	}
}

func mustNew(t testing.TB, kind, text string) kete.Serializer {
	t.Helper()
	s, err := serializer.New(kind, text)
	if err != nil {
		t.Fatalf("New(%q, %q): %v", kind, text, err)
	}
	return s
}

func serialize(t testing.TB, s kete.Serializer, e *kete.Event) []byte {
	t.Helper()
	out, err := s.Serialize(nil, e)
	if err != nil {
		t.Fatalf("Serialize: %v", err)
	}
	return out
}

func TestNew(t *testing.T) {
	tests := []struct {
		kind, text  string
		contentType string
		wantErr     []string
	}{
		{"", "", "application/json", nil},
		{"json", "", "application/json", nil},
		{" JSON ", "", "application/json", nil},
		{"cloudevents", "", "application/cloudevents+json", nil},
		{"xml", "", "application/xml", nil},
		{"YAML", "", "application/yaml", nil},
		{"template", "{{.EventType}}", "text/plain", nil},
		{"avro", "", "application/avro", nil},
		{"protobuf", "", "application/x-protobuf", nil},
		{"cbor", "", "application/cbor", nil},
		{"smile", "", "application/x-jackson-smile", nil},
		{"csv", "", "text/csv", nil},
		{"toml", "", "application/toml", nil},
		{"properties", "", "text/plain", nil},
		{"multipart-form", "", "multipart/form-data; boundary=kete-boundary", nil},
		{"url-encoded-form", "", "application/x-www-form-urlencoded", nil},
		{"msgpack", "", "", []string{`"msgpack"`, "serializer.kind", "json, cloudevents, xml, yaml, template, csv"}},
		{"template", "", "", []string{"serializer.template-file-text", "exactly one"}},
		{"template", "  \n", "", []string{"serializer.template-file-text", "exactly one"}},
		{"template", "{{.EventType", "", []string{"serializer.template", "unclosed action"}},
		{"template", "{{nosuchfunc .}}", "", []string{"serializer.template", "nosuchfunc"}},
		{"json", "{{.EventType}}", "", []string{`"json"`, "serializer.template"}},
		{"avro", "{{.EventType}}", "", []string{`"avro"`, "serializer.template"}},
	}
	for _, tt := range tests {
		s, err := serializer.New(tt.kind, tt.text)
		if tt.wantErr != nil {
			if err == nil {
				t.Errorf("New(%q, %q): no error", tt.kind, tt.text)
				continue
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New(%q, %q) error %q does not contain %q", tt.kind, tt.text, err, want)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q, %q): %v", tt.kind, tt.text, err)
			continue
		}
		if s.ContentType() != tt.contentType {
			t.Errorf("New(%q).ContentType() = %q, want %q", tt.kind, s.ContentType(), tt.contentType)
		}
	}
	for _, kind := range serializer.Kinds() {
		text := ""
		if kind == serializer.KindTemplate {
			text = "x"
		}
		if _, err := serializer.New(kind, text); err != nil {
			t.Errorf("listed kind %q: %v", kind, err)
		}
	}
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return m
}

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

// trickyEvent puts tricky text in every string field.
func trickyEvent(kind kete.Kind) *kete.Event {
	e := &kete.Event{Kind: kind, Time: 1, ID: tricky, RealmID: tricky, RealmName: tricky, Error: tricky}
	if kind == kete.KindAdminEvent {
		e.OperationType, e.ResourceType, e.ResourcePath, e.Representation = tricky, tricky, tricky, tricky
		e.AuthDetails = &kete.AuthDetails{RealmID: tricky, ClientID: tricky, UserID: tricky, IPAddress: tricky}
		return e
	}
	e.Type, e.ClientID, e.UserID, e.SessionID, e.IPAddress = tricky, tricky, tricky, tricky, tricky
	e.Details = map[string]string{tricky: tricky, "plain": "x"}
	return e
}

// fixedEvent is trickyEvent as it must come back from JSON or YAML.
func fixedEvent(kind kete.Kind) *kete.Event {
	e := &kete.Event{Kind: kind, Time: 1, ID: fixed, RealmID: fixed, RealmName: fixed, Error: fixed}
	if kind == kete.KindAdminEvent {
		e.OperationType, e.ResourceType, e.ResourcePath, e.Representation = fixed, fixed, fixed, fixed
		e.AuthDetails = &kete.AuthDetails{RealmID: fixed, ClientID: fixed, UserID: fixed, IPAddress: fixed}
		return e
	}
	e.Type, e.ClientID, e.UserID, e.SessionID, e.IPAddress = fixed, fixed, fixed, fixed, fixed
	e.Details = map[string]string{fixed: fixed, "plain": "x"}
	return e
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

func TestXML(t *testing.T) {
	s := mustNew(t, "xml", "")
	type xmlEvent struct {
		XMLName   xml.Name
		ID        string `xml:"id"`
		Time      int64  `xml:"time"`
		Type      string `xml:"type"`
		RealmID   string `xml:"realmId"`
		RealmName string `xml:"realmName"`
		ClientID  string `xml:"clientId"`
		UserID    string `xml:"userId"`
		SessionID string `xml:"sessionId"`
		IPAddress string `xml:"ipAddress"`
		Error     string `xml:"error"`
		Details   struct {
			Entries []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"details"`
		AuthDetails *struct {
			RealmID   string `xml:"realmId"`
			RealmName string `xml:"realmName"`
			ClientID  string `xml:"clientId"`
		} `xml:"authDetails"`
		OperationType        string `xml:"operationType"`
		ResourceType         string `xml:"resourceType"`
		ResourceTypeAsString string `xml:"resourceTypeAsString"`
		ResourcePath         string `xml:"resourcePath"`
		Representation       string `xml:"representation"`
	}
	decode := func(t *testing.T, e *kete.Event) xmlEvent {
		t.Helper()
		out := serialize(t, s, e)
		if bytes.HasPrefix(out, []byte("<?xml")) {
			t.Errorf("XML declaration, which Jackson's XmlMapper does not write: %s", out)
		}
		var got xmlEvent
		if err := xml.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid XML %s: %v", out, err)
		}
		return got
	}

	u := decode(t, userEvent())
	if u.XMLName.Local != "Event" || u.Time != 1700000000123 || u.Type != "LOGIN_ERROR" ||
		u.RealmName != "Acme Corp" || u.SessionID != "s-1" || u.Error != "invalid_user_credentials" {
		t.Errorf("user event: %+v", u)
	}
	if d := u.Details.Entries; len(d) != 3 || d[0].XMLName.Local != "auth_method" || d[2].XMLName.Local != "username" || d[2].Value != "alice" {
		t.Errorf("details not child elements in key order: %+v", d)
	}
	a := decode(t, adminEvent())
	if a.XMLName.Local != "AdminEvent" || a.ResourceTypeAsString != "USER" ||
		a.Representation != `{"username":"bob","enabled":true}` || a.AuthDetails == nil || a.AuthDetails.ClientID != "admin-cli" {
		t.Errorf("admin event: %+v", a)
	}

	// XML 1.0 cannot carry \x01, \x1f, \b or \f: they come back as U+FFFD, like invalid bytes.
	xmlFixed := strings.NewReplacer("\x01", "\uFFFD", "\x1f", "\uFFFD", "\b", "\uFFFD", "\f", "\uFFFD").Replace(fixed)
	tr := decode(t, trickyEvent(kete.KindEvent))
	for name, got := range map[string]string{"id": tr.ID, "realmName": tr.RealmName, "userId": tr.UserID} {
		if got != xmlFixed {
			t.Errorf("%s = %q, want %q", name, got, xmlFixed)
		}
	}
	// A detail key that is no XML name becomes one, "_" for each character that may not
	// stand there; its value is kept.
	if d := tr.Details.Entries; len(d) != 2 || d[0].XMLName.Local != "plain" || d[1].Value != xmlFixed ||
		strings.ContainsAny(d[1].XMLName.Local, " \"<>&") {
		t.Errorf("tricky details: %+v", d)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	s := mustNew(t, "yaml", "")
	for _, kind := range []kete.Kind{kete.KindEvent, kete.KindAdminEvent} {
		t.Run(string(kind), func(t *testing.T) {
			var got, want map[string]any
			out := serialize(t, s, trickyEvent(kind))
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("invalid YAML %s: %v", out, err)
			}
			// The same fields as the JSON serializer, with the same values.
			js := serialize(t, mustNew(t, "json", ""), trickyEvent(kind))
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			want["time"] = 1 // YAML decodes integers as int
			if !reflect.DeepEqual(got, want) {
				t.Errorf("YAML\n%s\ndecodes to %v\nwant %v", out, got, want)
			}
		})
	}
	var keys yaml.Node
	if err := yaml.Unmarshal(serialize(t, s, adminEvent()), &keys); err != nil {
		t.Fatal(err)
	}
	var order []string
	for i, n := range keys.Content[0].Content {
		if i%2 == 0 {
			order = append(order, n.Value)
		}
	}
	if want := "id time realmId realmName authDetails resourceType operationType resourcePath representation error resourceTypeAsString"; strings.Join(order, " ") != want {
		t.Errorf("YAML key order %v, want %s", order, want)
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		name, text string
		event      *kete.Event
		want       string
	}{
		{"methods", "{{.EventType}} in {{.Realm}}: {{.Result}}", adminEvent(), "USER_CREATE in Acme Corp: SUCCESS"},
		{"fields and details", "{{.UserID}} {{.Details.username}} {{.Error}}", userEvent(), "u-1 alice invalid_user_credentials"},
		{"funcs", "{{lower .Kind}} {{upper .RealmName}} {{rfc3339 .Time}} {{json .Details.username}}", userEvent(),
			`event ACME CORP 2023-11-14T22:13:20.123Z "alice"`},
		{"event as json", "{{json .}}", adminEvent(), string(serialize(t, mustNew(t, "json", ""), adminEvent()))},
		{"conditionals", `{{if eq .Kind "ADMIN_EVENT"}}admin {{.ResourcePath}}{{else}}user {{.Type}}{{end}}`, userEvent(), "user LOGIN_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, "template", tt.text)
			out, err := s.Serialize([]byte(">"), tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != ">"+tt.want {
				t.Errorf("got %q, want %q", out, ">"+tt.want)
			}
		})
	}
}

func TestTemplateExecutionError(t *testing.T) {
	tests := []struct{ text, want string }{
		{"{{.Details.missing}}", "missing"},
		{"{{.NoSuchField}}", "NoSuchField"},
		{"{{rfc3339 .RealmName}}", "expected int64"},
	}
	for _, tt := range tests {
		s := mustNew(t, "template", tt.text)
		out, err := s.Serialize([]byte("keep"), userEvent())
		if err == nil {
			t.Errorf("%s: no error, output %q", tt.text, out)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "serializer.template") {
			t.Errorf("%s: error %q does not name %q and serializer.template", tt.text, err, tt.want)
		}
		if string(out) != "keep" {
			t.Errorf("%s: dst after error = %q, want it unchanged", tt.text, out)
		}
	}
}

func BenchmarkSerialize(b *testing.B) {
	for _, kind := range serializer.Kinds() {
		text := ""
		if kind == "template" {
			text = "{{.EventType}} {{.Realm}} {{.Result}}"
		}
		s := mustNew(b, kind, text)
		for _, e := range []*kete.Event{userEvent(), adminEvent()} {
			b.Run(kind+"/"+string(e.Kind), func(b *testing.B) {
				buf := make([]byte, 0, 4096)
				b.ReportAllocs()
				for b.Loop() {
					buf, _ = s.Serialize(buf[:0], e)
				}
			})
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

// TestUTF8Serializers: the kinds that promise valid UTF-8 (so WebSocket text frames skip
// the check) keep it for an event full of invalid bytes; the others make no promise.
func TestUTF8Serializers(t *testing.T) {
	promise := map[string]bool{"json": true, "cloudevents": true, "xml": true, "yaml": true, "template": false,
		"csv": true, "toml": true, "properties": true, "multipart-form": true, "url-encoded-form": true,
		"cbor": false, "smile": false, "avro": false, "protobuf": false}
	for _, kind := range serializer.Kinds() {
		want, ok := promise[kind]
		if !ok {
			t.Errorf("kind %s: no promise listed", kind)
		}
		text := ""
		if kind == "template" {
			text = "{{.RealmName}}"
		}
		s := mustNew(t, kind, text)
		_, got := s.(kete.UTF8Serializer)
		if got != want {
			t.Errorf("%s: kete.UTF8Serializer %v, want %v", kind, got, want)
		}
		if !got {
			continue
		}
		for _, k := range []kete.Kind{kete.KindEvent, kete.KindAdminEvent} {
			if out := serialize(t, s, trickyEvent(k)); !utf8.Valid(out) {
				t.Errorf("%s %s: invalid UTF-8 in %q", kind, k, out)
			}
		}
	}
}
