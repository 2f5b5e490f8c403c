package serializer

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
)

// KETETemplate is KETE's template kind (TemplateSerializer.java,
// docs/user-guide/serializers/template.md): text with ${name} placeholders, resolved the
// way commons-text's StringSubstitutor resolves them there.
//
// Names: id, time, realmId, realmName, error, and for a user event type, clientId,
// userId, sessionId, ipAddress and details.<key> (also details.<camelCaseKey> for a
// snake_case key: details.redirectUri); for an admin event operationType, resourceType,
// resourcePath, representation and authDetails.realmId, .realmName, .clientId, .userId,
// .ipAddress. A name the event does not have, or does not know, renders as nothing.
//
// serializer.variable-escape escapes every value: none (default), json, xml, url, csv or
// b64 (aliases json-encode, xml-encode, url-encode, csv-quote, base64). ${name:filter}
// escapes one value with its own filter; an unknown filter there is none, as in KETE.
// $${name} writes ${name} literally, and ${name:-text} is accepted, its text unused (KETE's
// lookup never reports a name missing).
//
// One difference, on purpose: KETE substitutes again inside the values it inserts, so a
// detail holding "${realmId}" comes out as the realm id; kete inserts event data as it is.
type KETETemplate struct {
	parts       []templatePart
	escape      string
	contentType string
}

// templatePart is literal text, or a placeholder when name is set.
type templatePart struct {
	literal string
	name    string
	filter  string // the :filter suffix; "" for the global escape
}

// templateEscapes are the variable-escape values KETE knows, and what each means.
var templateEscapes = map[string]string{
	"none": "none", "json": "json", "json-encode": "json", "xml": "xml", "xml-encode": "xml",
	"url": "url", "url-encode": "url", "csv": "csv", "csv-quote": "csv", "b64": "b64", "base64": "b64",
}

// NewKETETemplate parses text with KETE's ${name} syntax. escape is
// serializer.variable-escape (blank is none); unlike KETE, which treats an unknown value
// as none, kete refuses it, naming the key. contentType blank is text/plain.
func NewKETETemplate(text, escape, contentType string) (*KETETemplate, error) {
	esc := strings.ToLower(strings.TrimSpace(escape))
	if esc == "" {
		esc = "none"
	}
	mode, ok := templateEscapes[esc]
	if !ok {
		return nil, &KeyError{Key: "serializer.variable-escape", Reason: fmt.Sprintf("%q: want none, json, xml, url, csv or b64", escape)}
	}
	return &KETETemplate{parts: parseKETETemplate(text), escape: mode, contentType: contentTypeOr(contentType)}, nil
}

func contentTypeOr(ct string) string {
	if ct = strings.TrimSpace(ct); ct != "" {
		return ct
	}
	return "text/plain"
}

// parseKETETemplate splits text into literals and ${…} placeholders as StringSubstitutor
// does with its defaults: escape character $, no nested placeholders (the first } closes
// one), an unclosed ${ left as text.
func parseKETETemplate(text string) []templatePart {
	var parts []templatePart
	var lit strings.Builder
	for i := 0; i < len(text); {
		if strings.HasPrefix(text[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if strings.HasPrefix(text[i:], "${") {
			end := strings.IndexByte(text[i+2:], '}')
			if end >= 0 {
				expr := text[i+2 : i+2+end]
				if name, _, ok := strings.Cut(expr, ":-"); ok {
					expr = name
				}
				part := templatePart{name: expr}
				if c := strings.IndexByte(expr, ':'); c > 0 {
					part.name = expr[:c]
					part.filter = strings.ToLower(strings.TrimSpace(expr[c+1:]))
					if part.filter == "" {
						part.filter = "none" // "${x:}": KETE looks up filter "", which is none
					}
				}
				if lit.Len() > 0 {
					parts = append(parts, templatePart{literal: lit.String()})
					lit.Reset()
				}
				parts = append(parts, part)
				i += 2 + end + 1
				continue
			}
		}
		lit.WriteByte(text[i])
		i++
	}
	if lit.Len() > 0 {
		parts = append(parts, templatePart{literal: lit.String()})
	}
	return parts
}

// ContentType is serializer.content-type, text/plain unless set.
func (t *KETETemplate) ContentType() string { return t.contentType }

// Serialize appends the template rendered for e to dst.
func (t *KETETemplate) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	for _, p := range t.parts {
		if p.name == "" {
			dst = append(dst, p.literal...)
			continue
		}
		v := templateValue(e, p.name)
		if v == "" {
			continue
		}
		mode := t.escape
		if p.filter != "" {
			if mode = templateEscapes[p.filter]; mode == "" {
				mode = "none"
			}
		}
		dst = appendEscaped(dst, validUTF8(v), mode)
	}
	return dst, nil
}

// templateValue is the value KETE's buildEventValues or buildAdminEventValues gives name.
func templateValue(e *kete.Event, name string) string {
	switch name {
	case "id":
		return e.ID
	case "time":
		return strconv.FormatInt(e.Time, 10)
	case "realmId":
		return e.RealmID
	case "realmName":
		return e.RealmName
	case "error":
		return e.Error
	}
	if e.Kind == kete.KindAdminEvent {
		switch name {
		case "operationType":
			return e.OperationType
		case "resourceType":
			return e.ResourceType
		case "resourcePath":
			return e.ResourcePath
		case "representation":
			return e.Representation
		}
		a := e.AuthDetails
		if a == nil {
			return ""
		}
		switch name {
		case "authDetails.realmId":
			return a.RealmID
		case "authDetails.realmName":
			return authRealmName(e)
		case "authDetails.clientId":
			return a.ClientID
		case "authDetails.userId":
			return a.UserID
		case "authDetails.ipAddress":
			return a.IPAddress
		}
		return ""
	}
	switch name {
	case "type":
		return e.Type
	case "clientId":
		return e.ClientID
	case "userId":
		return e.UserID
	case "sessionId":
		return e.SessionID
	case "ipAddress":
		return e.IPAddress
	}
	key, ok := strings.CutPrefix(name, "details.")
	if !ok {
		return ""
	}
	if v, ok := e.Details[key]; ok {
		return v
	}
	// details.redirectUri is also details.redirect_uri: KETE adds a camelCase alias
	// for every snake_case key (snakeToCamelCase).
	for k, v := range e.Details {
		if strings.Contains(k, "_") && snakeToCamel(k) == key {
			return v
		}
	}
	return ""
}

// snakeToCamel is KETE's snakeToCamelCase: split on "_", upper-case the first letter of
// every part after the first, drop empty parts.
func snakeToCamel(k string) string {
	parts := strings.Split(k, "_")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1:] {
		if p == "" {
			continue
		}
		r := []rune(p)
		b.WriteString(strings.ToUpper(string(r[0])))
		b.WriteString(string(r[1:]))
	}
	return b.String()
}

