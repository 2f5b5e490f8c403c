package serializer

import (
	"encoding/xml"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kete-dev/kete"
)

// userDocument and adminDocument give XML and YAML the JSON serializer's fields, in its
// order. XML writes details as <details><entry key="…">value</entry></details>, because
// detail keys need not be valid element names.
type userDocument struct {
	XMLName    xml.Name          `xml:"event" yaml:"-"`
	ID         string            `xml:"id,omitempty" yaml:"id,omitempty"`
	Kind       string            `xml:"kind" yaml:"kind"`
	Time       int64             `xml:"time" yaml:"time"`
	Type       string            `xml:"type,omitempty" yaml:"type,omitempty"`
	RealmID    string            `xml:"realmId,omitempty" yaml:"realmId,omitempty"`
	RealmName  string            `xml:"realmName,omitempty" yaml:"realmName,omitempty"`
	ClientID   string            `xml:"clientId,omitempty" yaml:"clientId,omitempty"`
	UserID     string            `xml:"userId,omitempty" yaml:"userId,omitempty"`
	SessionID  string            `xml:"sessionId,omitempty" yaml:"sessionId,omitempty"`
	IPAddress  string            `xml:"ipAddress,omitempty" yaml:"ipAddress,omitempty"`
	Error      string            `xml:"error,omitempty" yaml:"error,omitempty"`
	Details    map[string]string `xml:"-" yaml:"details,omitempty"`
	XMLDetails []xmlEntry        `xml:"details>entry,omitempty" yaml:"-"`
}

type xmlEntry struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

type adminDocument struct {
	XMLName              xml.Name      `xml:"adminEvent" yaml:"-"`
	ID                   string        `xml:"id,omitempty" yaml:"id,omitempty"`
	Kind                 string        `xml:"kind" yaml:"kind"`
	Time                 int64         `xml:"time" yaml:"time"`
	RealmID              string        `xml:"realmId,omitempty" yaml:"realmId,omitempty"`
	RealmName            string        `xml:"realmName,omitempty" yaml:"realmName,omitempty"`
	AuthDetails          *authDocument `xml:"authDetails,omitempty" yaml:"authDetails,omitempty"`
	OperationType        string        `xml:"operationType,omitempty" yaml:"operationType,omitempty"`
	ResourceType         string        `xml:"resourceType,omitempty" yaml:"resourceType,omitempty"`
	ResourceTypeAsString string        `xml:"resourceTypeAsString,omitempty" yaml:"resourceTypeAsString,omitempty"`
	ResourcePath         string        `xml:"resourcePath,omitempty" yaml:"resourcePath,omitempty"`
	Representation       string        `xml:"representation,omitempty" yaml:"representation,omitempty"`
	Error                string        `xml:"error,omitempty" yaml:"error,omitempty"`
}

type authDocument struct {
	RealmID   string `xml:"realmId,omitempty" yaml:"realmId,omitempty"`
	ClientID  string `xml:"clientId,omitempty" yaml:"clientId,omitempty"`
	UserID    string `xml:"userId,omitempty" yaml:"userId,omitempty"`
	IPAddress string `xml:"ipAddress,omitempty" yaml:"ipAddress,omitempty"`
}

// document returns e's XML/YAML form with every string made valid UTF-8 the way the JSON
// serializer does it (each invalid byte becomes U+FFFD), so that all kinds carry the
// same text.
func document(e *kete.Event) any {
	v := validUTF8
	if e.Kind == kete.KindAdminEvent {
		d := &adminDocument{
			ID: v(e.ID), Kind: v(string(e.Kind)), Time: e.Time, RealmID: v(e.RealmID), RealmName: v(e.RealmName),
			OperationType: v(e.OperationType), ResourceType: v(e.ResourceType), ResourceTypeAsString: v(e.ResourceType),
			ResourcePath: v(e.ResourcePath), Representation: v(e.Representation), Error: v(e.Error),
		}
		if a := e.AuthDetails; a != nil {
			d.AuthDetails = &authDocument{RealmID: v(a.RealmID), ClientID: v(a.ClientID), UserID: v(a.UserID), IPAddress: v(a.IPAddress)}
		}
		return d
	}
	d := &userDocument{
		ID: v(e.ID), Kind: v(string(e.Kind)), Time: e.Time, Type: v(e.Type), RealmID: v(e.RealmID), RealmName: v(e.RealmName),
		ClientID: v(e.ClientID), UserID: v(e.UserID), SessionID: v(e.SessionID), IPAddress: v(e.IPAddress), Error: v(e.Error),
	}
	if len(e.Details) > 0 {
		d.Details = make(map[string]string, len(e.Details))
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			d.Details[v(k)] = v(e.Details[k])
			d.XMLDetails = append(d.XMLDetails, xmlEntry{Key: v(k), Value: v(e.Details[k])})
		}
	}
	return d
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with U+FFFD, as
// encoding/json does (strings.ToValidUTF8 would merge a run of them into one).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
