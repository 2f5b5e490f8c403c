package keycloak_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
)

// Payloads as each sender writes them. Field sets follow Keycloak's EventRepresentation
// and AdminEventRepresentation, p2-inc's ExtendedAdminEvent/ExtendedAuthDetails, and
// vymalo's WebhookPayload.
const (
	shapeNativeLogin = `{
  "id": "5c2b1f0e-8d57-4a0e-9f0a-2f4f1f9e7c11",
  "time": 1732694400123,
  "type": "LOGIN",
  "realmId": "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f",
  "clientId": "account-console",
  "userId": "e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f",
  "sessionId": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
  "ipAddress": "203.0.113.7",
  "details": {
    "auth_method": "openid-connect",
    "auth_type": "code",
    "redirect_uri": "https://sso.example.com/realms/acme/account/",
    "consent": "no_consent_required",
    "code_id": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
    "username": "alice"
  }
}`
	shapeNativeLoginError = `{"time":1732694400999,"type":"LOGIN_ERROR","realmId":"0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f","clientId":"account-console","ipAddress":"203.0.113.8","error":"user_not_found","details":{"auth_method":"openid-connect","username":"mallory"}}`

	shapeNativeAdmin = `{
  "id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
  "time": 1732694500000,
  "realmId": "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f",
  "authDetails": {
    "realmId": "4a3b2c1d-0000-4000-8000-000000000001",
    "clientId": "2f1e0d9c-8b7a-4654-9321-0fedcba98765",
    "userId": "11111111-2222-4333-8444-555555555555",
    "ipAddress": "198.51.100.4"
  },
  "operationType": "CREATE",
  "resourceType": "USER",
  "resourcePath": "users/e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f",
  "representation": "{\"username\":\"bob\",\"enabled\":true}"
}`

	// p2-inc before v0.40 (February 2025): no Keycloak id, only uid (new per webhook
	// delivery); an admin event's realmId is the realm's name.
	shapeP2Access = `{
  "time": 1711651627565,
  "realmId": "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464",
  "uid": "d2e0fe26-f8e6-4012-b22f-87f989c3c9e7",
  "authDetails": {
    "realmId": "acme",
    "clientId": "acme-app",
    "userId": "88251cc6-7408-4b31-a4c7-b2840d99b916",
    "ipAddress": "192.0.2.10",
    "username": "carol@example.com",
    "sessionId": "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c"
  },
  "type": "access.REGISTER",
  "details": {
    "auth_method": "openid-connect",
    "auth_type": "code",
    "register_method": "form",
    "redirect_uri": "https://app.example.com/callback",
    "code_id": "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c",
    "email": "carol@example.com"
  }
}`

	shapeP2Admin = `{
  "time": 1711651700000,
  "realmId": "acme",
  "uid": "0b6f9b3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
  "authDetails": {
    "realmId": "master",
    "clientId": "security-admin-console",
    "userId": "11111111-2222-4333-8444-555555555555",
    "ipAddress": "198.51.100.4",
    "username": "admin",
    "sessionId": "77777777-8888-4999-8aaa-bbbbbbbbbbbb"
  },
  "type": "admin.REALM_ROLE-CREATE",
  "resourceType": "REALM_ROLE",
  "operationType": "CREATE",
  "resourcePath": "roles/auditor",
  "representation": "{\"name\":\"auditor\"}",
  "details": {}
}`

	// p2-inc v0.40 and later (ExtendedAdminEvent since commit 1b22817, Keycloak 26.1):
	// realmId is the realm's id, realmName its name, id Keycloak's event id; Keycloak's
	// JsonSerialization leaves null members out.
	shapeP2AccessCurrent = `{
  "id": "5f3c6b2e-9a1d-4e7f-8b2c-3d4e5f6a7b8c",
  "time": 1740000000123,
  "realmId": "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464",
  "realmName": "acme",
  "authDetails": {
    "realmId": "acme",
    "clientId": "acme-app",
    "userId": "88251cc6-7408-4b31-a4c7-b2840d99b916",
    "ipAddress": "192.0.2.10",
    "username": "carol@example.com",
    "sessionId": "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c"
  },
  "details": {"auth_method": "openid-connect", "username": "carol@example.com"},
  "uid": "e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7",
  "type": "access.LOGIN"
}`

	shapeP2AdminCurrent = `{
  "id": "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d",
  "time": 1740000000456,
  "realmId": "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464",
  "realmName": "acme",
  "authDetails": {
    "realmId": "master",
    "clientId": "security-admin-console",
    "userId": "11111111-2222-4333-8444-555555555555",
    "ipAddress": "198.51.100.4",
    "username": "admin"
  },
  "resourceType": "USER",
  "operationType": "CREATE",
  "resourcePath": "users/88251cc6-7408-4b31-a4c7-b2840d99b916",
  "representation": "{\"username\":\"carol\"}",
  "details": {},
  "uid": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
  "type": "admin.USER-CREATE"
}`

	// vymalo's WebhookPayload as its AMQP and syslog senders write it: realmName is there
	// on Keycloak 25 and later (Utils.kt reads Event.getRealmName when it exists).
	shapeVymaloLogin = `{
  "type": "LOGIN",
  "realmId": "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f",
  "realmName": "acme",
  "id": "c0ffee00-1111-4222-8333-444455556666",
  "time": 1732694600000,
  "clientId": "acme-app",
  "userId": "e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f",
  "sessionId": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
  "ipAddress": "203.0.113.7",
  "details": {"auth_method": "openid-connect", "remember_me": true, "username": "alice"}
}`

	shapeVymaloAdmin = `{
  "type": "USER-DELETE",
  "realmId": "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f",
  "realmName": "acme",
  "id": "deadbeef-0000-4000-8000-000000000002",
  "time": 1.7326947e12,
  "clientId": "security-admin-console",
  "userId": "11111111-2222-4333-8444-555555555555",
  "ipAddress": "198.51.100.4",
  "resourcePath": "users/e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f"
}`

	// vymalo's HTTP sender: the WebhookRequest its OpenAPI client generates has no
	// realmName (utils/Converter.kt drops it), so only the realm's id arrives; gson
	// leaves null members out.
	shapeVymaloHTTPLogin = `{"type":"LOGIN","id":"c0ffee00-1111-4222-8333-444455556667","time":1732694600000,"clientId":"acme-app","realmId":"0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f","userId":"e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f","ipAddress":"203.0.113.7","details":{"username":"alice"},"sessionId":"a1b2c3d4-e5f6-4711-8899-aabbccddeeff"}`

	shapeKeteJSON = `{"kind":"ADMIN_EVENT","id":"k1","time":1732694800000,"realmId":"r1","realmName":"acme","operationType":"UPDATE","resourceTypeAsString":"CLIENT","resourcePath":"clients/c1","representation":{"clientId":"web"}}`
)

