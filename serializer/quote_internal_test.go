package serializer

import "testing"

// TestQuotingBytes pins each format's escapes byte for byte, for every class of character
// the formats treat apart (the golden and round-trip tests check what a parser reads back,
// which several spellings would pass): short escapes, C0 controls, DEL, C1 controls
// (U+0085 is YAML's \N), the line and paragraph separators, the BOM and non-characters.
func TestQuotingBytes(t *testing.T) {
	const in = "a\"b\\c\n\r\t\b\f\x00\x01\x1f\x7f é\u0085\u009f\u00a0\u2028\u2029\ufeff\ufffe\uffff日🎉"
	for _, tt := range []struct {
		name string
		q    *quoting
		want string
	}{
		{"KETE template json", quoteKETETemplateJSON, `a\"b\\c\n\r\t\b\f\u0000\u0001\u001f` + "\x7f é\u0085\u009f\u00a0\u2028\u2029\ufeff\ufffe\uffff日🎉"},
		{"TOML basic", quoteTOMLBasic, `a\"b\\c\n\r\t\b\f\u0000\u0001\u001F\u007F` + " é\u0085\u009f\u00a0\u2028\u2029\ufeff\ufffe\uffff日🎉"},
		{"YAML double-quoted", quoteYAML, `a\"b\\c\n\r\t\x08\x0C\0\x01\x1F\x7F é\N\x9F` + "\u00a0" + `\L\P\uFEFF\uFFFE\uFFFF` + "日🎉"},
	} {
		if got := string(tt.q.appendEscaped([]byte("keep:"), in)); got != "keep:"+tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, "keep:"+tt.want)
		}
	}
}
