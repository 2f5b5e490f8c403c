// Package serializer turns a kete.Event into the bytes a destination sends: every kind
// KETE has (json, the default; xml, yaml, csv, toml, properties, cbor, smile, avro,
// protobuf, multipart-form, url-encoded-form, template) and kete's cloudevents.
//
// Each KETE kind writes what KETE writes for the same event (FortuneN/kete,
// src/main/java/io/github/fortunen/kete/serializers and docs/user-guide/serializers):
// the Jackson-based kinds (json, xml, yaml, csv, toml, properties, cbor, smile) write
// Keycloak's Event and AdminEvent properties in Jackson's order with nulls (see shape.go);
// avro and protobuf follow KETE's schemas (snake_case names); the form kinds and
// template follow their own Java code. A kete.Event's empty string is Keycloak's null.
//
// cbor, smile, avro and protobuf write binary, which only a route with
// destination.binary-mode=true can send (IsBinary).
package serializer

import (
	"fmt"
	"strings"

	"github.com/kete-dev/kete"
)

// Kind names, as written in a route's serializer.kind.
const (
	KindJSON           = "json"
	KindCloudEvents    = "cloudevents"
	KindXML            = "xml"
	KindYAML           = "yaml"
	KindTemplate       = "template"
	KindCSV            = "csv"
	KindTOML           = "toml"
	KindCBOR           = "cbor"
	KindSmile          = "smile"
	KindProperties     = "properties"
	KindAvro           = "avro"
	KindProtobuf       = "protobuf"
	KindMultipartForm  = "multipart-form"
	KindURLEncodedForm = "url-encoded-form"
)

// Kinds lists the serializer kinds New knows, for documentation and error messages.
func Kinds() []string {
	return []string{KindJSON, KindCloudEvents, KindXML, KindYAML, KindTemplate, KindCSV, KindTOML,
		KindCBOR, KindSmile, KindProperties, KindAvro, KindProtobuf, KindMultipartForm, KindURLEncodedForm}
}

// IsBinary reports whether kind writes bytes that are not text (cbor, smile, avro,
// protobuf): a WebSocket route must send those in binary frames.
func IsBinary(kind string) bool {
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case KindCBOR, KindSmile, KindAvro, KindProtobuf:
		return true
	}
	return false
}

// Options are a route's serializer.* settings. Only Kind applies to every kind; the
// others belong to the kinds named, and setting one for another kind is an error, so that
// a misplaced key is reported rather than ignored.
type Options struct {
	// Kind is serializer.kind; blank is json. Case and surrounding space are ignored.
	Kind string

	// Template is serializer.template: kete's Go text/template form of the template kind
	// (see GoTemplate). It cannot be combined with the template-file-* keys.
	Template string

	// TemplateFileText, TemplateFileBase64 and TemplateFilePath are KETE's
	// serializer.template-file-text, -base64 and -path: exactly one gives the template
	// kind its ${name} text (see KETETemplate).
	TemplateFileText, TemplateFileBase64, TemplateFilePath string
	// ContentType is serializer.content-type, for the template kind (text/plain).
	ContentType string
	// VariableEscape is serializer.variable-escape, for KETE's template form (none).
	VariableEscape string

	// NestingNotation is serializer.nesting-notation for multipart-form and
	// url-encoded-form: bracket (the default) or dot.
	NestingNotation string
}

// withDefaults returns o with Kind in its canonical form: lower case, trimmed, blank as
// json. The other fields' defaults (text/plain, bracket nesting) belong to the kinds that
// read them, which apply them once checkKeys has seen what was set.
func (o Options) withDefaults() Options {
	o.Kind = strings.ToLower(strings.TrimSpace(o.Kind))
	if o.Kind == "" {
		o.Kind = KindJSON
	}
	return o
}

// KeyError is a bad serializer setting: Key is the key relative to the route
// (serializer.kind, serializer.template-file-path, …), Reason what was wanted.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Reason }

// New returns the serializer for kind, with templateText as serializer.template (kete's
// Go template form). It is Build with only those two options.
func New(kind, templateText string) (kete.Serializer, error) {
	return Build(Options{Kind: kind, Template: templateText})
}

// Build returns the serializer o describes. Its errors are *KeyError, naming the key.
func Build(o Options) (kete.Serializer, error) {
	given := o.Kind
	o = o.withDefaults()
	k := o.Kind
	if err := o.checkKeys(k); err != nil {
		return nil, err
	}
	switch k {
	case KindJSON:
		return JSON{}, nil
	case KindCloudEvents:
		return CloudEvents{}, nil
	case KindXML:
		return XML{}, nil
	case KindYAML:
		return YAML{}, nil
	case KindCSV:
		return CSV{}, nil
	case KindTOML:
		return TOML{}, nil
	case KindProperties:
		return Properties{}, nil
	case KindCBOR:
		return CBOR{}, nil
	case KindSmile:
		return Smile{}, nil
	case KindAvro:
		return Avro{}, nil
	case KindProtobuf:
		return Protobuf{}, nil
	case KindMultipartForm, KindURLEncodedForm:
		n, err := parseNestingNotation(o.NestingNotation)
		if err != nil {
			return nil, err
		}
		if k == KindMultipartForm {
			return MultipartForm{Nesting: n}, nil
		}
		return URLEncodedForm{Nesting: n}, nil
	case KindTemplate:
		return o.template()
	}
	return nil, &KeyError{Key: "serializer.kind", Reason: fmt.Sprintf("%q: unknown, want one of %s", given, strings.Join(Kinds(), ", "))}
}

// checkKeys refuses a key set for a kind that does not read it.
func (o Options) checkKeys(kind string) error {
	set := func(v string) bool { return strings.TrimSpace(v) != "" }
	keys := []struct {
		key   string
		given bool
		kinds []string
	}{
		{"serializer.template", set(o.Template), []string{KindTemplate}},
		{"serializer.template-file-text", set(o.TemplateFileText), []string{KindTemplate}},
		{"serializer.template-file-base64", set(o.TemplateFileBase64), []string{KindTemplate}},
		{"serializer.template-file-path", set(o.TemplateFilePath), []string{KindTemplate}},
		{"serializer.content-type", set(o.ContentType), []string{KindTemplate}},
		{"serializer.variable-escape", set(o.VariableEscape), []string{KindTemplate}},
		{"serializer.nesting-notation", set(o.NestingNotation), []string{KindMultipartForm, KindURLEncodedForm}},
	}
	for _, k := range keys {
		if !k.given {
			continue
		}
		ok := false
		for _, want := range k.kinds {
			ok = ok || want == kind
		}
		if !ok {
			return &KeyError{Key: k.key, Reason: fmt.Sprintf("set, but serializer.kind is %q and it is read only by %s", kind, strings.Join(k.kinds, " and "))}
		}
	}
	return nil
}
