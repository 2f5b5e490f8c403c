package serializer

import (
	"maps"
	"slices"

	"github.com/kete-dev/kete"
)

// KETE serializes Keycloak's own org.keycloak.events.Event and admin.AdminEvent with
// Jackson (JsonSerializer.java, XmlSerializer.java, … in FortuneN/kete), so every
// structured kind writes the same properties in the same order, nulls included:
//
//	user event:  id, time, type, realmId, realmName, clientId, userId, sessionId,
//	             ipAddress, error, details
//	admin event: id, time, realmId, realmName, authDetails{realmId, realmName, clientId,
//	             userId, ipAddress}, resourceType, operationType, resourcePath,
//	             representation, error, resourceTypeAsString
//
// (docs/user-guide/serializers/json.md, yaml.md, xml.md, toml.md, properties.md).
// An empty string in a kete.Event is Keycloak's null. shape builds that list once per
// event for the kinds that walk it (xml, yaml, toml, properties, csv, cbor, smile); json
// writes the same order by hand, for speed.

// valueKind is what a node of the shape holds.
type valueKind uint8

const (
	nullValue   valueKind = iota
	stringValue           // str
	longValue             // num
	mapValue              // pairs: details, keys sorted
	objectValue           // children: authDetails
)

// node is one property of KETE's shape.
type node struct {
	name     string
	kind     valueKind
	str      string
	num      int64
	pairs    []pair
	children []node
}

// pair is one entry of a details map.
type pair struct{ key, value string }

func strNode(name, v string) node {
	if v == "" {
		return node{name: name}
	}
	return node{name: name, kind: stringValue, str: validUTF8(v)}
}

// shape returns e's properties in KETE's order.
func shape(e *kete.Event) []node {
	if e.Kind == kete.KindAdminEvent {
		auth := node{name: "authDetails"}
		if a := e.AuthDetails; a != nil {
			auth = node{name: "authDetails", kind: objectValue, children: []node{
				strNode("realmId", a.RealmID),
				strNode("realmName", authRealmName(e)),
				strNode("clientId", a.ClientID),
				strNode("userId", a.UserID),
				strNode("ipAddress", a.IPAddress),
			}}
		}
		return []node{
			strNode("id", e.ID),
			{name: "time", kind: longValue, num: e.Time},
			strNode("realmId", e.RealmID),
			strNode("realmName", e.RealmName),
			auth,
			strNode("resourceType", e.ResourceType),
			strNode("operationType", e.OperationType),
			strNode("resourcePath", e.ResourcePath),
			strNode("representation", e.Representation),
			strNode("error", e.Error),
			strNode("resourceTypeAsString", e.ResourceType),
		}
	}
	details := node{name: "details"}
	if len(e.Details) > 0 {
		details = node{name: "details", kind: mapValue, pairs: sortedDetails(e.Details)}
	}
	return []node{
		strNode("id", e.ID),
		{name: "time", kind: longValue, num: e.Time},
		strNode("type", e.Type),
		strNode("realmId", e.RealmID),
		strNode("realmName", e.RealmName),
		strNode("clientId", e.ClientID),
		strNode("userId", e.UserID),
		strNode("sessionId", e.SessionID),
		strNode("ipAddress", e.IPAddress),
		strNode("error", e.Error),
		details,
	}
}

// sortedDetails returns m's entries in key order, made valid UTF-8. Keycloak keeps details
// in a HashMap, whose order KETE does not promise; kete sorts, so that the same event
// always serializes to the same bytes.
func sortedDetails(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pair{validUTF8(k), validUTF8(m[k])})
	}
	return out
}

// authRealmName is authDetails.realmName. Keycloak's AuthDetails carries the name of the
// realm the acting admin signed in to (org.keycloak.events.admin.AuthDetails#getRealmName),
// but the admin REST API and the webhook payloads give only its id; kete knows the event
// realm's name, so the name is filled when the admin acted in that same realm, else null.
func authRealmName(e *kete.Event) string {
	if a := e.AuthDetails; a != nil && a.RealmID != "" && (a.RealmID == e.RealmID || a.RealmID == e.RealmName) {
		return e.RealmName
	}
	return ""
}
