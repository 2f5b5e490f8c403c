package serializer

import (
	"strconv"
	"unicode/utf8"

	"github.com/kete-dev/kete"
)

// XML writes an event as KETE's XmlSerializer does (Jackson's XmlMapper on Keycloak's
// Event and AdminEvent, docs/user-guide/serializers/xml.md): root <Event> or
// <AdminEvent>, no declaration, no indentation, one child element per property in
// shape.go's order, <error/> for a null, and each detail as a child element of <details>
// named by its key.
//
// A detail key that is not a plain XML name (Keycloak's are, e.g. redirect_uri) has each
// character other than ASCII letters, digits, "_", "-" and "." (and a leading digit, "-"
// or ".") replaced by "_", so the document stays well-formed.
// XML 1.0 cannot carry control characters other than tab, newline and carriage return;
// like invalid UTF-8, they are written as U+FFFD.
type XML struct{}

// ContentType is application/xml.
func (XML) ContentType() string { return "application/xml" }

// AlwaysUTF8 implements kete.UTF8Serializer: every string is made valid UTF-8 first.
func (XML) AlwaysUTF8() {}

// Serialize appends e as an XML document to dst.
func (XML) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	root := "Event"
	if e.Kind == kete.KindAdminEvent {
		root = "AdminEvent"
	}
	dst = append(dst, '<')
	dst = append(dst, root...)
	dst = append(dst, '>')
	dst = appendXMLNodes(dst, shape(e))
	dst = append(dst, "</"...)
	dst = append(dst, root...)
	return append(dst, '>'), nil
}

func appendXMLNodes(dst []byte, nodes []node) []byte {
	for _, n := range nodes {
		switch n.kind {
		case nullValue:
			dst = append(append(append(dst, '<'), n.name...), "/>"...)
			continue
		case stringValue:
			dst = appendXMLElement(dst, n.name, n.str)
			continue
		}
		dst = append(append(append(dst, '<'), n.name...), '>')
		switch n.kind {
		case longValue:
			dst = strconv.AppendInt(dst, n.num, 10)
		case mapValue:
			for _, p := range n.pairs {
				dst = appendXMLElement(dst, xmlName(p.key), p.value)
			}
		case objectValue:
			dst = appendXMLNodes(dst, n.children)
		}
		dst = append(append(append(dst, "</"...), n.name...), '>')
	}
	return dst
}

func appendXMLElement(dst []byte, name, text string) []byte {
	dst = append(append(append(dst, '<'), name...), '>')
	dst = appendXMLText(dst, text)
	return append(append(append(dst, "</"...), name...), '>')
}

// appendXMLText appends s with &, < and > escaped, and characters XML 1.0 cannot carry
// as U+FFFD (s is already valid UTF-8).
func appendXMLText(dst []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '\r':
			dst = append(dst, "&#13;"...) // a literal CR would be read back as LF
		case r < 0x20 && r != '\t' && r != '\n', r == 0xFFFE, r == 0xFFFF:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// xmlName returns key with each character that may not stand in an XML name replaced by
// "_"; an empty key is "_".
func xmlName(key string) string {
	ok := key != ""
	for i, r := range key {
		if !isXMLNameChar(r, i == 0) {
			ok = false
			break
		}
	}
	if ok {
		return key
	}
	b := make([]rune, 0, len(key)+1)
	for i, r := range []rune(key) {
		if !isXMLNameChar(r, i == 0) {
			r = '_'
		}
		b = append(b, r)
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// isXMLNameChar reports whether r may stand in kete's XML names: ASCII letters and "_"
// first, also digits, "-" and "." after. XML allows many more, but parsers disagree on
// which (Go's encoding/xml keeps XML 1.0's fourth-edition tables), and ":" would name a
// namespace; Keycloak's detail keys are all plain ASCII.
func isXMLNameChar(r rune, first bool) bool {
	switch {
	case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		return true
	case first:
		return false
	}
	return r == '-' || r == '.' || '0' <= r && r <= '9'
}
