package serializer_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/hamba/avro/v2"
	"github.com/magiconair/properties"
	"github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// keteShape is what a receiver of KETE's Jackson-based kinds decodes for the documented
// events (docs/user-guide/serializers/json.md): every property, null where Keycloak has
// none.
func keteShape(admin bool) map[string]any {
	if admin {
		return map[string]any{
			"id": "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e", "time": int64(1704816000000), "realmId": "master", "realmName": "master",
			"authDetails":  map[string]any{"realmId": "master", "realmName": "master", "clientId": "admin-cli", "userId": "admin-uuid", "ipAddress": "192.168.1.100"},
			"resourceType": "USER", "operationType": "CREATE", "resourcePath": "users/user-uuid",
			"representation": `{"username":"newuser"}`, "error": nil, "resourceTypeAsString": "USER",
		}
	}
	return map[string]any{
		"id": "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f", "time": int64(1704816000000), "type": "LOGIN", "realmId": "master",
		"realmName": "master", "clientId": "my-app", "userId": "550e8400-e29b-41d4-a716-446655440000",
		"sessionId": "abc-session-123", "ipAddress": "192.168.1.100", "error": nil,
		"details": map[string]any{"username": "john.doe", "remember_me": "true"},
	}
}

// normalize makes decoded values comparable: every integer an int64, every map a
// map[string]any.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	case *smileObject:
		return normalize(x.values)
	case json.Number:
		n, _ := x.Int64()
		return n
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	}
	return v
}

// flatten is m with nested maps as dotted keys, and null as nullText: the view of CSV,
// TOML (for null) and properties.
func flatten(m map[string]any, nullText any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			for ck, cv := range flatten(x, nullText) {
				out[k+"."+ck] = cv
			}
		case nil:
			out[k] = nullText
		default:
			out[k] = x
		}
	}
	return out
}

// stringify is m with every leaf a string, as text formats without types decode it.
func stringify(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			out[k] = stringify(x)
		case int64:
			out[k] = strconv.FormatInt(x, 10)
		default:
			out[k] = x
		}
	}
	return out
}

// xmlTree decodes an element: text for a leaf, nil for an empty element, a map of its
// children otherwise.
func xmlTree(d *xml.Decoder) (any, error) {
	var text strings.Builder
	var children map[string]any
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v, err := xmlTree(d)
			if err != nil {
				return nil, err
			}
			if children == nil {
				children = map[string]any{}
			}
			children[t.Name.Local] = v
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if children != nil {
				return children, nil
			}
			if text.Len() == 0 {
				return nil, nil
			}
			return text.String(), nil
		}
	}
}

type decoded struct {
	root string // XML root element
	v    map[string]any
}

// receivers decode each kind as a subscriber would, with the format's library.
var receivers = map[string]func(t *testing.T, b []byte) decoded{
	"json": func(t *testing.T, b []byte) decoded {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return decoded{v: normalize(m).(map[string]any)}
	},
	"yaml": func(t *testing.T, b []byte) decoded {
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return decoded{v: normalize(m).(map[string]any)}
	},
	"xml": func(t *testing.T, b []byte) decoded {
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				v, err := xmlTree(d)
				if err != nil {
					t.Fatal(err)
				}
				return decoded{root: se.Name.Local, v: v.(map[string]any)}
			}
		}
	},
	"toml": func(t *testing.T, b []byte) decoded {
		var m map[string]any
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return decoded{v: normalize(m).(map[string]any)}
	},
	"properties": func(t *testing.T, b []byte) decoded {
		l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
		p, err := l.LoadBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		return decoded{v: normalize(p.Map()).(map[string]any)}
	},
	"csv": func(t *testing.T, b []byte) decoded {
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("%d rows, %v", len(rows), err)
		}
		m := map[string]any{}
		for i, h := range rows[0] {
			m[h] = rows[1][i]
		}
		return decoded{v: m}
	},
	"cbor": func(t *testing.T, b []byte) decoded {
		dm, err := cbor.DecOptions{DefaultMapType: reflect.TypeFor[map[string]any]()}.DecMode()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := dm.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return decoded{v: normalize(m).(map[string]any)}
	},
	"smile": func(t *testing.T, b []byte) decoded {
		v, err := decodeSmile(b)
		if err != nil {
			t.Fatalf("% X: %v", b, err)
		}
		return decoded{v: normalize(v).(map[string]any)}
	},
}

