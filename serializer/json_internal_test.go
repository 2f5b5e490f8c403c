package serializer

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// appendPathEscape must agree with url.PathEscape, which the CloudEvents doc promises.
func FuzzAppendPathEscape(f *testing.F) {
	for _, s := range []string{"", "Acme Corp", "a/b?c;d,e", "$&+:=@-_.~", "é日\x00\xff%", "\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendPathEscape(nil, s)), url.PathEscape(s); got != want {
			t.Fatalf("appendPathEscape(%q) = %q, url.PathEscape = %q", s, got, want)
		}
	})
}

// appendLower must be the JSON-escaped strings.ToLower, which the CloudEvents type promises
// (an invalid byte may come out as \ufffd or as U+FFFD itself: the same JSON string).
func FuzzAppendLower(f *testing.F) {
	for _, s := range []string{"", "LOGIN_ERROR", "CLIENT_ROLE_MAPPING", "ÉTÉ\xff\"\n", "\u2028İ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.ToLower(validUTF8(s))
		quoted := append(appendLower([]byte{'"'}, s), '"')
		var got string
		if err := json.Unmarshal(quoted, &got); err != nil {
			t.Fatalf("appendLower(%q) = %s, not a JSON string: %v", s, quoted, err)
		}
		if got != want {
			t.Fatalf("appendLower(%q) decodes to %q, want %q", s, got, want)
		}
	})
}
