package serializer

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kete-dev/kete"
)

// Protobuf writes an event as KETE's ProtobufSerializer does
// (docs/user-guide/serializers/protobuf.md): the proto3 wire encoding of the message
// io.github.fortunen.kete.events.Event or AdminEvent of KETE's schemas/protobuf/*.proto,
// quoted below with their field numbers. As in proto3, an empty string is not written
// (the receiver reads ""), fields are written in number order, and details entries in
// key order.
//
//	message Event {
//	  string id = 1; int64 time = 2; string type = 3; string realm_id = 4;
//	  string realm_name = 5; string client_id = 6; string user_id = 7;
//	  string session_id = 8; string ip_address = 9; string error = 10;
//	  map<string, string> details = 11;
//	}
//	message AdminEvent {
//	  string id = 1; int64 time = 2; string realm_id = 3; string realm_name = 4;
//	  AuthDetails auth_details = 5; string resource_type = 6; string operation_type = 7;
//	  string resource_path = 8; string representation = 9; string error = 10;
//	  map<string, string> details = 11;
//	}
//	message AuthDetails {
//	  string realm_id = 1; string realm_name = 2; string client_id = 3;
//	  string user_id = 4; string ip_address = 5;
//	}
//
// The messages are written with protowire, the wire-format package of
// google.golang.org/protobuf: no generated code, as KETE builds DynamicMessages.
type Protobuf struct{}

// ContentType is application/x-protobuf.
func (Protobuf) ContentType() string { return "application/x-protobuf" }

// Serialize appends e's protobuf encoding to dst.
func (Protobuf) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	dst = appendProtoString(dst, 1, e.ID)
	if e.Time != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(e.Time))
	}
	if e.Kind == kete.KindAdminEvent {
		dst = appendProtoString(dst, 3, e.RealmID)
		dst = appendProtoString(dst, 4, e.RealmName)
		if a := e.AuthDetails; a != nil {
			var m []byte
			m = appendProtoString(m, 1, a.RealmID)
			m = appendProtoString(m, 2, authRealmName(e))
			m = appendProtoString(m, 3, a.ClientID)
			m = appendProtoString(m, 4, a.UserID)
			m = appendProtoString(m, 5, a.IPAddress)
			dst = protowire.AppendTag(dst, 5, protowire.BytesType)
			dst = protowire.AppendBytes(dst, m) // a set message field is written even when empty
		}
		dst = appendProtoString(dst, 6, e.ResourceType)
		dst = appendProtoString(dst, 7, e.OperationType)
		dst = appendProtoString(dst, 8, e.ResourcePath)
		dst = appendProtoString(dst, 9, e.Representation)
		return appendProtoString(dst, 10, e.Error), nil
	}
	dst = appendProtoString(dst, 3, e.Type)
	dst = appendProtoString(dst, 4, e.RealmID)
	dst = appendProtoString(dst, 5, e.RealmName)
	dst = appendProtoString(dst, 6, e.ClientID)
	dst = appendProtoString(dst, 7, e.UserID)
	dst = appendProtoString(dst, 8, e.SessionID)
	dst = appendProtoString(dst, 9, e.IPAddress)
	dst = appendProtoString(dst, 10, e.Error)
	for _, p := range sortedDetails(e.Details) {
		// A map entry is a message with key = 1 and value = 2.
		var entry []byte
		entry = appendProtoString(entry, 1, p.key)
		entry = appendProtoString(entry, 2, p.value)
		dst = protowire.AppendTag(dst, 11, protowire.BytesType)
		dst = protowire.AppendBytes(dst, entry)
	}
	return dst, nil
}

// appendProtoString appends field num as a proto3 string, unless s is empty; strings are
// made valid UTF-8, which proto3 requires of them.
func appendProtoString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, validUTF8(s))
}
