// Package serializer turns a kete.Event into the bytes a destination sends: JSON (the
// default), CloudEvents, XML, YAML, or text from a Go template.
//
// Every kind writes the same fields, those of Keycloak's EventRepresentation or
// AdminEventRepresentation plus what KETE adds:
//
//	user event:  id, kind, time, type, realmId, realmName, clientId, userId, sessionId,
//	             ipAddress, error, details
//	admin event: id, kind, time, realmId, realmName, authDetails{realmId, clientId, userId,
//	             ipAddress}, operationType, resourceType, resourceTypeAsString, resourcePath,
//	             representation, error
//
// kind (EVENT or ADMIN_EVENT) and time (milliseconds since the epoch) are always written;
// every other field is left out when it is empty, as Keycloak leaves out null fields.
// resourceTypeAsString repeats resourceType, as KETE's JSON does. representation is
// Keycloak's JSON text of the changed resource, carried as a string.
package serializer

import (
	"fmt"
	"strings"

	"github.com/kete-dev/kete"
)

// Kind names, as written in a route's serializer.kind.
const (
	KindJSON        = "json"
	KindCloudEvents = "cloudevents"
	KindXML         = "xml"
	KindYAML        = "yaml"
	KindTemplate    = "template"
)

// Kinds lists the serializer kinds New knows, for documentation and error messages.
func Kinds() []string {
	return []string{KindJSON, KindCloudEvents, KindXML, KindYAML, KindTemplate}
}

// New returns the serializer for kind, ignoring case and surrounding space; a blank kind
// is json. templateText is the route's serializer.template: required by the template
// kind, and an error for every other kind, so that a template set on the wrong kind is
// reported rather than ignored.
func New(kind, templateText string) (kete.Serializer, error) {
	k := strings.ToLower(strings.TrimSpace(kind))
	if k == "" {
		k = KindJSON
	}
	if k != KindTemplate && strings.TrimSpace(templateText) != "" {
		return nil, fmt.Errorf("serializer kind %q: serializer.template is set but only the %q kind uses it", k, KindTemplate)
	}
	switch k {
	case KindJSON:
		return JSON{}, nil
	case KindCloudEvents:
		return CloudEvents{}, nil
	case KindXML:
		return XML{}, nil
	case KindYAML:
		return YAML{}, nil
	case KindTemplate:
		return NewTemplate(templateText)
	}
	return nil, fmt.Errorf("serializer kind %q: unknown, want one of %s", kind, strings.Join(Kinds(), ", "))
}
