package serializer

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/kete-dev/kete"
)

// JSON writes an event as one JSON object (see the package doc for its fields). It is the
// default serializer, and the data of a CloudEvent.
//
// Strings are escaped exactly as encoding/json escapes them with HTML escaping off:
// invalid UTF-8 becomes U+FFFD, control characters, U+2028 and U+2029 are escaped.
type JSON struct{}

// ContentType is application/json.
func (JSON) ContentType() string { return "application/json" }

// Serialize appends e as JSON to dst; it allocates nothing beyond growing dst unless
// the event has more than 16 details.
func (JSON) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return appendJSON(dst, e), nil
}

// appendJSON is the hand-written encoder: several times faster than encoding/json on a
// struct, and allocation-free.
func appendJSON(dst []byte, e *kete.Event) []byte {
	dst = append(dst, '{')
	comma := false
	if e.ID != "" {
		dst = appendField(dst, &comma, "id", e.ID)
	}
	dst = appendField(dst, &comma, "kind", string(e.Kind))
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, e.Time, 10)
	if e.Kind == kete.KindAdminEvent {
		dst = appendOptional(dst, &comma, "realmId", e.RealmID)
		dst = appendOptional(dst, &comma, "realmName", e.RealmName)
		if a := e.AuthDetails; a != nil {
			dst = append(dst, `,"authDetails":{`...)
			inner := false
			dst = appendOptional(dst, &inner, "realmId", a.RealmID)
			dst = appendOptional(dst, &inner, "clientId", a.ClientID)
			dst = appendOptional(dst, &inner, "userId", a.UserID)
			dst = appendOptional(dst, &inner, "ipAddress", a.IPAddress)
			dst = append(dst, '}')
		}
		dst = appendOptional(dst, &comma, "operationType", e.OperationType)
		dst = appendOptional(dst, &comma, "resourceType", e.ResourceType)
		dst = appendOptional(dst, &comma, "resourceTypeAsString", e.ResourceType)
		dst = appendOptional(dst, &comma, "resourcePath", e.ResourcePath)
		dst = appendOptional(dst, &comma, "representation", e.Representation)
		dst = appendOptional(dst, &comma, "error", e.Error)
		return append(dst, '}')
	}
	dst = appendOptional(dst, &comma, "type", e.Type)
	dst = appendOptional(dst, &comma, "realmId", e.RealmID)
	dst = appendOptional(dst, &comma, "realmName", e.RealmName)
	dst = appendOptional(dst, &comma, "clientId", e.ClientID)
	dst = appendOptional(dst, &comma, "userId", e.UserID)
	dst = appendOptional(dst, &comma, "sessionId", e.SessionID)
	dst = appendOptional(dst, &comma, "ipAddress", e.IPAddress)
	dst = appendOptional(dst, &comma, "error", e.Error)
	if len(e.Details) > 0 {
		dst = append(dst, `,"details":{`...)
		for i, k := range sortedKeys(e.Details, make([]string, 0, 16)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, e.Details[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// sortedKeys appends m's keys to buf in order, so that the same event always serializes
// to the same bytes (CloudEvents ids are derived from them).
func sortedKeys(m map[string]string, buf []string) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// appendField appends "name":"value", with a comma before it unless it is the first field.
// name must need no escaping.
func appendField(dst []byte, comma *bool, name, value string) []byte {
	if *comma {
		dst = append(dst, ',')
	}
	*comma = true
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return appendString(dst, value)
}

func appendOptional(dst []byte, comma *bool, name, value string) []byte {
	if value == "" {
		return dst
	}
	return appendField(dst, comma, name, value)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json escapes it with
// SetEscapeHTML(false).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped is appendString without the quotes.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time: most of an event is ids, names and
		// addresses that need no escaping.
		for i+8 <= len(s) && plainASCII8(s, i) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// plainASCII8 reports whether s[i:i+8] holds no byte that JSON escapes or that starts a
// multi-byte sequence: nothing below 0x20, no '"', no '\\', nothing from 0x80. The
// compiler turns the byte assembly into one 64-bit load.
func plainASCII8(s string, i int) bool {
	_ = s[i+7]
	w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
	below20 := (w - lsb8*0x20) & ^w
	quote := w ^ (lsb8 * '"')
	backslash := w ^ (lsb8 * '\\')
	return (below20|(quote-lsb8)&^quote|(backslash-lsb8)&^backslash|w)&msb8 == 0
}
