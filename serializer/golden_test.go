package serializer_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// The events of KETE's serializer documentation (FortuneN/kete,
// docs/user-guide/serializers/*.md): every page shows these two.
func keteDocUserEvent() *kete.Event {
	return &kete.Event{
		Kind: kete.KindEvent, ID: "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f", Time: 1704816000000, Type: "LOGIN",
		RealmID: "master", RealmName: "master", ClientID: "my-app", UserID: "550e8400-e29b-41d4-a716-446655440000",
		SessionID: "abc-session-123", IPAddress: "192.168.1.100",
		Details: map[string]string{"username": "john.doe", "remember_me": "true"},
	}
}

func keteDocAdminEvent() *kete.Event {
	return &kete.Event{
		Kind: kete.KindAdminEvent, ID: "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e", Time: 1704816000000,
		RealmID: "master", RealmName: "master",
		AuthDetails:  &kete.AuthDetails{RealmID: "master", ClientID: "admin-cli", UserID: "admin-uuid", IPAddress: "192.168.1.100"},
		ResourceType: "USER", OperationType: "CREATE", ResourcePath: "users/user-uuid",
		Representation: `{"username":"newuser"}`,
	}
}

// golden is one documented output. KETE's pages print Keycloak's details HashMap as it
// came (username, remember_me); kete sorts details keys, so the goldens list them sorted:
// the only edit to the documented text besides the layout noted per kind.
type golden struct {
	kind, source string
	opts         serializer.Options
	event        *kete.Event
	want         string
}

// compactXML drops the indentation KETE's page adds for reading: Jackson's XmlMapper
// writes no whitespace between elements.
func compactXML(s string) string {
	return regexp.MustCompile(`>\s+<`).ReplaceAllString(strings.TrimSpace(s), "><")
}