// appendEscaped appends v escaped as KETE's TemplateSerializer.escape does for mode.
func appendEscaped(dst []byte, v, mode string) []byte {
	switch mode {
	case "json":
		return quoteKETETemplateJSON.appendEscaped(dst, v)
	case "xml":
		r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
		return append(dst, r.Replace(v)...)
	case "url":
		return appendJavaURLEncoded(dst, v)
	case "csv":
		if strings.ContainsAny(v, ",\"\n\r") {
			return append(append(append(dst, '"'), strings.ReplaceAll(v, `"`, `""`)...), '"')
		}
		return append(dst, v...)
	case "b64":
		return base64.StdEncoding.AppendEncode(dst, []byte(v))
	}
	return append(dst, v...)
}

// template builds the template kind: KETE's form from exactly one of the
// template-file-* keys, or kete's Go form from serializer.template.
func (o Options) template() (kete.Serializer, error) {
	text, base64Text, path := strings.TrimSpace(o.TemplateFileText) != "", strings.TrimSpace(o.TemplateFileBase64) != "", strings.TrimSpace(o.TemplateFilePath) != ""
	sources := 0
	for _, set := range []bool{text, base64Text, path} {
		if set {
			sources++
		}
	}
	if strings.TrimSpace(o.Template) != "" {
		if sources > 0 {
			return nil, &KeyError{Key: "serializer.template", Reason: "set together with a serializer.template-file-* key: use serializer.template for a Go text/template, or one template-file-* key for KETE's ${name} template"}
		}
		if strings.TrimSpace(o.VariableEscape) != "" {
			return nil, &KeyError{Key: "serializer.variable-escape", Reason: "applies to KETE's ${name} templates (serializer.template-file-*), not to the Go template in serializer.template"}
		}
		return NewGoTemplate(o.Template, contentTypeOr(o.ContentType))
	}
	if sources != 1 {
		return nil, &KeyError{Key: "serializer.template-file-text", Reason: "exactly one of serializer.template-file-text, serializer.template-file-base64 or serializer.template-file-path must be set for serializer.kind=template (or serializer.template, for a Go text/template)"}
	}
	var body string
	switch {
	case text:
		body = o.TemplateFileText
	case base64Text:
		s := strings.TrimSpace(o.TemplateFileBase64)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			var err2 error
			if b, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err2 != nil {
				return nil, &KeyError{Key: "serializer.template-file-base64", Reason: "not base64: " + err.Error()}
			}
		}
		body = string(b)
	case path:
		b, err := os.ReadFile(strings.TrimSpace(o.TemplateFilePath))
		if err != nil {
			return nil, &KeyError{Key: "serializer.template-file-path", Reason: err.Error()}
		}
		body = string(b)
	}
	if strings.TrimSpace(body) == "" {
		key := "serializer.template-file-text"
		if base64Text {
			key = "serializer.template-file-base64"
		} else if path {
			key = "serializer.template-file-path"
		}
		return nil, &KeyError{Key: key, Reason: "the template is blank"}
	}
	return NewKETETemplate(body, o.VariableEscape, o.ContentType)
}
