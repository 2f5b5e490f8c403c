package template_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/template"
)

func userEvent() *kete.Event {
	return &kete.Event{Kind: kete.KindEvent, ID: "e1", Time: 1700000000000, RealmID: "0a1b", RealmName: "Acme Corp", Type: "LOGIN_ERROR", Error: "invalid_user_credentials"}
}

func adminEvent() *kete.Event {
	return &kete.Event{Kind: kete.KindAdminEvent, ID: "a1", Time: 1700000000000, RealmID: "0a1b", RealmName: "my-realm", ResourceType: "CLIENT_ROLE_MAPPING", OperationType: "CREATE"}
}

func mustCompile(t testing.TB, s string) *template.Template {
	t.Helper()
	tpl, err := template.Compile(s)
	if err != nil {
		t.Fatalf("Compile(%q): %v", s, err)
	}
	return tpl
}

// allCases renders field in the five cases, joined by "|".
func allCases(field string) string {
	var b strings.Builder
	for i, c := range []string{"LowerCase", "UpperCase", "KebabCase", "PascalCase", "CamelCase"} {
		if i > 0 {
			b.WriteString("|")
		}
		b.WriteString("${" + field + c + "}")
	}
	return b.String()
}

func TestRenderCases(t *testing.T) {
	withRealm := func(name, id string) *kete.Event {
		return &kete.Event{Kind: kete.KindEvent, RealmName: name, RealmID: id, Type: "LOGIN"}
	}
	tests := []struct {
		name  string
		field string
		event *kete.Event
		want  string // Lower|Upper|Kebab|Pascal|Camel
	}{
		{"kind admin", "kind", adminEvent(), "admin_event|ADMIN_EVENT|admin-event|AdminEvent|adminEvent"},
		{"kind user", "kind", userEvent(), "event|EVENT|event|Event|event"},
		{"realm with space", "realm", userEvent(), "acme corp|ACME CORP|acme-corp|AcmeCorp|acmeCorp"},
		{"realm kebab", "realm", adminEvent(), "my-realm|MY-REALM|my-realm|MyRealm|myRealm"},
		{"realm camel", "realm", withRealm("myRealm", ""), "myrealm|MYREALM|my-realm|MyRealm|myRealm"},
		{"realm dotted", "realm", withRealm("acme.prod_eu", ""), "acme.prod_eu|ACME.PROD_EU|acme-prod-eu|AcmeProdEu|acmeProdEu"},
		{"realm acronym", "realm", withRealm("HTTPServer2Go", ""), "httpserver2go|HTTPSERVER2GO|http-server2go|HttpServer2go|httpServer2go"},
		{"realm repeated separators", "realm", withRealm("  a--b__c  ", ""), "  a--b__c  |  A--B__C  |a-b-c|ABC|aBC"},
		{"realm unicode", "realm", withRealm("Émile Zoë", ""), "émile zoë|ÉMILE ZOË|émile-zoë|ÉmileZoë|émileZoë"},
		{"realm falls back to id", "realm", withRealm("", "7F3A-B2"), "7f3a-b2|7F3A-B2|7f3a-b2|7f3aB2|7f3aB2"},
		{"user event type", "eventType", userEvent(), "login_error|LOGIN_ERROR|login-error|LoginError|loginError"},
		{"admin event type", "eventType", adminEvent(), "client_role_mapping_create|CLIENT_ROLE_MAPPING_CREATE|client-role-mapping-create|ClientRoleMappingCreate|clientRoleMappingCreate"},
		{"admin event type without resource", "eventType", &kete.Event{Kind: kete.KindAdminEvent, OperationType: "DELETE"}, "_delete|_DELETE|delete|Delete|delete"},
		{"resource type", "resourceType", adminEvent(), "client_role_mapping|CLIENT_ROLE_MAPPING|client-role-mapping|ClientRoleMapping|clientRoleMapping"},
		{"operation type", "operationType", adminEvent(), "create|CREATE|create|Create|create"},
		{"result error", "result", userEvent(), "error|ERROR|error|Error|error"},
		{"result success", "result", adminEvent(), "success|SUCCESS|success|Success|success"},
		{"absent resource type is empty", "resourceType", userEvent(), "||||"},
		{"absent operation type is empty", "operationType", userEvent(), "||||"},
		{"empty realm", "realm", withRealm("", ""), "||||"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := mustCompile(t, allCases(tt.field))
			if got := tpl.Render(tt.event); got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
			if got := string(tpl.AppendRender([]byte("prefix:"), tt.event)); got != "prefix:"+tt.want {
				t.Errorf("AppendRender = %q, want %q", got, "prefix:"+tt.want)
			}
		})
	}
}

