package serializer

import (
	"slices"
	"strconv"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/jsontext"
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

// appendString appends s as a JSON string, escaped as encoding/json escapes it with
// SetEscapeHTML(false).
func appendString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }
