package serializer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
)

// NestingNotation is how the form kinds name a nested field (serializer.nesting-notation):
// details[username] (bracket, the default) or details.username (dot).
type NestingNotation string

const (
	NestingBracket NestingNotation = "bracket"
	NestingDot     NestingNotation = "dot"
)

// parseNestingNotation reads serializer.nesting-notation as KETE does: trimmed, any case,
// blank meaning bracket.
func parseNestingNotation(s string) (NestingNotation, error) {
	switch n := NestingNotation(strings.ToLower(strings.TrimSpace(s))); n {
	case "":
		return NestingBracket, nil
	case NestingBracket, NestingDot:
		return n, nil
	}
	return "", &KeyError{Key: "serializer.nesting-notation", Reason: fmt.Sprintf("%q: want bracket or dot", s)}
}

func (n NestingNotation) key(parent, child string) string {
	if n == NestingDot {
		return parent + "." + child
	}
	return parent + "[" + child + "]"
}

// formPairs are the fields KETE's form serializers send, in their order and without the
// null ones (MultipartFormSerializer.java and UrlEncodedFormSerializer.java, buildEventPairs
// and buildAdminEventPairs): this order differs from the Jackson kinds', with time after
// error, and admin events carry no resourceTypeAsString.
func formPairs(e *kete.Event, n NestingNotation) []pair {
	out := make([]pair, 0, 16)
	add := func(k, v string) {
		if v != "" {
			out = append(out, pair{k, validUTF8(v)})
		}
	}
	add("id", e.ID)
	if e.Kind == kete.KindAdminEvent {
		add("operationType", e.OperationType)
		add("resourceType", e.ResourceType)
		add("realmId", e.RealmID)
		add("realmName", e.RealmName)
		add("resourcePath", e.ResourcePath)
		add("representation", e.Representation)
		add("error", e.Error)
		add("time", strconv.FormatInt(e.Time, 10))
		if a := e.AuthDetails; a != nil {
			add(n.key("authDetails", "realmId"), a.RealmID)
			add(n.key("authDetails", "realmName"), authRealmName(e))
			add(n.key("authDetails", "clientId"), a.ClientID)
			add(n.key("authDetails", "userId"), a.UserID)
			add(n.key("authDetails", "ipAddress"), a.IPAddress)
		}
		return out
	}
	add("type", e.Type)
	add("realmId", e.RealmID)
	add("realmName", e.RealmName)
	add("clientId", e.ClientID)
	add("userId", e.UserID)
	add("sessionId", e.SessionID)
	add("ipAddress", e.IPAddress)
	add("error", e.Error)
	add("time", strconv.FormatInt(e.Time, 10))
	for _, p := range sortedDetails(e.Details) {
		add(n.key("details", p.key), p.value)
	}
	return out
}

// URLEncodedForm writes an event as KETE's UrlEncodedFormSerializer does
// (docs/user-guide/serializers/url-encoded-form.md): name=value pairs joined by "&", each
// encoded as Java's URLEncoder encodes (space as "+", everything but A-Z a-z 0-9 . - * _
// percent-encoded as UTF-8).
type URLEncodedForm struct {
	Nesting NestingNotation
}

// ContentType is application/x-www-form-urlencoded.
func (URLEncodedForm) ContentType() string { return "application/x-www-form-urlencoded" }

// AlwaysUTF8 implements kete.UTF8Serializer: the output is ASCII.
func (URLEncodedForm) AlwaysUTF8() {}

// Serialize appends e as a URL-encoded form to dst.
func (f URLEncodedForm) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	for i, p := range formPairs(e, f.Nesting) {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendJavaURLEncoded(dst, p.key)
		dst = append(dst, '=')
		dst = appendJavaURLEncoded(dst, p.value)
	}
	return dst, nil
}

// appendJavaURLEncoded appends s encoded as java.net.URLEncoder.encode(s, UTF_8) does.
func appendJavaURLEncoded(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '*', c == '_':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&0xF])
		}
	}
	return dst
}

// MultipartBoundary is the boundary KETE's MultipartFormSerializer always uses.
const MultipartBoundary = "kete-boundary"

// MultipartForm writes an event as KETE's MultipartFormSerializer does
// (docs/user-guide/serializers/multipart-form.md): one form-data part per field, lines
// ending in CRLF, boundary kete-boundary. The value is written as is; a field name's
// quote, CR and LF are percent-encoded as the HTML standard encodes them in form-data
// names, so that a detail key cannot break the part header.
type MultipartForm struct {
	Nesting NestingNotation
}

// ContentType is multipart/form-data; boundary=kete-boundary.
func (MultipartForm) ContentType() string {
	return "multipart/form-data; boundary=" + MultipartBoundary
}

// AlwaysUTF8 implements kete.UTF8Serializer: every string is made valid UTF-8 first.
func (MultipartForm) AlwaysUTF8() {}

// Serialize appends e as a multipart form to dst.
func (f MultipartForm) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	for _, p := range formPairs(e, f.Nesting) {
		if strings.Contains(p.value, "--"+MultipartBoundary) {
			return dst, fmt.Errorf("multipart-form: event %s: field %s holds the boundary --%s", e.ID, p.key, MultipartBoundary)
		}
		dst = append(dst, "--"+MultipartBoundary+"\r\nContent-Disposition: form-data; name=\""...)
		for i := 0; i < len(p.key); i++ {
			switch c := p.key[i]; c {
			case '"':
				dst = append(dst, "%22"...)
			case '\r':
				dst = append(dst, "%0D"...)
			case '\n':
				dst = append(dst, "%0A"...)
			default:
				dst = append(dst, c)
			}
		}
		dst = append(dst, "\"\r\n\r\n"...)
		dst = append(dst, p.value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "--"+MultipartBoundary+"--\r\n"...), nil
}