func TestDecodeEventsShapes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want kete.Event
	}{
		{"keycloak user event", shapeNativeLogin, kete.Event{
			Kind: kete.KindEvent, ID: "5c2b1f0e-8d57-4a0e-9f0a-2f4f1f9e7c11", Time: 1732694400123,
			RealmID: "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f", Type: "LOGIN", ClientID: "account-console",
			UserID: "e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f", SessionID: "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
			IPAddress: "203.0.113.7", Details: map[string]string{
				"auth_method": "openid-connect", "auth_type": "code",
				"redirect_uri": "https://sso.example.com/realms/acme/account/", "consent": "no_consent_required",
				"code_id": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff", "username": "alice",
			},
		}},
		{"keycloak user error event", shapeNativeLoginError, kete.Event{
			Kind: kete.KindEvent, Time: 1732694400999, RealmID: "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f",
			Type: "LOGIN_ERROR", ClientID: "account-console", IPAddress: "203.0.113.8", Error: "user_not_found",
			Details: map[string]string{"auth_method": "openid-connect", "username": "mallory"},
		}},
		{"keycloak admin event", shapeNativeAdmin, kete.Event{
			Kind: kete.KindAdminEvent, ID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", Time: 1732694500000,
			RealmID: "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f", OperationType: "CREATE", ResourceType: "USER",
			ResourcePath: "users/e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f", Representation: `{"username":"bob","enabled":true}`,
			AuthDetails: &kete.AuthDetails{
				RealmID: "4a3b2c1d-0000-4000-8000-000000000001", ClientID: "2f1e0d9c-8b7a-4654-9321-0fedcba98765",
				UserID: "11111111-2222-4333-8444-555555555555", IPAddress: "198.51.100.4",
			},
		}},
		{"p2-inc access event", shapeP2Access, kete.Event{
			Kind: kete.KindEvent, ID: "d2e0fe26-f8e6-4012-b22f-87f989c3c9e7", Time: 1711651627565,
			RealmID: "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464", RealmName: "acme", Type: "REGISTER",
			ClientID: "acme-app", UserID: "88251cc6-7408-4b31-a4c7-b2840d99b916",
			SessionID: "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c", IPAddress: "192.0.2.10",
			Details: map[string]string{
				"auth_method": "openid-connect", "auth_type": "code", "register_method": "form",
				"redirect_uri": "https://app.example.com/callback", "code_id": "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c",
				"email": "carol@example.com", "username": "carol@example.com",
			},
		}},
		{"p2-inc admin event", shapeP2Admin, kete.Event{
			Kind: kete.KindAdminEvent, ID: "0b6f9b3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", Time: 1711651700000,
			RealmID: "acme", RealmName: "acme", OperationType: "CREATE", ResourceType: "REALM_ROLE",
			ResourcePath: "roles/auditor", Representation: `{"name":"auditor"}`,
			AuthDetails: &kete.AuthDetails{
				RealmID: "master", ClientID: "security-admin-console",
				UserID: "11111111-2222-4333-8444-555555555555", IPAddress: "198.51.100.4",
			},
			Details: map[string]string{"authUsername": "admin", "authSessionId": "77777777-8888-4999-8aaa-bbbbbbbbbbbb"},
		}},
		{"p2-inc access event, v0.40 and later", shapeP2AccessCurrent, kete.Event{
			Kind: kete.KindEvent, ID: "5f3c6b2e-9a1d-4e7f-8b2c-3d4e5f6a7b8c", Time: 1740000000123,
			RealmID: "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464", RealmName: "acme", Type: "LOGIN",
			ClientID: "acme-app", UserID: "88251cc6-7408-4b31-a4c7-b2840d99b916",
			SessionID: "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c", IPAddress: "192.0.2.10",
			Details: map[string]string{"auth_method": "openid-connect", "username": "carol@example.com"},
		}},
		{"p2-inc admin event, v0.40 and later", shapeP2AdminCurrent, kete.Event{
			Kind: kete.KindAdminEvent, ID: "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d", Time: 1740000000456,
			RealmID: "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464", RealmName: "acme", OperationType: "CREATE", ResourceType: "USER",
			ResourcePath: "users/88251cc6-7408-4b31-a4c7-b2840d99b916", Representation: `{"username":"carol"}`,
			AuthDetails: &kete.AuthDetails{
				RealmID: "master", ClientID: "security-admin-console",
				UserID: "11111111-2222-4333-8444-555555555555", IPAddress: "198.51.100.4",
			},
			Details: map[string]string{"authUsername": "admin"},
		}},
		{"vymalo HTTP sender: the realm's id only", shapeVymaloHTTPLogin, kete.Event{
			Kind: kete.KindEvent, ID: "c0ffee00-1111-4222-8333-444455556667", Time: 1732694600000,
			RealmID: "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f", Type: "LOGIN",
			ClientID: "acme-app", UserID: "e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f",
			SessionID: "a1b2c3d4-e5f6-4711-8899-aabbccddeeff", IPAddress: "203.0.113.7",
			Details: map[string]string{"username": "alice"},
		}},
		{"p2-inc admin event with the type only", `{"uid":"u2","time":1,"realmId":"acme","type":"admin.CLIENT_SCOPE-UPDATE"}`, kete.Event{
			Kind: kete.KindAdminEvent, ID: "u2", Time: 1, RealmID: "acme", RealmName: "acme",
			OperationType: "UPDATE", ResourceType: "CLIENT_SCOPE",
		}},
		{"vymalo user event", shapeVymaloLogin, kete.Event{
			Kind: kete.KindEvent, ID: "c0ffee00-1111-4222-8333-444455556666", Time: 1732694600000,
			RealmID: "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f", RealmName: "acme", Type: "LOGIN",
			ClientID: "acme-app", UserID: "e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f",
			SessionID: "a1b2c3d4-e5f6-4711-8899-aabbccddeeff", IPAddress: "203.0.113.7",
			Details: map[string]string{"auth_method": "openid-connect", "remember_me": "true", "username": "alice"},
		}},
		{"vymalo admin event", shapeVymaloAdmin, kete.Event{
			Kind: kete.KindAdminEvent, ID: "deadbeef-0000-4000-8000-000000000002", Time: 1732694700000,
			RealmID: "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f", RealmName: "acme",
			OperationType: "DELETE", ResourceType: "USER", ResourcePath: "users/e6b1c0a4-7f3e-4c59-8d2a-1a2b3c4d5e6f",
			AuthDetails: &kete.AuthDetails{
				ClientID: "security-admin-console", UserID: "11111111-2222-4333-8444-555555555555", IPAddress: "198.51.100.4",
			},
		}},
		{"kete json", shapeKeteJSON, kete.Event{
			Kind: kete.KindAdminEvent, ID: "k1", Time: 1732694800000, RealmID: "r1", RealmName: "acme",
			OperationType: "UPDATE", ResourceType: "CLIENT", ResourcePath: "clients/c1", Representation: `{"clientId":"web"}`,
		}},
		{"time as a string", `{"type":"LOGOUT","time":"1732694900000","realmId":"r"}`, kete.Event{
			Kind: kete.KindEvent, Type: "LOGOUT", Time: 1732694900000, RealmID: "r",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := keycloak.DecodeEvents([]byte(tt.body))
			if err != nil || len(bad) != 0 {
				t.Fatalf("DecodeEvents: err %v, rejected %v", err, bad)
			}
			if len(got) != 1 {
				t.Fatalf("DecodeEvents gave %d events, want 1", len(got))
			}
			if !reflect.DeepEqual(got[0], tt.want) {
				g, _ := json.MarshalIndent(got[0], "", " ")
				w, _ := json.MarshalIndent(tt.want, "", " ")
				t.Errorf("event:\n%s\nwant:\n%s", g, w)
			}
			if got[0].EventType() == "" {
				t.Error("EventType is empty")
			}
		})
	}
}