// TestSubscriberDecodes: what each Jackson-based kind writes for KETE's documented
// events, a receiver decodes with the format's own library into KETE's shape.
func TestSubscriberDecodes(t *testing.T) {
	wants := map[string]func(m map[string]any) map[string]any{
		"json":  func(m map[string]any) map[string]any { return m },
		"yaml":  func(m map[string]any) map[string]any { return m },
		"cbor":  func(m map[string]any) map[string]any { return m },
		"smile": func(m map[string]any) map[string]any { return m },
		"xml":   stringify,
		// TOML has no null: KETE's Jackson writes ''.
		"toml": func(m map[string]any) map[string]any {
			for k, v := range m {
				if v == nil {
					m[k] = ""
				}
			}
			return m
		},
		"properties": func(m map[string]any) map[string]any { return stringify(flatten(m, "")) },
		// CSV cells are text; details and authDetails stay empty (see CSV).
		"csv": func(m map[string]any) map[string]any {
			out := stringify(m)
			for k, v := range out {
				if _, nested := v.(map[string]any); nested || v == nil {
					out[k] = ""
				}
			}
			return out
		},
	}
	for kind, receive := range receivers {
		for _, admin := range []bool{false, true} {
			e, root := keteDocUserEvent(), "Event"
			if admin {
				e, root = keteDocAdminEvent(), "AdminEvent"
			}
			t.Run(fmt.Sprintf("%s/%s", kind, root), func(t *testing.T) {
				got := receive(t, serialize(t, mustNew(t, kind, ""), e))
				want := wants[kind](keteShape(admin))
				if !reflect.DeepEqual(got.v, want) {
					t.Errorf("%s decodes to\n%#v\nwant\n%#v", kind, got.v, want)
				}
				if kind == "xml" && got.root != root {
					t.Errorf("XML root <%s>, want <%s>", got.root, root)
				}
			})
		}
	}
}

// TestSmileSharedNames: a name written twice is a back-reference the decoder resolves
// (authDetails repeats realmId, realmName, clientId, userId and ipAddress), and a long
// or non-ASCII name and value round-trip.
func TestSmileSharedNames(t *testing.T) {
	long := strings.Repeat("k", 70)
	e := keteDocUserEvent()
	e.Details = map[string]string{long: strings.Repeat("v", 70), "ключ": "значение", "é": strings.Repeat("é", 40), "n": ""}
	b := serialize(t, mustNew(t, "smile", ""), e)
	v, err := decodeSmile(b)
	if err != nil {
		t.Fatalf("% X: %v", b, err)
	}
	o := v.(*smileObject)
	if want := "id time type realmId realmName clientId userId sessionId ipAddress error details"; strings.Join(o.keys, " ") != want {
		t.Errorf("keys %v, want %s", o.keys, want)
	}
	want := map[string]any{long: strings.Repeat("v", 70), "ключ": "значение", "é": strings.Repeat("é", 40), "n": nil}
	want["n"] = "" // an empty detail is "" (0x20), not null
	if got := normalize(o.values["details"]); !reflect.DeepEqual(got, normalize(want)) {
		t.Errorf("details %v, want %v", got, want)
	}

	a := serialize(t, mustNew(t, "smile", ""), keteDocAdminEvent())
	// "realmId" is written once as a name (0x86 realmId) and then referenced (0x42: the
	// third name in the table, after id and time).
	if bytes.Count(a, []byte("realmId")) != 1 || !bytes.Contains(a, []byte{0xFA, 0x42}) {
		t.Errorf("realmId not shared in % X", a)
	}
	if _, err := decodeSmile(a); err != nil {
		t.Fatal(err)
	}
	// Integers: small, 32-bit and 64-bit, negative too.
	for _, tm := range []int64{0, 15, -16, 16, -17, 1 << 30, -1 << 31, 1<<31 - 1, 1 << 31, -1 << 62, 1<<63 - 1, -1 << 63} {
		e := &kete.Event{Kind: kete.KindEvent, Time: tm}
		v, err := decodeSmile(serialize(t, mustNew(t, "smile", ""), e))
		if err != nil {
			t.Fatalf("time %d: %v", tm, err)
		}
		if got := v.(*smileObject).values["time"]; got != tm {
			t.Errorf("time %d decodes to %v", tm, got)
		}
	}
}

