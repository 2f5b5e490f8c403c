package serializer_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kete-dev/kete"
)

// fixUTF8 is s as every kind carries it: each invalid byte as U+FFFD.
func fixUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// FuzzRoundTrip: for any text in a field and a detail, each library-decodable kind gives
// the text back (as valid UTF-8), so no escaping mistake can corrupt or inject data.
func FuzzRoundTrip(f *testing.F) {
	f.Add("alice", "username", "john.doe")
	f.Add(tricky, tricky, tricky)
	f.Add("#x", "a b=c:d!e#f", " lead\\ \t\r\n\f")
	f.Add("'quote'", "\"k\"", "it's")
	f.Add("a,\"b\"\r\nc\rd", "#k", "#v")
	f.Add("", "é", strings.Repeat("é", 40))
	f.Add("\u2028\u0085\ufeff", "yes", "null")
	// XML 1.0 cannot carry most control characters: the xml kind writes them as U+FFFD.
	xmlFix := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
				return utf8.RuneError
			}
			return r
		}, fixUTF8(s))
	}
	f.Fuzz(func(t *testing.T, user, key, value string) {
		e := &kete.Event{Kind: kete.KindEvent, ID: "x", Time: 1, Type: "LOGIN", UserID: user, Details: map[string]string{key: value}}
		wantUser, wantKey, wantValue := fixUTF8(user), fixUTF8(key), fixUTF8(value)
		// XML: a null is an empty element, read back as nil; the detail key may be renamed.
		x := receivers["xml"](t, serialize(t, mustNew(t, "xml", ""), e)).v
		if w := xmlFix(user); w == "" && x["userId"] != nil || w != "" && x["userId"] != w {
			t.Errorf("xml: userId %q, want %q", x["userId"], w)
		}
		if d, _ := x["details"].(map[string]any); len(d) != 1 {
			t.Errorf("xml: details %q", x["details"])
		} else {
			for _, v := range d {
				if w := xmlFix(value); w == "" && v != nil || w != "" && v != w {
					t.Errorf("xml: detail %q, want %q", v, w)
				}
			}
		}
		// encoding/csv drops a carriage return before a newline, even inside quotes.
		if c, w := receivers["csv"](t, serialize(t, mustNew(t, "csv", ""), e)).v, strings.ReplaceAll(wantUser, "\r\n", "\n"); c["userId"] != w {
			t.Errorf("csv: userId %q, want %q", c["userId"], w)
		}
		for _, kind := range []string{"json", "yaml", "toml", "properties", "cbor", "smile"} {
			got := receivers[kind](t, serialize(t, mustNew(t, kind, ""), e)).v
			gotUser := got["userId"]
			if wantUser == "" {
				if gotUser != nil && gotUser != "" {
					t.Errorf("%s: userId %q, want null", kind, gotUser)
				}
			} else if gotUser != wantUser {
				t.Errorf("%s: userId %q, want %q", kind, gotUser, wantUser)
			}
			var details map[string]any
			if kind == "properties" {
				details = map[string]any{}
				for k, v := range got {
					if rest, ok := strings.CutPrefix(k, "details."); ok {
						details[rest] = v
					}
				}
			} else {
				details, _ = got["details"].(map[string]any)
			}
			if len(details) != 1 || details[wantKey] != wantValue {
				t.Errorf("%s: details %q, want {%q: %q}", kind, details, wantKey, wantValue)
			}
		}
	})
}
