package serializer

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/kete-dev/kete"
)

// GoTemplate writes whatever a route's Go text/template makes of the event, for receivers
// that want a line of text or a shape of their own. It is kete's own form of the template
// kind, chosen by the key serializer.template (KETE's form, KETETemplate, is chosen by the
// serializer.template-file-* keys).
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
type GoTemplate struct {
	tpl         *template.Template
	contentType string
}

// NewGoTemplate parses text as a route's serializer.template. A parse error is a
// configuration error that names serializer.template.
func NewGoTemplate(text, contentType string) (*GoTemplate, error) {
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
		return nil, &KeyError{Key: "serializer.template", Reason: err.Error()}
	}
	return &GoTemplate{tpl: tpl, contentType: contentType}, nil
}

// ContentType is serializer.content-type, text/plain unless set.
func (t *GoTemplate) ContentType() string { return t.contentType }

// Serialize appends the template's output for e to dst.
func (t *GoTemplate) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
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