// The raw cases must agree with the root package's EventType and Realm, which matchers see.
func TestLowerUpperAgreeWithEvent(t *testing.T) {
	events := []*kete.Event{userEvent(), adminEvent(),
		{Kind: kete.KindAdminEvent, ResourceType: "USER"},
		{Kind: kete.KindEvent, RealmID: "only-id", Type: "CODE_TO_TOKEN"},
	}
	tpl := mustCompile(t, "${eventTypeLowerCase} ${eventTypeUpperCase} ${realmLowerCase} ${realmUpperCase} ${kindLowerCase} ${resultUpperCase}")
	for _, e := range events {
		want := strings.Join([]string{strings.ToLower(e.EventType()), strings.ToUpper(e.EventType()),
			strings.ToLower(e.Realm()), strings.ToUpper(e.Realm()), strings.ToLower(string(e.Kind)), string(e.Result())}, " ")
		if got := tpl.Render(e); got != want {
			t.Errorf("Render(%+v) = %q, want %q", e, got, want)
		}
	}
}

func TestRenderURL(t *testing.T) {
	const src = "ws://127.0.0.1:8080/apps/demo/publish/events/${realmLowerCase}/${eventTypeKebabCase}?kind=${kindCamelCase}"
	tpl := mustCompile(t, src)
	if tpl.Static() {
		t.Error("Static() = true for a template with variables")
	}
	if tpl.String() != src {
		t.Errorf("String() = %q, want the source", tpl.String())
	}
	want := "ws://127.0.0.1:8080/apps/demo/publish/events/acme corp/login-error?kind=event"
	if got := tpl.Render(userEvent()); got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

func TestCompileWithEscape(t *testing.T) {
	tpl, err := template.CompileWith("ws://127.0.0.1/a b/${realmLowerCase}/${realmPascalCase}?r=${eventTypeUpperCase}", template.Options{Escape: url.PathEscape})
	if err != nil {
		t.Fatal(err)
	}
	e := userEvent()
	e.RealmName = "Acme Corp/é?"
	// Literal text is left alone; only values are escaped.
	want := "ws://127.0.0.1/a b/acme%20corp%2F%C3%A9%3F/AcmeCorp%2F%C3%A9%3F?r=LOGIN_ERROR"
	if got := tpl.Render(e); got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if got := string(tpl.AppendRender([]byte("x"), e)); got != "x"+want {
		t.Errorf("AppendRender = %q, want %q", got, "x"+want)
	}
}

func TestStatic(t *testing.T) {
	tests := []struct {
		src    string
		static bool
	}{
		{"", true},
		{"ws://127.0.0.1:9000/events", true},
		{"price $5 {not a variable} $ {x}", true},
		{"${kindLowerCase}", false},
		{"a${resultUpperCase}b", false},
	}
	for _, tt := range tests {
		tpl := mustCompile(t, tt.src)
		if tpl.Static() != tt.static {
			t.Errorf("Compile(%q).Static() = %v, want %v", tt.src, tpl.Static(), tt.static)
		}
		if tt.static {
			if got := tpl.Render(userEvent()); got != tt.src {
				t.Errorf("static Render = %q, want %q", got, tt.src)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src   string
		wants []string
	}{
		{"ws://h/${realmLowercase}", []string{"${realmLowercase}", "offset 7", "did you mean ${realmLowerCase}"}},
		{"ab${bogus}", []string{"${bogus}", "offset 2", "known:", "${realmLowerCase}", "${resultCamelCase}"}},
		{"${realmLowerCase}/${env:SECRET}", []string{"${env:SECRET}", "offset 18"}},
		{"${}", []string{"unknown variable ${}", "offset 0"}},
		{"x/${realm", []string{`unclosed "${"`, "offset 2"}},
		{"${realm}", []string{"${realm}", "offset 0"}},
		{"ws://h/?access_token=s3cret&r=${bad}", []string{"${bad}", "offset 30"}},
	}
	for _, tt := range tests {
		_, err := template.Compile(tt.src)
		if err == nil {
			t.Errorf("Compile(%q): no error", tt.src)
			continue
		}
		for _, want := range tt.wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Compile(%q) error %q does not contain %q", tt.src, err, want)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Compile(%q) error %q repeats the template text, which may hold a secret", tt.src, err)
		}
	}
}

func TestVariables(t *testing.T) {
	names := template.Variables()
	if len(names) != 30 {
		t.Fatalf("Variables() has %d names, want 6 fields × 5 cases = 30", len(names))
	}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			t.Errorf("duplicate variable %q", name)
		}
		seen[name] = true
		if _, err := template.Compile("${" + name + "}"); err != nil {
			t.Errorf("listed variable %q does not compile: %v", name, err)
		}
	}
	names[0] = "changed"
	if template.Variables()[0] == "changed" {
		t.Error("Variables() returns shared state")
	}
}

