package serializer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/kete-dev/kete"
)

// Template writes whatever a route's Go text/template makes of the event, for receivers
// that want a line of text or a shape of their own.
//
// The template's data is the *kete.Event: its fields ({{.RealmName}}, {{.Details.username}})
// and its methods {{.EventType}}, {{.Result}} and {{.Realm}}. It also has the functions
//
//	lower, upper  the argument as text, lower- or upper-cased ({{lower .Kind}})
//	json          the argument as JSON ({{json .Details}}); {{json .}} is the event as
//	              the json serializer writes it
//	rfc3339       milliseconds since the epoch as RFC 3339 UTC with milliseconds ({{rfc3339 .Time}})
//
// A missing map key ({{.Details.nothing}}) is an execution error rather than "<no value>".
type Template struct {
	tpl *template.Template
}

// NewTemplate parses text as a route's serializer.template. Blank text or a parse error
// is a configuration error that names serializer.template.
func NewTemplate(text string) (*Template, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("serializer kind \"template\": serializer.template is blank; set it to a Go text/template such as {{.EventType}} {{.Realm}}")
	}
	tpl, err := template.New("serializer.template").
		Option("missingkey=error").
		Funcs(template.FuncMap{
			"lower":   func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
			"upper":   func(v any) string { return strings.ToUpper(fmt.Sprint(v)) },
			"json":    toJSON,
			"rfc3339": rfc3339,
		}).
		Parse(text)
	if err != nil {
		return nil, fmt.Errorf("serializer kind \"template\": serializer.template: %w", err)
	}
	return &Template{tpl: tpl}, nil
}

// ContentType is text/plain; a template that writes JSON or XML is still opaque text here.
func (*Template) ContentType() string { return "text/plain" }

// Serialize appends the template's output for e to dst.
func (t *Template) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	w := appendWriter{b: dst}
	if err := t.tpl.Execute(&w, e); err != nil {
		return dst, fmt.Errorf("serializer.template: event %s: %w", e.ID, err)
	}
	return w.b, nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func toJSON(v any) (string, error) {
	if e, ok := v.(*kete.Event); ok {
		return string(appendJSON(nil, e)), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
