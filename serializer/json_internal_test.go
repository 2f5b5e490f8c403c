package serializer

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// appendString must write exactly what encoding/json writes with HTML escaping off.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\n\r\t\b\f\x00\x1f\x7f", "é日🎉", "\u2028\u2029", "\xff\xfe", "a\xc3", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := appendString(nil, s)
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("appendString(%q) = %s, encoding/json = %s", s, got, want.Bytes())
		}
	})
}

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
