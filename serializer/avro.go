package serializer

import (
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/kete-dev/kete"
)

// Avro writes an event as KETE's AvroSerializer does (docs/user-guide/serializers/avro.md):
// Avro's binary encoding of one record, with no container header, so a consumer needs
// the schema: io.github.fortunen.kete.events.Event or AdminEvent below (KETE's
// schemas/avro/event.avsc and admin_event.avsc), snake_case fields, every one a
// ["null", T] union defaulting to null. A missing value is null, not "".
//
// The admin schema has no details and no resource_type_as_string; resource_type is
// Keycloak's getResourceTypeAsString. Details entries come in Go's map order, as hamba/avro
// writes maps (Avro maps have no order), so unlike the other kinds the bytes of one event
// may differ between two sends; what a consumer decodes does not.
type Avro struct{}

// ContentType is application/avro.
func (Avro) ContentType() string { return "application/avro" }

// AvroEventSchema is KETE's schemas/avro/event.avsc.
const AvroEventSchema = `{
  "type": "record",
  "name": "Event",
  "namespace": "io.github.fortunen.kete.events",
  "fields": [
    { "name": "id",         "type": ["null", "string"], "default": null },
    { "name": "time",       "type": ["null", "long"],   "default": null },
    { "name": "type",       "type": ["null", "string"], "default": null },
    { "name": "realm_id",   "type": ["null", "string"], "default": null },
    { "name": "realm_name", "type": ["null", "string"], "default": null },
    { "name": "client_id",  "type": ["null", "string"], "default": null },
    { "name": "user_id",    "type": ["null", "string"], "default": null },
    { "name": "session_id", "type": ["null", "string"], "default": null },
    { "name": "ip_address", "type": ["null", "string"], "default": null },
    { "name": "error",      "type": ["null", "string"], "default": null },
    { "name": "details",    "type": ["null", { "type": "map", "values": "string" }], "default": null }
  ]
}`

// AvroAdminEventSchema is KETE's schemas/avro/admin_event.avsc.
const AvroAdminEventSchema = `{
  "type": "record",
  "name": "AdminEvent",
  "namespace": "io.github.fortunen.kete.events",
  "fields": [
    { "name": "id",              "type": ["null", "string"], "default": null },
    { "name": "time",            "type": ["null", "long"],   "default": null },
    { "name": "realm_id",        "type": ["null", "string"], "default": null },
    { "name": "realm_name",      "type": ["null", "string"], "default": null },
    {
      "name": "auth_details",
      "type": ["null", {
        "type": "record",
        "name": "AuthDetails",
        "fields": [
          { "name": "realm_id",   "type": ["null", "string"], "default": null },
          { "name": "realm_name", "type": ["null", "string"], "default": null },
          { "name": "client_id",  "type": ["null", "string"], "default": null },
          { "name": "user_id",    "type": ["null", "string"], "default": null },
          { "name": "ip_address", "type": ["null", "string"], "default": null }
        ]
      }],
      "default": null
    },
    { "name": "resource_type",   "type": ["null", "string"], "default": null },
    { "name": "operation_type",  "type": ["null", "string"], "default": null },
    { "name": "resource_path",   "type": ["null", "string"], "default": null },
    { "name": "representation",  "type": ["null", "string"], "default": null },
    { "name": "error",           "type": ["null", "string"], "default": null }
  ]
}`

var (
	avroEventSchema      = avro.MustParse(AvroEventSchema)
	avroAdminEventSchema = avro.MustParse(AvroAdminEventSchema)
)

type avroEvent struct {
	ID        *string            `avro:"id"`
	Time      *int64             `avro:"time"`
	Type      *string            `avro:"type"`
	RealmID   *string            `avro:"realm_id"`
	RealmName *string            `avro:"realm_name"`
	ClientID  *string            `avro:"client_id"`
	UserID    *string            `avro:"user_id"`
	SessionID *string            `avro:"session_id"`
	IPAddress *string            `avro:"ip_address"`
	Error     *string            `avro:"error"`
	Details   *map[string]string `avro:"details"`
}

type avroAdminEvent struct {
	ID             *string          `avro:"id"`
	Time           *int64           `avro:"time"`
	RealmID        *string          `avro:"realm_id"`
	RealmName      *string          `avro:"realm_name"`
	AuthDetails    *avroAuthDetails `avro:"auth_details"`
	ResourceType   *string          `avro:"resource_type"`
	OperationType  *string          `avro:"operation_type"`
	ResourcePath   *string          `avro:"resource_path"`
	Representation *string          `avro:"representation"`
	Error          *string          `avro:"error"`
}

type avroAuthDetails struct {
	RealmID   *string `avro:"realm_id"`
	RealmName *string `avro:"realm_name"`
	ClientID  *string `avro:"client_id"`
	UserID    *string `avro:"user_id"`
	IPAddress *string `avro:"ip_address"`
}

// nullable is nil for Keycloak's null (an empty string), else the valid-UTF-8 string.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	s = validUTF8(s)
	return &s
}

// Serialize appends e's Avro binary encoding to dst.
func (Avro) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	t := e.Time
	var (
		out []byte
		err error
	)
	if e.Kind == kete.KindAdminEvent {
		r := avroAdminEvent{
			ID: nullable(e.ID), Time: &t, RealmID: nullable(e.RealmID), RealmName: nullable(e.RealmName),
			ResourceType: nullable(e.ResourceType), OperationType: nullable(e.OperationType),
			ResourcePath: nullable(e.ResourcePath), Representation: nullable(e.Representation), Error: nullable(e.Error),
		}
		if a := e.AuthDetails; a != nil {
			r.AuthDetails = &avroAuthDetails{RealmID: nullable(a.RealmID), RealmName: nullable(authRealmName(e)),
				ClientID: nullable(a.ClientID), UserID: nullable(a.UserID), IPAddress: nullable(a.IPAddress)}
		}
		out, err = avro.Marshal(avroAdminEventSchema, r)
	} else {
		r := avroEvent{
			ID: nullable(e.ID), Time: &t, Type: nullable(e.Type), RealmID: nullable(e.RealmID), RealmName: nullable(e.RealmName),
			ClientID: nullable(e.ClientID), UserID: nullable(e.UserID), SessionID: nullable(e.SessionID),
			IPAddress: nullable(e.IPAddress), Error: nullable(e.Error),
		}
		if len(e.Details) > 0 {
			m := make(map[string]string, len(e.Details))
			for _, p := range sortedDetails(e.Details) {
				m[p.key] = p.value
			}
			r.Details = &m
		}
		out, err = avro.Marshal(avroEventSchema, r)
	}
	if err != nil {
		return dst, fmt.Errorf("avro: event %s: %w", e.ID, err)
	}
	return append(dst, out...), nil
}
