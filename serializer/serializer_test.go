package serializer_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

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
