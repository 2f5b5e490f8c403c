// Package kete holds kete's domain: Keycloak user and admin events, the routes that match
// them, and the interfaces that serializers and destinations implement. It imports no other
// package of this module, so every other package can depend on it.
package kete

import "strings"

// Kind tells a user event from an admin event; templates and serializers name it.
type Kind string

const (
	// KindEvent is a user event such as LOGIN or REGISTER.
	KindEvent Kind = "EVENT"
	// KindAdminEvent is an admin event such as USER_CREATE.
	KindAdminEvent Kind = "ADMIN_EVENT"
)

// Result is derived from an event's error: routes and templates branch on it.
type Result string

const (
	// ResultSuccess means the event's error is blank.
	ResultSuccess Result = "SUCCESS"
	// ResultError means the event carries an error.
	ResultError Result = "ERROR"
)

// AuthDetails says who performed an admin event, as Keycloak's AuthDetailsRepresentation.
type AuthDetails struct {
	RealmID   string `json:"realmId,omitempty" yaml:"realmId,omitempty" xml:"realmId,omitempty"`
	ClientID  string `json:"clientId,omitempty" yaml:"clientId,omitempty" xml:"clientId,omitempty"`
	UserID    string `json:"userId,omitempty" yaml:"userId,omitempty" xml:"userId,omitempty"`
	IPAddress string `json:"ipAddress,omitempty" yaml:"ipAddress,omitempty" xml:"ipAddress,omitempty"`
}

// Event is one Keycloak event, user or admin, in the shape of Keycloak's
// EventRepresentation and AdminEventRepresentation with the realm's name added, so a route
// can match and render by name rather than by the realm's UUID.
//
// Fields that only one kind has stay empty on the other: a user event has no
// ResourceType, an admin event has no Type (use EventType for both).
type Event struct {
	Kind Kind `json:"kind"`
	// ID is Keycloak's event id where it sends one; sources fill a generated one otherwise,
	// so that a receiver can de-duplicate a resent event.
	ID string `json:"id,omitempty"`
	// Time is milliseconds since the Unix epoch, as Keycloak sends it.
	Time      int64  `json:"time"`
	RealmID   string `json:"realmId,omitempty"`
	RealmName string `json:"realmName,omitempty"`
	Error     string `json:"error,omitempty"`

	// User events.
	Type      string            `json:"type,omitempty"`
	ClientID  string            `json:"clientId,omitempty"`
	UserID    string            `json:"userId,omitempty"`
	SessionID string            `json:"sessionId,omitempty"`
	IPAddress string            `json:"ipAddress,omitempty"`
	Details   map[string]string `json:"details,omitempty"`

	// Admin events.
	OperationType  string       `json:"operationType,omitempty"`
	ResourceType   string       `json:"resourceType,omitempty"`
	ResourcePath   string       `json:"resourcePath,omitempty"`
	Representation string       `json:"representation,omitempty"`
	AuthDetails    *AuthDetails `json:"authDetails,omitempty"`
}

// Result is SUCCESS when the event's error is blank, else ERROR.
func (e *Event) Result() Result {
	if strings.TrimSpace(e.Error) == "" {
		return ResultSuccess
	}
	return ResultError
}

// EventType is the name event matchers and templates see: the user event's type, or
// RESOURCETYPE_OPERATIONTYPE (USER_CREATE) for an admin event, as KETE names them.
func (e *Event) EventType() string {
	if e.Kind == KindAdminEvent {
		return e.ResourceType + "_" + e.OperationType
	}
	return e.Type
}

// Realm is the name realm matchers and templates see: the realm's name when the source
// knew it, else its id.
func (e *Event) Realm() string {
	if e.RealmName != "" {
		return e.RealmName
	}
	return e.RealmID
}