// compactJSON drops the indentation KETE's page adds: Jackson's ObjectMapper writes none.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("golden JSON: %v", err)
	}
	return b.String()
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func goldens(t *testing.T) []golden {
	return []golden{
		{"json", "docs/user-guide/serializers/json.md, User Event", serializer.Options{}, keteDocUserEvent(), compactJSON(t, `{
  "id": "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f",
  "time": 1704816000000,
  "type": "LOGIN",
  "realmId": "master",
  "realmName": "master",
  "clientId": "my-app",
  "userId": "550e8400-e29b-41d4-a716-446655440000",
  "sessionId": "abc-session-123",
  "ipAddress": "192.168.1.100",
  "error": null,
  "details": {
    "remember_me": "true",
    "username": "john.doe"
  }
}`)},
		{"json", "docs/user-guide/serializers/json.md, Admin Event", serializer.Options{}, keteDocAdminEvent(), compactJSON(t, `{
  "id": "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e",
  "time": 1704816000000,
  "realmId": "master",
  "realmName": "master",
  "authDetails": {
    "realmId": "master",
    "realmName": "master",
    "clientId": "admin-cli",
    "userId": "admin-uuid",
    "ipAddress": "192.168.1.100"
  },
  "resourceType": "USER",
  "operationType": "CREATE",
  "resourcePath": "users/user-uuid",
  "representation": "{\"username\":\"newuser\"}",
  "error": null,
  "resourceTypeAsString": "USER"
}`)},
		{"xml", "docs/user-guide/serializers/xml.md, User Event", serializer.Options{}, keteDocUserEvent(), compactXML(`
<Event>
  <id>a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f</id>
  <time>1704816000000</time>
  <type>LOGIN</type>
  <realmId>master</realmId>
  <realmName>master</realmName>
  <clientId>my-app</clientId>
  <userId>550e8400-e29b-41d4-a716-446655440000</userId>
  <sessionId>abc-session-123</sessionId>
  <ipAddress>192.168.1.100</ipAddress>
  <error/>
  <details>
    <remember_me>true</remember_me>
    <username>john.doe</username>
  </details>
</Event>`)},
		{"xml", "docs/user-guide/serializers/xml.md, Admin Event", serializer.Options{}, keteDocAdminEvent(), compactXML(`
<AdminEvent>
  <id>b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e</id>
  <time>1704816000000</time>
  <realmId>master</realmId>
  <realmName>master</realmName>
  <authDetails>
    <realmId>master</realmId>
    <realmName>master</realmName>
    <clientId>admin-cli</clientId>
    <userId>admin-uuid</userId>
    <ipAddress>192.168.1.100</ipAddress>
  </authDetails>
  <resourceType>USER</resourceType>
  <operationType>CREATE</operationType>
  <resourcePath>users/user-uuid</resourcePath>
  <representation>{"username":"newuser"}</representation>
  <error/>
  <resourceTypeAsString>USER</resourceTypeAsString>
</AdminEvent>`)},
		{"yaml", "docs/user-guide/serializers/yaml.md, User Event", serializer.Options{}, keteDocUserEvent(), `---
id: "a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f"
time: 1704816000000
type: "LOGIN"
realmId: "master"
realmName: "master"
clientId: "my-app"
userId: "550e8400-e29b-41d4-a716-446655440000"
sessionId: "abc-session-123"
ipAddress: "192.168.1.100"
error: null
details:
  remember_me: "true"
  username: "john.doe"
`},
		{"yaml", "docs/user-guide/serializers/yaml.md, Admin Event", serializer.Options{}, keteDocAdminEvent(), `---
id: "b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e"
time: 1704816000000
realmId: "master"
realmName: "master"
authDetails:
  realmId: "master"
  realmName: "master"
  clientId: "admin-cli"
  userId: "admin-uuid"
  ipAddress: "192.168.1.100"
resourceType: "USER"
operationType: "CREATE"
resourcePath: "users/user-uuid"
representation: "{\"username\":\"newuser\"}"
error: null
resourceTypeAsString: "USER"
`},
		{"csv", "docs/user-guide/serializers/csv.md, User Event", serializer.Options{}, keteDocUserEvent(), `clientId,details,error,id,ipAddress,realmId,realmName,sessionId,time,type,userId
my-app,,,a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f,192.168.1.100,master,master,abc-session-123,1704816000000,LOGIN,550e8400-e29b-41d4-a716-446655440000
`},
		{"csv", "docs/user-guide/serializers/csv.md, Admin Event", serializer.Options{}, keteDocAdminEvent(), `authDetails,error,id,operationType,realmId,realmName,representation,resourcePath,resourceType,resourceTypeAsString,time
,,b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e,CREATE,master,master,"{""username"":""newuser""}",users/user-uuid,USER,USER,1704816000000
`},
		{"toml", "docs/user-guide/serializers/toml.md, User Event", serializer.Options{}, keteDocUserEvent(), `id = 'a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f'
time = 1704816000000
type = 'LOGIN'
realmId = 'master'
realmName = 'master'
clientId = 'my-app'
userId = '550e8400-e29b-41d4-a716-446655440000'
sessionId = 'abc-session-123'
ipAddress = '192.168.1.100'
error = ''
details.remember_me = 'true'
details.username = 'john.doe'
`},
		{"toml", "docs/user-guide/serializers/toml.md, Admin Event", serializer.Options{}, keteDocAdminEvent(), `id = 'b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e'
time = 1704816000000
realmId = 'master'
realmName = 'master'
authDetails.realmId = 'master'
authDetails.realmName = 'master'
authDetails.clientId = 'admin-cli'
authDetails.userId = 'admin-uuid'
authDetails.ipAddress = '192.168.1.100'
resourceType = 'USER'
operationType = 'CREATE'
resourcePath = 'users/user-uuid'
representation = '{"username":"newuser"}'
error = ''
resourceTypeAsString = 'USER'
`},
		{"properties", "docs/user-guide/serializers/properties.md, User Event", serializer.Options{}, keteDocUserEvent(), `id=a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f
time=1704816000000
type=LOGIN
realmId=master
realmName=master
clientId=my-app
userId=550e8400-e29b-41d4-a716-446655440000
sessionId=abc-session-123
ipAddress=192.168.1.100
error=
details.remember_me=true
details.username=john.doe
`},
		{"properties", "docs/user-guide/serializers/properties.md, Admin Event", serializer.Options{}, keteDocAdminEvent(), `id=b9d3e7f2-5c4e-4b1f-9a8d-3e2f6c1b4a5e
time=1704816000000
realmId=master
realmName=master
authDetails.realmId=master
authDetails.realmName=master
authDetails.clientId=admin-cli
authDetails.userId=admin-uuid
authDetails.ipAddress=192.168.1.100
resourceType=USER
operationType=CREATE
resourcePath=users/user-uuid
representation={"username":"newuser"}
error=
resourceTypeAsString=USER
`},
		{"url-encoded-form", "docs/user-guide/serializers/url-encoded-form.md, User Event (Bracket Notation)", serializer.Options{}, keteDocUserEvent(),
			`id=a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f&type=LOGIN&realmId=master&realmName=master&clientId=my-app&userId=550e8400-e29b-41d4-a716-446655440000&sessionId=abc-session-123&ipAddress=192.168.1.100&time=1704816000000&details%5Bremember_me%5D=true&details%5Busername%5D=john.doe`},
		{"url-encoded-form", "docs/user-guide/serializers/url-encoded-form.md, User Event (Dot Notation)", serializer.Options{NestingNotation: "dot"}, keteDocUserEvent(),
			`id=a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f&type=LOGIN&realmId=master&realmName=master&clientId=my-app&userId=550e8400-e29b-41d4-a716-446655440000&sessionId=abc-session-123&ipAddress=192.168.1.100&time=1704816000000&details.remember_me=true&details.username=john.doe`},
		// The page prints LF line ends and leaves out the last one; MultipartFormSerializer.java
		// writes CRLF after every line, the closing boundary included.
		{"multipart-form", "docs/user-guide/serializers/multipart-form.md, User Event (Bracket Notation)", serializer.Options{}, keteDocUserEvent(), crlf(`--kete-boundary
Content-Disposition: form-data; name="id"

a7c2f8e1-4b3d-4a9e-8f7c-2d1e5b9a3c4f
--kete-boundary
Content-Disposition: form-data; name="type"

LOGIN
--kete-boundary
Content-Disposition: form-data; name="realmId"

master
--kete-boundary
Content-Disposition: form-data; name="realmName"

master
--kete-boundary
Content-Disposition: form-data; name="clientId"

my-app
--kete-boundary
Content-Disposition: form-data; name="userId"

550e8400-e29b-41d4-a716-446655440000
--kete-boundary
Content-Disposition: form-data; name="sessionId"

abc-session-123
--kete-boundary
Content-Disposition: form-data; name="ipAddress"

192.168.1.100
--kete-boundary
Content-Disposition: form-data; name="time"

1704816000000
--kete-boundary
Content-Disposition: form-data; name="details[remember_me]"

true
--kete-boundary
Content-Disposition: form-data; name="details[username]"

john.doe
--kete-boundary--
`)},
		{"template", "docs/user-guide/serializers/template.md, SMS Alert (realmId master here, production there)",
			serializer.Options{TemplateFileText: "ALERT: ${userId} ${type} from ${ipAddress} in ${realmId}"}, keteDocUserEvent(),
			"ALERT: 550e8400-e29b-41d4-a716-446655440000 LOGIN from 192.168.1.100 in master"},
		{"template", "docs/user-guide/serializers/template.md, Slack Webhook",
			serializer.Options{TemplateFileText: `{"text": "User ${userId} performed ${type} in ${realmId}"}`, VariableEscape: "json", ContentType: "application/json"}, keteDocUserEvent(),
			`{"text": "User 550e8400-e29b-41d4-a716-446655440000 performed LOGIN in master"}`},
		{"template", "docs/user-guide/serializers/template.md, Admin Alert (HTML)",
			serializer.Options{TemplateFileText: `<h2>Admin Action</h2><p><b>${authDetails.userId}</b> performed <b>${operationType}</b> on <b>${resourceType}</b></p><p>Path: ${resourcePath}</p>`, VariableEscape: "xml", ContentType: "text/html"}, keteDocAdminEvent(),
			`<h2>Admin Action</h2><p><b>admin-uuid</b> performed <b>CREATE</b> on <b>USER</b></p><p>Path: users/user-uuid</p>`},
		{"template", "docs/user-guide/serializers/template.md, Lightweight IoT",
			serializer.Options{TemplateFileText: "${type}|${userId}|${realmId}"}, keteDocUserEvent(),
			"LOGIN|550e8400-e29b-41d4-a716-446655440000|master"},
	}
}

// TestGoldenKETEDocs: each kind writes, for KETE's documented event, the bytes KETE's
// documentation shows.
func TestGoldenKETEDocs(t *testing.T) {
	for _, g := range goldens(t) {
		t.Run(g.kind+"/"+g.source, func(t *testing.T) {
			o := g.opts
			o.Kind = g.kind
			s, err := serializer.Build(o)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := serialize(t, s, g.event)
			if string(got) != g.want {
				t.Errorf("%s (%s):\ngot:\n%s\nwant:\n%s", g.kind, g.source, got, g.want)
			}
		})
	}
}