// TestAvroSubscriberDecodes: a consumer with KETE's schema (schemas/avro/*.avsc, quoted
// in docs/user-guide/serializers/avro.md) decodes the documented events, snake_case,
// with null for what is missing.
func TestAvroSubscriberDecodes(t *testing.T) {
	for _, tt := range []struct {
		schema string
		event  *kete.Event
		want   map[string]any
	}{
		{serializer.AvroEventSchema, keteDocUserEvent(), map[string]any{
			"id": "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f", "time": int64(1704816000000), "type": "LOGIN", "realm_id": "master",
			"realm_name": "master", "client_id": "my-app", "user_id": "550e8400-e29b-41d4-a716-446655440000",
			"session_id": "abc-session-123", "ip_address": "192.168.1.100", "error": nil,
			"details": map[string]any{"username": "john.doe", "remember_me": "true"},
		}},
		{serializer.AvroAdminEventSchema, keteDocAdminEvent(), map[string]any{
			"id": "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e", "time": int64(1704816000000), "realm_id": "master", "realm_name": "master",
			"auth_details":  map[string]any{"realm_id": "master", "realm_name": "master", "client_id": "admin-cli", "user_id": "admin-uuid", "ip_address": "192.168.1.100"},
			"resource_type": "USER", "operation_type": "CREATE", "resource_path": "users/user-uuid",
			"representation": `{"username":"newuser"}`, "error": nil,
		}},
		{serializer.AvroEventSchema, &kete.Event{Kind: kete.KindEvent, Type: "LOGOUT", Time: 5}, map[string]any{
			"id": nil, "time": int64(5), "type": "LOGOUT", "realm_id": nil, "realm_name": nil, "client_id": nil, "user_id": nil,
			"session_id": nil, "ip_address": nil, "error": nil, "details": nil,
		}},
	} {
		b := serialize(t, mustNew(t, "avro", ""), tt.event)
		var got map[string]any
		if err := avro.Unmarshal(avro.MustParse(tt.schema), b, &got); err != nil {
			t.Fatalf("avro: %v", err)
		}
		if n := normalize(unwrapAvroUnions(got)); !reflect.DeepEqual(n, tt.want) {
			t.Errorf("avro decodes to\n%#v\nwant\n%#v", n, tt.want)
		}
	}
}

// unwrapAvroUnions turns hamba's generic union values ({"string": "x"}) into the value.
func unwrapAvroUnions(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if len(m) == 1 {
		for k, inner := range m {
			switch k {
			case "string", "long", "map", "io.github.fortunen.kete.events.AuthDetails":
				return unwrapAvroUnions(inner)
			}
		}
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = unwrapAvroUnions(e)
	}
	return out
}

