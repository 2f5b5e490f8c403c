package kete_test

import (
	"strings"
	"testing"

	"github.com/kete-dev/kete"
)

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		spec   string
		accept []string
		reject []string
	}{
		{"list:master,acme", []string{"master", "acme", "ACME", "Master"}, []string{"acme2", "mast", "", "master,acme"}},
		{"list: master , acme ,", []string{"master", "acme"}, []string{"", " master"}},
		{"list:Acme Corp", []string{"acme corp", "ACME CORP"}, []string{"acme"}},
		{"LIST:login", []string{"LOGIN"}, []string{"LOGOUT"}},
		{"glob:LOGIN*", []string{"LOGIN", "LOGIN_ERROR", "login_error"}, []string{"XLOGIN", "LOGOUT"}},
		{"glob:*_ERROR", []string{"LOGIN_ERROR", "_ERROR"}, []string{"LOGIN_ERRORS", "ERROR"}},
		{"glob:LOG?N", []string{"LOGIN", "LOGXN"}, []string{"LOGN", "LOGIIN"}},
		{"glob:realm-[abc]", []string{"realm-a", "REALM-C"}, []string{"realm-d", "realm-", "realm-ab"}},
		{"glob:realm-[!a]", []string{"realm-b", "realm-z"}, []string{"realm-a", "realm-A", "realm-"}},
		{"glob:a.b+c(d)", []string{"a.b+c(d)"}, []string{"axb+c(d)", "a.bbc(d)"}},
		{"glob:[unclosed", []string{"[unclosed"}, []string{"u"}},
		{"regex:LOG.*", []string{"LOGIN", "logout"}, []string{"XLOGIN", "CODE_TO_TOKEN"}},
		{"regex:LOGIN|LOGOUT", []string{"LOGIN", "LOGOUT"}, []string{"LOGIN_ERROR", "XLOGOUT"}},
		{"regex:^USER_.*$", []string{"USER_CREATE"}, []string{"GROUP_USER_CREATE"}},
		{"regex:(CLIENT|USER)_(CREATE|DELETE)", []string{"client_delete", "USER_CREATE"}, []string{"USER_UPDATE"}},
		{"sql:LOG%", []string{"LOGIN", "LOG", "login_error"}, []string{"XLOG"}},
		{"sql:LOG_N", []string{"LOGIN", "LOGXN"}, []string{"LOGN"}},
		{"sql:a.b", []string{"a.b"}, []string{"axb"}},
		{"list:not:master", []string{"acme", "MASTER2"}, []string{"master", "MASTER"}},
		{"glob:not:*ERROR", []string{"LOGIN"}, []string{"LOGIN_ERROR"}},
		{"regex:not:LOG.*", []string{"REGISTER"}, []string{"LOGIN"}},
		{"sql:not:%_CREATE", []string{"USER_UPDATE"}, []string{"USER_CREATE"}},
		// As KETE's MatcherUtils.createMatcher splits a spec: "not" in any case, each
		// part trimmed, and a pattern with a colon kept whole.
		{"glob:NOT:*ERROR", []string{"LOGIN"}, []string{"LOGIN_ERROR"}},
		{"list: Not : master", []string{"acme"}, []string{"master"}},
		{" glob : LOGIN* ", []string{"LOGIN_ERROR"}, []string{" LOGIN"}},
		{"regex:a:b", []string{"A:B"}, []string{"a"}},
		// KETE's GlobMatcher compiles with HANDLE_ESCAPES: a backslash makes the next
		// character literal.
		{`glob:USER_\*`, []string{"USER_*", "user_*"}, []string{"USER_CREATE", `USER_\CREATE`}},
		{`glob:WHAT\?`, []string{"WHAT?"}, []string{"WHATS"}},
		{`glob:a\\b`, []string{`a\b`}, []string{"ab"}},
		{"glob:réalm-*", []string{"réalm-1", "RÉALM-x"}, []string{"realm-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			m, err := kete.ParseMatcher(tt.spec)
			if err != nil {
				t.Fatalf("ParseMatcher: %v", err)
			}
			if m.String() != tt.spec {
				t.Errorf("String() = %q, want the spec", m.String())
			}
			for _, s := range tt.accept {
				if !m.Match(s) {
					t.Errorf("Match(%q) = false, want true", s)
				}
			}
			for _, s := range tt.reject {
				if m.Match(s) {
					t.Errorf("Match(%q) = true, want false", s)
				}
			}
		})
	}
}

func TestParseMatcherErrors(t *testing.T) {
	tests := []struct {
		spec  string
		wants []string
	}{
		{"master", []string{`"master"`, "kind:pattern"}},
		{"", []string{`""`, "kind:pattern"}},
		{"regex:LOG(IN", []string{`"regex:LOG(IN"`, "bad regex"}},
		{"regex:not:[", []string{`"regex:not:["`, "bad regex"}},
		{"glob:[z-a]", []string{`"glob:[z-a]"`, "bad glob"}},
		{"prefix:LOG", []string{`"prefix:LOG"`, `unknown kind "prefix"`, "list, glob, regex or sql"}},
		{"list:", []string{`"list:"`, "pattern is empty"}},
		{"list: , ,", []string{"list is empty"}},
		{"list:not:", []string{`"list:not:"`, "pattern is empty"}},
		{"glob: not : ", []string{"pattern is empty"}},
	}
	for _, tt := range tests {
		m, err := kete.ParseMatcher(tt.spec)
		if err == nil {
			t.Errorf("ParseMatcher(%q) = %v, want an error", tt.spec, m)
			continue
		}
		for _, want := range tt.wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("ParseMatcher(%q) error %q does not contain %q", tt.spec, err, want)
			}
		}
	}
}

func TestParseMatchMode(t *testing.T) {
	tests := []struct {
		in      string
		want    kete.MatchMode
		wantErr bool
	}{
		{"", kete.MatchAny, false},
		{"any", kete.MatchAny, false},
		{" ANY ", kete.MatchAny, false},
		{"all", kete.MatchAll, false},
		{"All", kete.MatchAll, false},
		{"or", "", true},
		{"both", "", true},
	}
	for _, tt := range tests {
		got, err := kete.ParseMatchMode(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMatchMode(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseMatchMode(%q) error %q does not name the input", tt.in, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseMatchMode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