func TestDecodeEventsEventType(t *testing.T) {
	body := "[" + strings.Join([]string{shapeNativeLogin, shapeNativeAdmin, shapeP2Access, shapeP2Admin, shapeVymaloLogin, shapeVymaloAdmin}, ",") + "]"
	got, bad, err := keycloak.DecodeEvents([]byte(body))
	if err != nil || len(bad) != 0 {
		t.Fatalf("DecodeEvents: err %v, rejected %v", err, bad)
	}
	var types []string
	for i := range got {
		types = append(types, string(got[i].Kind)+":"+got[i].EventType())
	}
	want := []string{"EVENT:LOGIN", "ADMIN_EVENT:USER_CREATE", "EVENT:REGISTER", "ADMIN_EVENT:REALM_ROLE_CREATE", "EVENT:LOGIN", "ADMIN_EVENT:USER_DELETE"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("event types %v, want %v", types, want)
	}
}

func TestDecodeEventsRejectsElements(t *testing.T) {
	body := `[` + shapeNativeLogin + `, 42, {"foo":"bar"}, {"type":"admin."}, {"type":"access."},
	  {"type":"LOGIN","time":"yesterday"}, {"type":7}, {"type":"USER-"}, null,
	  {"operationType":"CREATE"}, {"type":"LOGIN","details":"x"}, {"type":"  "}, ` + shapeVymaloAdmin + `]`
	got, bad, err := keycloak.DecodeEvents([]byte(body))
	if err != nil {
		t.Fatalf("DecodeEvents: %v", err)
	}
	if len(got) != 2 || got[0].Type != "LOGIN" || got[1].ResourceType != "USER" {
		t.Fatalf("kept %d events %+v, want the LOGIN and the USER-DELETE", len(got), got)
	}
	wantIdx := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	wantReason := []string{"not a JSON object", "not a Keycloak event", "resource type", `"access."`,
		`"time"`, `"type" must be a string`, "resource type", "not a JSON object", "resource type",
		`"details" must be an object`, "blank type"}
	if len(bad) != len(wantIdx) {
		t.Fatalf("rejected %d elements %v, want %d", len(bad), bad, len(wantIdx))
	}
	for i, b := range bad {
		if b.Index != wantIdx[i] || !strings.Contains(b.Reason, wantReason[i]) {
			t.Errorf("rejection %d = %v, want index %d with %q", i, b, wantIdx[i], wantReason[i])
		}
		if !strings.HasPrefix(b.Error(), "event ") {
			t.Errorf("DecodeError.Error() = %q", b.Error())
		}
	}
}

