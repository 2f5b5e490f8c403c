package serializer_test

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kete-dev/kete"
)

// keteProtoFile is KETE's schemas/protobuf/event.proto, admin_event.proto and
// auth_details.proto (package io.github.fortunen.kete.events) as one descriptor: the
// field names, numbers and types a receiver compiles.
func keteProtoFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	field := func(name string, num int32, typ *descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ, Label: opt, JsonName: proto.String(name)}
	}
	msgField := func(name string, num int32, typeName string, label *descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
			TypeName: proto.String(typeName), Label: label, JsonName: proto.String(name)}
	}
	detailsEntry := &descriptorpb.DescriptorProto{
		Name:    proto.String("DetailsEntry"),
		Field:   []*descriptorpb.FieldDescriptorProto{field("key", 1, str), field("value", 2, str)},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String("kete_events.proto"), Package: proto.String("io.github.fortunen.kete.events"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("AuthDetails"), Field: []*descriptorpb.FieldDescriptorProto{
				field("realm_id", 1, str), field("realm_name", 2, str), field("client_id", 3, str), field("user_id", 4, str), field("ip_address", 5, str)}},
			{Name: proto.String("Event"), Field: []*descriptorpb.FieldDescriptorProto{
				field("id", 1, str), field("time", 2, i64), field("type", 3, str), field("realm_id", 4, str), field("realm_name", 5, str),
				field("client_id", 6, str), field("user_id", 7, str), field("session_id", 8, str), field("ip_address", 9, str),
				field("error", 10, str), msgField("details", 11, ".io.github.fortunen.kete.events.Event.DetailsEntry", rep)},
				NestedType: []*descriptorpb.DescriptorProto{detailsEntry}},
			{Name: proto.String("AdminEvent"), Field: []*descriptorpb.FieldDescriptorProto{
				field("id", 1, str), field("time", 2, i64), field("realm_id", 3, str), field("realm_name", 4, str),
				msgField("auth_details", 5, ".io.github.fortunen.kete.events.AuthDetails", opt),
				field("resource_type", 6, str), field("operation_type", 7, str), field("resource_path", 8, str),
				field("representation", 9, str), field("error", 10, str),
				msgField("details", 11, ".io.github.fortunen.kete.events.AdminEvent.DetailsEntry", rep)},
				NestedType: []*descriptorpb.DescriptorProto{detailsEntry}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatalf("descriptor: %v", err)
	}
	return f
}

// protoMap is the populated fields of m, by name.
func protoMap(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			d := map[string]any{}
			v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				d[k.String()] = v.String()
				return true
			})
			out[string(fd.Name())] = d
		case fd.Kind() == protoreflect.MessageKind:
			out[string(fd.Name())] = protoMap(v.Message())
		case fd.Kind() == protoreflect.Int64Kind:
			out[string(fd.Name())] = v.Int()
		default:
			out[string(fd.Name())] = v.String()
		}
		return true
	})
	return out
}

// TestProtobufSubscriberDecodes: a receiver with KETE's .proto files
// (docs/user-guide/serializers/protobuf.md) decodes the documented events; proto3 leaves
// out what is empty.
func TestProtobufSubscriberDecodes(t *testing.T) {
	f := keteProtoFile(t)
	for _, tt := range []struct {
		message string
		event   *kete.Event
		want    map[string]any
	}{
		{"Event", keteDocUserEvent(), map[string]any{
			"id": "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f", "time": int64(1704816000000), "type": "LOGIN", "realm_id": "master",
			"realm_name": "master", "client_id": "my-app", "user_id": "550e8400-e29b-41d4-a716-446655440000",
			"session_id": "abc-session-123", "ip_address": "192.168.1.100",
			"details": map[string]any{"username": "john.doe", "remember_me": "true"},
		}},
		{"AdminEvent", keteDocAdminEvent(), map[string]any{
			"id": "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e", "time": int64(1704816000000), "realm_id": "master", "realm_name": "master",
			"auth_details":  map[string]any{"realm_id": "master", "realm_name": "master", "client_id": "admin-cli", "user_id": "admin-uuid", "ip_address": "192.168.1.100"},
			"resource_type": "USER", "operation_type": "CREATE", "resource_path": "users/user-uuid",
			"representation": `{"username":"newuser"}`,
		}},
		{"AdminEvent", &kete.Event{Kind: kete.KindAdminEvent, Time: -1, Error: "boom", AuthDetails: &kete.AuthDetails{}}, map[string]any{
			"time": int64(-1), "error": "boom", "auth_details": map[string]any{},
		}},
	} {
		b := serialize(t, mustNew(t, "protobuf", ""), tt.event)
		md := f.Messages().ByName(protoreflect.Name(tt.message))
		m := dynamicpb.NewMessage(md)
		if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, m); err != nil {
			t.Fatalf("%s: %v", tt.message, err)
		}
		if len(m.GetUnknown()) > 0 {
			t.Errorf("%s: unknown fields % X", tt.message, m.GetUnknown())
		}
		if got := protoMap(m); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s decodes to\n%#v\nwant\n%#v", tt.message, got, tt.want)
		}
		// Deterministic marshaling by the library writes the same bytes (field order,
		// map entries sorted).
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil || string(again) != string(b) {
			t.Errorf("%s: kete % X\nprotobuf-go % X", tt.message, b, again)
		}
	}
}
