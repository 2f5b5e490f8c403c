package serializer

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/jsontext"
)

// JSON writes an event as one JSON object, as KETE's JsonSerializer (Jackson on Keycloak's
// Event and AdminEvent) writes it: the properties of shape.go in that order, null for
// what is missing (docs/user-guide/serializers/json.md). It is the default serializer,
// and the data of a CloudEvent.
//
// Strings are escaped exactly as encoding/json escapes them with HTML escaping off:
// invalid UTF-8 becomes U+FFFD, control characters, U+2028 and U+2029 are escaped.
type JSON struct{}

// ContentType is application/json.
func (JSON) ContentType() string { return "application/json" }

// AlwaysUTF8 implements kete.UTF8Serializer: strings are escaped by jsontext, which writes
// invalid UTF-8 as U+FFFD.
func (JSON) AlwaysUTF8() {}

// Serialize appends e as JSON to dst; it allocates nothing beyond growing dst unless
// the event has more than 16 details.
func (JSON) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return appendJSON(dst, e), nil
}

// appendJSON is the hand-written encoder: several times faster than encoding/json on a
// struct, and allocation-free. It writes KETE's shape (see shape.go): every property in
// Jackson's order, null where Keycloak has none. Each property is one constant prefix
// (,"name":) and the value.
func appendJSON(dst []byte, e *kete.Event) []byte {
	dst = slices.Grow(dst, estimateJSON(e))
	dst = append(dst, `{"id":`...)
	dst = appendNullable(dst, e.ID)
	dst = append(dst, `,"time":`...)
	dst = appendMillis(dst, e.Time)
	if e.Kind == kete.KindAdminEvent {
		dst = appendNullable(append(dst, `,"realmId":`...), e.RealmID)
		dst = appendNullable(append(dst, `,"realmName":`...), e.RealmName)
		dst = append(dst, `,"authDetails":`...)
		if a := e.AuthDetails; a != nil {
			dst = appendNullable(append(dst, `{"realmId":`...), a.RealmID)
			dst = appendNullable(append(dst, `,"realmName":`...), authRealmName(e))
			dst = appendNullable(append(dst, `,"clientId":`...), a.ClientID)
			dst = appendNullable(append(dst, `,"userId":`...), a.UserID)
			dst = appendNullable(append(dst, `,"ipAddress":`...), a.IPAddress)
			dst = append(dst, '}')
		} else {
			dst = append(dst, "null"...)
		}
		dst = appendNullable(append(dst, `,"resourceType":`...), e.ResourceType)
		dst = appendNullable(append(dst, `,"operationType":`...), e.OperationType)
		dst = appendNullable(append(dst, `,"resourcePath":`...), e.ResourcePath)
		dst = appendNullable(append(dst, `,"representation":`...), e.Representation)
		dst = appendNullable(append(dst, `,"error":`...), e.Error)
		dst = appendNullable(append(dst, `,"resourceTypeAsString":`...), e.ResourceType)
		return append(dst, '}')
	}
	dst = appendNullable(append(dst, `,"type":`...), e.Type)
	dst = appendNullable(append(dst, `,"realmId":`...), e.RealmID)
	dst = appendNullable(append(dst, `,"realmName":`...), e.RealmName)
	dst = appendNullable(append(dst, `,"clientId":`...), e.ClientID)
	dst = appendNullable(append(dst, `,"userId":`...), e.UserID)
	dst = appendNullable(append(dst, `,"sessionId":`...), e.SessionID)
	dst = appendNullable(append(dst, `,"ipAddress":`...), e.IPAddress)
	dst = appendNullable(append(dst, `,"error":`...), e.Error)
	if len(e.Details) > 0 {
		dst = appendDetails(dst, e.Details)
	} else {
		dst = append(dst, `,"details":null`...)
	}
	return append(dst, '}')
}

// digitPairs holds "00" to "99", for appendMillis.
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendMillis appends t in decimal. Keycloak times are milliseconds since 1970, 13 digits
// from 2001 to 2286: those are written two digits at a time in 32-bit arithmetic, faster
// than strconv.AppendInt, which writes any other value.
func appendMillis(dst []byte, t int64) []byte {
	if t < 1e12 || t >= 1e13 {
		return strconv.AppendInt(dst, t, 10)
	}
	var b [13]byte
	hi, lo := uint32(t/1e8), uint32(t%1e8) // 5 and 8 digits
	for i := 11; i >= 5; i -= 2 {
		q := lo / 100
		r := (lo - q*100) * 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		lo = q
	}
	for i := 3; i >= 1; i -= 2 {
		q := hi / 100
		r := (hi - q*100) * 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		hi = q
	}
	b[0] = byte('0' + hi)
	return append(dst, b[:]...)
}

// estimateJSON is about the size of e's JSON form when nothing needs escaping, so that
// appendJSON grows dst once.
func estimateJSON(e *kete.Event) int {
	n := 192 + len(e.ID) + len(e.Type) + len(e.RealmID) + len(e.RealmName) + len(e.ClientID) +
		len(e.UserID) + len(e.SessionID) + len(e.IPAddress) + len(e.Error) +
		len(e.OperationType) + 2*len(e.ResourceType) + len(e.ResourcePath) + len(e.Representation)
	if a := e.AuthDetails; a != nil {
		n += 64 + len(a.RealmID) + len(a.ClientID) + len(a.UserID) + len(a.IPAddress)
	}
	if len(e.Details) > 0 {
		n += 16 + 6*len(e.Details)
	}
	return n + 128
}

// detail is one entry of an event's details map.
type detail struct{ key, value string }

// appendDetails appends ,"details":{…} with the keys in order, so that the same event
// always serializes to the same bytes (CloudEvents ids are derived from them). Up to 16
// entries are sorted on the stack; Keycloak events have a handful.
func appendDetails(dst []byte, m map[string]string) []byte {
	dst = append(dst, `,"details":{`...)
	if len(m) == 1 {
		for k, v := range m {
			dst = appendDetail(dst, k, v)
		}
		return append(dst, '}')
	}
	var entries []detail
	if len(m) <= 4 {
		var small [4]detail // zeroing 16 entries costs more than sorting a few
		entries = small[:0]
	} else {
		var buf [16]detail
		entries = buf[:0]
	}
	for k, v := range m {
		entries = append(entries, detail{k, v})
	}
	if len(entries) <= 16 {
		// Insertion sort: fastest for a few entries, and it needs no closure.
		for i := 1; i < len(entries); i++ {
			for j := i; j > 0 && entries[j].key < entries[j-1].key; j-- {
				entries[j], entries[j-1] = entries[j-1], entries[j]
			}
		}
	} else {
		slices.SortFunc(entries, func(a, b detail) int { return strings.Compare(a.key, b.key) })
	}
	for i, d := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendDetail(dst, d.key, d.value)
	}
	return append(dst, '}')
}

// appendDetail appends "key":"value".
func appendDetail(dst []byte, key, value string) []byte {
	dst = append(dst, '"')
	dst = jsontext.AppendEscaped(dst, key)
	dst = append(dst, `":"`...)
	dst = jsontext.AppendEscaped(dst, value)
	return append(dst, '"')
}

// appendNullable appends value as a JSON string, or null when it is empty (Keycloak's
// null: Jackson writes null properties).
func appendNullable(dst []byte, value string) []byte {
	if value == "" {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = jsontext.AppendEscaped(dst, value)
	return append(dst, '"')
}

// appendString appends s as a JSON string, escaped as encoding/json escapes it with
// SetEscapeHTML(false).
func appendString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }
