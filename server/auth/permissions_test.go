package auth

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatchTopic(t *testing.T) {
	tests := []struct {
		pattern, topic string
		want           bool
	}{
		// From the Realtime docs.
		{"main", "main", true},
		{"secure/*", "secure/inbound", true},
		{"secure/*", "secure/logs/app", true}, // `*` crosses `/`
		{"secure/*", "secure/", true},         // zero characters
		{"secure/*", "secure", false},
		{"secure/*", "main", false},
		{"secure/logs/*", "secure/logs/x", true},
		{"secure/logs/*", "secure/metrics/x", false},
		{"*", "anything/at/all", true},
		{"*", "", true},
		// From the matcher module's README.
		{"uni*", "unicorn", true},
		{"*corn", "unicorn", true},
		{"un*rn", "unicorn", true},
		{"!unicorn", "rainbow", true},
		{"!unicorn", "unicorn", false},
		{"foo b* b*", "foo bar baz", true},
		{`uni\*`, "unicorn", false},
		{`uni\*`, "uni*", true},
		{"", "unicorn", false},
		{"", "", true},
		{"foo*r", "foo\nbar", true},
		// Edge cases.
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**", "x", true},
		{"a*", "a", true},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"main", "MAIN", true}, // without regard to case, as matcher's default
		{"secure/Logs/*", "SECURE/logs/x", true},
		{"topic/É*", "topic/été", true},
		{"ı", "I", false}, // a look-alike does not match ASCII (matcher's normalizeCase)
		{"topic/é*", "topic/été", true},
		{`a\`, `a\`, true},
		{"!*", "x", false},
	}
	for _, tt := range tests {
		if got := MatchTopic(tt.pattern, tt.topic); got != tt.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tt.pattern, tt.topic, got, tt.want)
		}
	}
}

func TestCanPublishSubscribe(t *testing.T) {
	docs := []string{"realtime:publisher:write:topic:secure/*", "realtime:publisher:write:topic:main"}
	logs := []string{"realtime:subscriber:read:topic:secure/logs/*"}
	tests := []struct {
		name    string
		perms   []string
		topic   string
		publish bool
		sub     bool
	}{
		{"docs publisher: main", docs, "main", true, false},
		{"docs publisher: secure/x", docs, "secure/x", true, false},
		{"docs publisher: other", docs, "other", false, false},
		{"logs subscriber", logs, "secure/logs/app1", false, true},
		{"logs subscriber: other secure topic", logs, "secure/inbound", false, false},
		{"all topics", []string{"realtime:publisher:write:topic:*"}, "x/y", true, false},
		{"no permissions", nil, "main", false, false},
		{"scope-style noise", []string{"openid", "profile"}, "main", false, false},
		{"prefix without topic is not a grant", []string{"realtime:publisher:write:topic:"}, "main", false, false},
		{"wildcard over the verb", []string{"realtime:*"}, "main", true, true},
		{"deny wins (topic form)", []string{"realtime:publisher:write:topic:*", "realtime:publisher:write:topic:!secure/*"}, "secure/x", false, false},
		{"deny wins (topic form), others pass", []string{"realtime:publisher:write:topic:*", "realtime:publisher:write:topic:!secure/*"}, "main", true, false},
		{"deny wins (whole form)", []string{"!realtime:subscriber:read:topic:secure/admin*", "realtime:subscriber:read:topic:secure/*"}, "secure/admin", false, false},
		{"deny alone grants nothing", []string{"realtime:publisher:write:topic:!secure/*"}, "main", false, false},
		{"publish does not grant subscribe", []string{"realtime:publisher:write:topic:secure/*"}, "secure/x", true, false},
		{"subscribe does not grant publish", []string{"realtime:subscriber:read:topic:*"}, "secure/x", false, true},
		{"no prefix confusion", []string{"realtime:publisher:write:topic:main"}, "main2", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanPublish(tt.perms, tt.topic); got != tt.publish {
				t.Errorf("CanPublish = %v, want %v", got, tt.publish)
			}
			if got := CanSubscribe(tt.perms, tt.topic); got != tt.sub {
				t.Errorf("CanSubscribe = %v, want %v", got, tt.sub)
			}
		})
	}
}

func TestHas(t *testing.T) {
	admin := []string{"realtime:publisher:write:topic:*", "realtime:admin:manage:subscribers", "realtime:admin:manage:connections"}
	tests := []struct {
		perms []string
		perm  string
		want  bool
	}{
		{admin, ManageConnections, true},
		{admin, ManageSubscribers, true},
		{admin, ManageApplication, false},
		{admin, "realtime:publisher:write:topic:*", true},
		{[]string{"realtime:admin:manage:*"}, ManageApplication, true},
		{[]string{"realtime:admin:manage:*", "!realtime:admin:manage:application"}, ManageApplication, false},
		{[]string{"realtime:admin:manage:*", "!realtime:admin:manage:application"}, ManageConnections, true},
		{[]string{"realtime:admin:manage:connections"}, "realtime:admin:manage:connections2", false},
		{[]string{"REALTIME:ADMIN:MANAGE:CONNECTIONS"}, ManageConnections, false},                           // names are exact
		{[]string{"realtime:subscriber:read:topic:secure/LOGS/*"}, SubscribePrefix + "secure/logs/x", true}, // topics are not
		{[]string{"REALTIME:SUBSCRIBER:READ:TOPIC:secure/logs/*"}, SubscribePrefix + "secure/logs/x", false},
		{nil, ManageConnections, false},
	}
	for _, tt := range tests {
		if got := Has(tt.perms, tt.perm); got != tt.want {
			t.Errorf("Has(%q, %q) = %v, want %v", tt.perms, tt.perm, got, tt.want)
		}
	}
}

// referenceMatch is the matcher module's own method: the pattern turned into an anchored
// regular expression.
func referenceMatch(pattern, s string) bool {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*':
			b.WriteString(".*")
		case c == '\\' && i+1 < len(pattern):
			_, w := utf8.DecodeRuneInString(pattern[i+1:])
			b.WriteString(regexp.QuoteMeta(pattern[i+1 : i+1+w]))
			i += w
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()).MatchString(s)
}

// FuzzGlobMatch checks the matcher against the regular expression it stands for.
func FuzzGlobMatch(f *testing.F) {
	for _, seed := range [][2]string{{"secure/*", "secure/x"}, {"a*b*c", "aXbYc"}, {`a\*`, "a*"}, {"*", ""}, {"é*", "été"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // the regexp reference works on runes
		}
		if got, want := globMatch(pattern, s), referenceMatch(pattern, s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, reference %v", pattern, s, got, want)
		}
	})
}

func BenchmarkCanPublish(b *testing.B) {
	perms := []string{"realtime:subscriber:read:topic:secure/logs/*", "realtime:publisher:write:topic:secure/*", "realtime:publisher:write:topic:main"}
	for b.Loop() {
		if !CanPublish(perms, "secure/devices/sensor-42/readings") {
			b.Fatal("denied")
		}
	}
}