func TestDecodeEventsBadBody(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"empty", "  ", "empty"},
		{"not json", "type=LOGIN", "object or array"},
		{"broken object", `{"type":"LOGIN"`, "not valid JSON"},
		{"broken array", `[{"type":"LOGIN"},`, "not a valid JSON array"},
		{"string", `"LOGIN"`, "object or array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := keycloak.DecodeEvents([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEventsSingleBadObject(t *testing.T) {
	got, bad, err := keycloak.DecodeEvents([]byte(`{"hello":"world"}`))
	if err != nil || len(got) != 0 || len(bad) != 1 || bad[0].Index != 0 {
		t.Errorf("got %v %v %v, want one rejection at index 0", got, bad, err)
	}
}

func FuzzDecodeEvents(f *testing.F) {
	for _, s := range []string{shapeNativeLogin, shapeNativeLoginError, shapeNativeAdmin, shapeP2Access, shapeP2Admin, shapeP2AccessCurrent, shapeP2AdminCurrent, shapeVymaloLogin, shapeVymaloAdmin, shapeVymaloHTTPLogin, shapeKeteJSON,
		`[]`, `[null]`, `{"type":"admin.-"}`, `{"type":"a-b","time":1e400}`, `{"kind":"ADMIN_EVENT","type":"x"}`,
		`{"kind":"EVENT","resourceType":"USER"}`, `[{"type":"LOGIN","details":{"a":[1,{"b":null}]}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, bad, err := keycloak.DecodeEvents(body)
		if err != nil && (len(events) > 0 || len(bad) > 0) {
			t.Fatalf("error %v together with %d events and %d rejections", err, len(events), len(bad))
		}
		for i := range events {
			e := &events[i]
			if e.Kind != kete.KindEvent && e.Kind != kete.KindAdminEvent {
				t.Fatalf("event %d has kind %q", i, e.Kind)
			}
			if strings.TrimSpace(e.EventType()) == "" {
				t.Fatalf("event %d has an empty event type", i)
			}
			if e.Kind == kete.KindAdminEvent && (strings.TrimSpace(e.ResourceType) == "" || strings.TrimSpace(e.OperationType) == "") {
				t.Fatalf("admin event %d has resource type %q and operation type %q", i, e.ResourceType, e.OperationType)
			}
		}
		last := -1
		for _, b := range bad {
			if b.Index <= last || b.Reason == "" {
				t.Fatalf("rejections out of order or without reason: %v", bad)
			}
			last = b.Index
		}
	})
}