// TestFormSubscriberDecodes: a form receiver (Go's mime/multipart and net/url) reads the
// fields KETE's form serializers send, in both nesting notations.
func TestFormSubscriberDecodes(t *testing.T) {
	wantUser := func(n string) [][2]string {
		key := func(c string) string {
			if n == "dot" {
				return "details." + c
			}
			return "details[" + c + "]"
		}
		return [][2]string{{"id", "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f"}, {"type", "LOGIN"}, {"realmId", "master"},
			{"realmName", "master"}, {"clientId", "my-app"}, {"userId", "550e8400-e29b-41d4-a716-446655440000"},
			{"sessionId", "abc-session-123"}, {"ipAddress", "192.168.1.100"}, {"time", "1704816000000"},
			{key("remember_me"), "true"}, {key("username"), "john.doe"}}
	}
	wantAdmin := [][2]string{{"id", "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e"}, {"operationType", "CREATE"}, {"resourceType", "USER"},
		{"realmId", "master"}, {"realmName", "master"}, {"resourcePath", "users/user-uuid"},
		{"representation", `{"username":"newuser"}`}, {"time", "1704816000000"},
		{"authDetails[realmId]", "master"}, {"authDetails[realmName]", "master"}, {"authDetails[clientId]", "admin-cli"},
		{"authDetails[userId]", "admin-uuid"}, {"authDetails[ipAddress]", "192.168.1.100"}}
	tricky := &kete.Event{Kind: kete.KindEvent, Type: "LOGIN", Time: 1, Details: map[string]string{"q\"k\r\n": "a b&c=d/é*~\r\n--x"}}

	for _, kind := range []string{"multipart-form", "url-encoded-form"} {
		for _, n := range []string{"bracket", "dot"} {
			s, err := serializer.Build(serializer.Options{Kind: kind, NestingNotation: n})
			if err != nil {
				t.Fatal(err)
			}
			read := func(b []byte) [][2]string {
				t.Helper()
				var got [][2]string
				if kind == "url-encoded-form" {
					for _, kv := range strings.Split(string(b), "&") {
						k, v, _ := strings.Cut(kv, "=")
						k, err1 := url.QueryUnescape(k)
						v, err2 := url.QueryUnescape(v)
						if err1 != nil || err2 != nil {
							t.Fatalf("%s: %v %v", b, err1, err2)
						}
						got = append(got, [2]string{k, v})
					}
					return got
				}
				_, params, err := mime.ParseMediaType(s.ContentType())
				if err != nil {
					t.Fatal(err)
				}
				r := multipart.NewReader(bytes.NewReader(b), params["boundary"])
				for {
					p, err := r.NextPart()
					if err == io.EOF {
						return got
					}
					if err != nil {
						t.Fatalf("%q: %v", b, err)
					}
					v, _ := io.ReadAll(p)
					got = append(got, [2]string{p.FormName(), string(v)})
				}
			}
			if got, want := read(serialize(t, s, keteDocUserEvent())), wantUser(n); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s user: %v\nwant %v", kind, n, got, want)
			}
			if n == "bracket" {
				if got := read(serialize(t, s, keteDocAdminEvent())); !reflect.DeepEqual(got, wantAdmin) {
					t.Errorf("%s admin: %v\nwant %v", kind, got, wantAdmin)
				}
			}
			got := read(serialize(t, s, tricky))
			last := got[len(got)-1]
			if kind == "url-encoded-form" && (last[0] != "details[q\"k\r\n]" && last[0] != "details.q\"k\r\n" || last[1] != "a b&c=d/é*~\r\n--x") {
				t.Errorf("%s tricky detail: %q", kind, last)
			}
			if kind == "multipart-form" && (!strings.HasPrefix(last[0], "details") || last[1] != "a b&c=d/é*~\r\n--x") {
				t.Errorf("%s tricky detail: %q", kind, last)
			}
		}
	}
	if _, err := serializer.Build(serializer.Options{Kind: "url-encoded-form", NestingNotation: "colon"}); err == nil ||
		!strings.Contains(err.Error(), "serializer.nesting-notation") || !strings.Contains(err.Error(), "bracket or dot") {
		t.Errorf("nesting-notation colon: %v", err)
	}
}
