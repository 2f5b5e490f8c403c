package serializer

import (
	"strconv"

	"github.com/kete-dev/kete"
)

// Properties writes an event as KETE's PropertiesSerializer does (Jackson's
// JavaPropsMapper, docs/user-guide/serializers/properties.md): one key=value line per
// property in shape.go's order, nested ones flattened with dots (details.username,
// authDetails.realmId), and an empty value for null.
//
// Keys and values are escaped as java.util.Properties reads them: a backslash before
// "\", and before "=", ":", "#", "!" and spaces in keys; \t, \n, \r, \f for control
// characters; a leading space in a value escaped. Text is UTF-8.
type Properties struct{}

// ContentType is text/plain, as KETE sends it.
func (Properties) ContentType() string { return "text/plain" }

// AlwaysUTF8 implements kete.UTF8Serializer: every string is made valid UTF-8 first.
func (Properties) AlwaysUTF8() {}

// Serialize appends e as properties lines to dst.
func (Properties) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return appendPropertiesNodes(dst, shape(e), ""), nil
}

func appendPropertiesNodes(dst []byte, nodes []node, prefix string) []byte {
	for _, n := range nodes {
		switch n.kind {
		case mapValue:
			for _, p := range n.pairs {
				dst = appendPropertiesLine(dst, prefix+n.name+"."+p.key, p.value)
			}
		case objectValue:
			dst = appendPropertiesNodes(dst, n.children, prefix+n.name+".")
		case longValue:
			dst = appendPropertiesLine(dst, prefix+n.name, strconv.FormatInt(n.num, 10))
		default:
			dst = appendPropertiesLine(dst, prefix+n.name, n.str)
		}
	}
	return dst
}

func appendPropertiesLine(dst []byte, key, value string) []byte {
	dst = appendPropertiesText(dst, key, true)
	dst = append(dst, '=')
	dst = appendPropertiesText(dst, value, false)
	return append(dst, '\n')
}

func appendPropertiesText(dst []byte, s string, key bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			dst = append(dst, `\\`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '=', ':', '#', '!':
			if key {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
		case ' ':
			if key || i == 0 {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
		default:
			if c < 0x20 {
				const hex = "0123456789ABCDEF"
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
				continue
			}
			dst = append(dst, c)
		}
	}
	return dst
}
