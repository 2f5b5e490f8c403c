package serializer

import (
	"crypto/sha256"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/jsontext"
)

// CloudEvents writes an event as a structured-mode CloudEvents 1.0 JSON document, for
// receivers that route on CloudEvents attributes:
//
//	specversion      "1.0"
//	id               the event's id; when it has none, a UUID (version 8) made from the
//	                 SHA-256 of its JSON form, so a resend of the same event keeps its id
//	source           "/realms/" + the path-escaped realm name (else id): /realms/Acme%20Corp
//	type             "keycloak.event." + the lower-cased user event type
//	                 (keycloak.event.login, keycloak.event.login_error), or
//	                 "keycloak.admin-event." + lower-cased resource type + "." + lower-cased
//	                 operation type (keycloak.admin-event.user.create,
//	                 keycloak.admin-event.client_role_mapping.update); "_" inside a
//	                 Keycloak name is kept, "." only separates the parts
//	time             the event's time, RFC 3339 in UTC with milliseconds
//	subject          the user id of a user event, the resource path of an admin event;
//	                 left out when empty
//	datacontenttype  "application/json"
//	data             the event as the JSON serializer writes it
type CloudEvents struct{}

// ContentType is application/cloudevents+json, the structured-mode media type.
func (CloudEvents) ContentType() string { return "application/cloudevents+json" }

// Serialize appends e as a CloudEvent to dst.
// AlwaysUTF8 implements kete.UTF8Serializer, as JSON does.
func (CloudEvents) AlwaysUTF8() {}

func (CloudEvents) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	dst = append(dst, `{"specversion":"1.0","id":`...)
	if e.ID != "" {
		dst = appendString(dst, e.ID)
	} else {
		// Hash the JSON form where it will be written, then write it again as data.
		dataStart := len(dst)
		dst = appendJSON(dst, e)
		sum := sha256.Sum256(dst[dataStart:])
		dst = appendUUID(dst[:dataStart], sum[:16])
	}
	dst = append(dst, `,"source":"/realms/`...)
	dst = appendPathEscape(dst, e.Realm())
	dst = append(dst, '"')
	dst = append(dst, `,"type":"`...)
	if e.Kind == kete.KindAdminEvent {
		dst = append(dst, "keycloak.admin-event."...)
		dst = appendLower(dst, e.ResourceType)
		dst = append(dst, '.')
		dst = appendLower(dst, e.OperationType)
	} else {
		dst = append(dst, "keycloak.event."...)
		dst = appendLower(dst, e.Type)
	}
	dst = append(dst, '"')
	dst = append(dst, `,"time":"`...)
	dst = time.UnixMilli(e.Time).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, '"')
	subject := e.UserID
	if e.Kind == kete.KindAdminEvent {
		subject = e.ResourcePath
	}
	if subject != "" {
		dst = append(dst, `,"subject":`...)
		dst = appendString(dst, subject)
	}
	dst = append(dst, `,"datacontenttype":"application/json","data":`...)
	dst = appendJSON(dst, e)
	return append(dst, '}'), nil
}

// appendLower appends s lower-cased and JSON-escaped, for the type attribute.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				dst = append(dst, c+'a'-'A')
			} else {
				dst = jsontext.AppendEscaped(dst, s[i:i+1])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if lower := unicode.ToLower(r); lower != r {
			dst = utf8.AppendRune(dst, lower)
		} else {
			dst = jsontext.AppendEscaped(dst, s[i:i+size]) // also turns an invalid byte into \ufffd
		}
		i += size
	}
	return dst
}

// appendUUID appends b (16 bytes) as a quoted version-8 UUID string.
func appendUUID(dst []byte, b []byte) []byte {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	dst = append(dst, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return append(dst, '"')
}

// appendPathEscape appends s escaped as url.PathEscape escapes it, without allocating.
// What it leaves unescaped needs no JSON escaping either.
func appendPathEscape(dst []byte, s string) []byte {
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~',
			c == '$', c == '&', c == '+', c == ':', c == '=', c == '@':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xF])
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"
