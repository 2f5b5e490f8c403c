package serializer_test

import (
	"strings"
	"testing"

	"github.com/kete-dev/kete"
)

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