func TestAppendRenderDoesNotAllocate(t *testing.T) {
	tpl := mustCompile(t, "ws://127.0.0.1/${realmKebabCase}/${eventTypeCamelCase}/${kindPascalCase}/${resultLowerCase}/${operationTypeUpperCase}")
	events := []*kete.Event{userEvent(), adminEvent()}
	buf := make([]byte, 0, 256)
	for _, e := range events {
		allocs := testing.AllocsPerRun(100, func() { buf = tpl.AppendRender(buf[:0], e) })
		if allocs != 0 {
			t.Errorf("AppendRender(%s) allocates %.0f times per call, want 0", e.Kind, allocs)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "${realmLowerCase}", "a${", "${x}", "$${kindUpperCase}}", "ws://h/${eventTypeKebabCase}"} {
		f.Add(s, "Acme Corp")
	}
	f.Fuzz(func(t *testing.T, src, realm string) {
		tpl, err := template.Compile(src)
		if err != nil {
			return
		}
		e := &kete.Event{Kind: kete.KindAdminEvent, RealmName: realm, ResourceType: realm, OperationType: "CREATE"}
		got := tpl.Render(e)
		if tpl.Static() && got != src {
			t.Fatalf("static template %q rendered %q", src, got)
		}
		if !strings.Contains(src, "${") && !tpl.Static() {
			t.Fatalf("template %q without ${ has variables", src)
		}
	})
}

func BenchmarkAppendRender(b *testing.B) {
	tpl := mustCompile(b, "ws://127.0.0.1:8080/apps/demo/publish/events/${realmLowerCase}/${eventTypeKebabCase}")
	for _, e := range []*kete.Event{userEvent(), adminEvent()} {
		b.Run(string(e.Kind), func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = tpl.AppendRender(buf[:0], e)
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	tpl := mustCompile(b, "ws://127.0.0.1:8080/apps/demo/publish/events/${realmLowerCase}/${eventTypeKebabCase}")
	e := adminEvent()
	b.ReportAllocs()
	for b.Loop() {
		_ = tpl.Render(e)
	}
}
