package serializer

import (
	"strconv"

	"github.com/kete-dev/kete"
)

// YAML writes an event as KETE's YamlSerializer does (Jackson's YAMLFactory defaults,
// docs/user-guide/serializers/yaml.md): a document that starts with "---", the
// properties of shape.go in order, every string double-quoted, numbers and null bare, and
// details and authDetails as nested mappings indented by two spaces.
//
// Jackson (SnakeYAML) folds double-quoted strings longer than 80 columns onto several
// lines; kete writes each on one line, which every YAML parser reads the same.
type YAML struct{}

// ContentType is application/yaml.
func (YAML) ContentType() string { return "application/yaml" }

// AlwaysUTF8 implements kete.UTF8Serializer: every string is made valid UTF-8 and
// written inside double quotes with non-printable characters escaped.
func (YAML) AlwaysUTF8() {}

// Serialize appends e as a YAML document to dst.
func (YAML) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	dst = append(dst, "---\n"...)
	return appendYAMLNodes(dst, shape(e), ""), nil
}

func appendYAMLNodes(dst []byte, nodes []node, indent string) []byte {
	for _, n := range nodes {
		dst = appendYAMLKey(dst, n.name, indent)
		switch n.kind {
		case nullValue:
			dst = append(dst, " null\n"...)
		case stringValue:
			dst = appendYAMLString(append(dst, ' '), n.str)
			dst = append(dst, '\n')
		case longValue:
			dst = strconv.AppendInt(append(dst, ' '), n.num, 10)
			dst = append(dst, '\n')
		case mapValue:
			dst = append(dst, '\n')
			for _, p := range n.pairs {
				dst = appendYAMLKey(dst, p.key, indent+"  ")
				dst = appendYAMLString(append(dst, ' '), p.value)
				dst = append(dst, '\n')
			}
		case objectValue:
			dst = append(dst, '\n')
			dst = appendYAMLNodes(dst, n.children, indent+"  ")
		}
	}
	return dst
}

// appendYAMLKey appends the indent, key and a colon: the key plain when it is a simple
// word YAML cannot read as anything but a string, else double-quoted. A key too long for
// an implicit key (YAML 1.1 allows 1024 characters) is written as an explicit one,
// "? key" and ":" on the next line, as SnakeYAML writes it.
func appendYAMLKey(dst []byte, key, indent string) []byte {
	dst = append(dst, indent...)
	start := len(dst)
	if plainYAMLKey(key) {
		dst = append(dst, key...)
	} else {
		dst = appendYAMLString(dst, key)
	}
	if len(dst)-start > 1000 {
		quoted := append([]byte(nil), dst[start:]...)
		dst = append(append(dst[:start], "? "...), quoted...)
		dst = append(append(append(dst, '\n'), indent...), ':')
		return dst
	}
	return append(dst, ':')
}

func plainYAMLKey(key string) bool {
	if key == "" {
		return false
	}
	switch key {
	case "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N":
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// appendYAMLString appends s (valid UTF-8) as a YAML double-quoted scalar, escaping what
// YAML 1.1 does not allow printed there.
func appendYAMLString(dst []byte, s string) []byte {
	dst = quoteYAML.appendEscaped(append(dst, '"'), s)
	return append(dst, '"')
}
