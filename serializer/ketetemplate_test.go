package serializer_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// TestKETETemplate: KETE's ${name} template as TemplateSerializer.java resolves it.
func TestKETETemplate(t *testing.T) {
	user := keteDocUserEvent()
	user.Details["redirect_uri"] = "http://app/cb?a=1&b=<2>"
	tests := []struct {
		name, text, escape string
		event              *kete.Event
		want               string
	}{
		// A name the event does not have renders as nothing (the lookup returns "").
		{"missing value", "[${error}][${resourceType}][${nosuch}][${details.nosuch}]", "", user, "[][][][]"},
		{"admin names on a user event", "${operationType}|${authDetails.userId}|${type}", "", user, "||LOGIN"},
		{"user names on an admin event", "${type}|${clientId}|${operationType}", "", keteDocAdminEvent(), "||CREATE"},
		{"details and camelCase alias", "${details.redirect_uri}=${details.redirectUri}", "", user, "http://app/cb?a=1&b=<2>=http://app/cb?a=1&b=<2>"},
		{"time", "${time}", "", user, "1704816000000"},
		{"escape $$", "$${userId} ${realmName}", "", user, "${userId} master"},
		{"unclosed", "x ${userId", "", user, "x ${userId"},
		{"default syntax is read, not used", "${nosuch:-fallback}|${realmId:-x}", "", user, "|master"},
		{"global json", `{"u":"${details.redirect_uri}"}`, "json", &kete.Event{Kind: kete.KindEvent, Details: map[string]string{"redirect_uri": "a\"b\\c\n\x01"}}, `{"u":"a\"b\\c\n\u0001"}`},
		{"global xml", "${details.redirect_uri}", "xml", user, "http://app/cb?a=1&amp;b=&lt;2&gt;"},
		{"per-variable filter overrides", "${details.redirect_uri:url}|${details.redirect_uri:none}|${realmId:b64}|${details.redirect_uri:unknown}", "json", user,
			"http%3A%2F%2Fapp%2Fcb%3Fa%3D1%26b%3D%3C2%3E|http://app/cb?a=1&b=<2>|bWFzdGVy|http://app/cb?a=1&b=<2>"},
		{"csv", "${details.x:csv},${details.y:csv-quote}", "", &kete.Event{Kind: kete.KindEvent, Details: map[string]string{"x": "plain", "y": `a,"b"`}}, `plain,"a,""b"""`},
		// Event data is not a template: KETE's StringSubstitutor would substitute again.
		{"values are not re-substituted", "${userId}", "", &kete.Event{Kind: kete.KindEvent, UserID: "${realmId}", RealmID: "r"}, "${realmId}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := serializer.Build(serializer.Options{Kind: "template", TemplateFileText: tt.text, VariableEscape: tt.escape})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(serialize(t, s, tt.event)); got != tt.want {
				t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestTemplateSources: exactly one of KETE's three template-file keys, or kete's Go
// serializer.template; each error names the key to fix.
func TestTemplateSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(path, []byte("${type} in ${realmName}"), 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("${type} in ${realmName}"))
	for _, tt := range []struct {
		name        string
		o           serializer.Options
		want        string
		contentType string
		errKey      string
	}{
		{"text", serializer.Options{TemplateFileText: "${type} in ${realmName}"}, "LOGIN in master", "text/plain", ""},
		{"base64", serializer.Options{TemplateFileBase64: b64}, "LOGIN in master", "text/plain", ""},
		{"path", serializer.Options{TemplateFilePath: path, ContentType: " application/json "}, "LOGIN in master", "application/json", ""},
		{"go template", serializer.Options{Template: "{{.EventType}} in {{.Realm}}", ContentType: "text/markdown"}, "LOGIN in master", "text/markdown", ""},
		{"none", serializer.Options{}, "", "", "serializer.template-file-text"},
		{"two", serializer.Options{TemplateFileText: "x", TemplateFilePath: path}, "", "", "serializer.template-file-text"},
		{"go and kete", serializer.Options{Template: "x", TemplateFileText: "y"}, "", "", "serializer.template"},
		{"missing file", serializer.Options{TemplateFilePath: filepath.Join(dir, "nope")}, "", "", "serializer.template-file-path"},
		{"bad base64", serializer.Options{TemplateFileBase64: "%%%"}, "", "", "serializer.template-file-base64"},
		{"blank file", serializer.Options{TemplateFileBase64: base64.StdEncoding.EncodeToString([]byte("  "))}, "", "", "serializer.template-file-base64"},
		{"unknown escape", serializer.Options{TemplateFileText: "x", VariableEscape: "html"}, "", "", "serializer.variable-escape"},
		{"escape with go template", serializer.Options{Template: "x", VariableEscape: "json"}, "", "", "serializer.variable-escape"},
		{"go parse error", serializer.Options{Template: "{{.EventType"}, "", "", "serializer.template"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Kind = "template"
			s, err := serializer.Build(tt.o)
			if tt.errKey != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.errKey+":") {
					t.Fatalf("error %v, want one naming %s", err, tt.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(serialize(t, s, keteDocUserEvent())); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if s.ContentType() != tt.contentType {
				t.Errorf("content type %q, want %q", s.ContentType(), tt.contentType)
			}
		})
	}
	// A key for another kind is refused, naming it.
	for _, o := range []serializer.Options{
		{Kind: "json", TemplateFileText: "x"}, {Kind: "xml", ContentType: "text/html"}, {Kind: "template", TemplateFileText: "x", NestingNotation: "dot"},
	} {
		if _, err := serializer.Build(o); err == nil || !strings.Contains(err.Error(), "only") {
			t.Errorf("%+v: error %v", o, err)
		}
	}
}
