package serializer

import "unicode/utf8"

// quoting is how one format escapes text inside a double-quoted string. The formats agree
// on the method (a backslash and a letter for some characters, a backslash, a letter and
// hex digits for others) and differ only in which characters take which form; a quoting
// holds those differences as data, and appendEscaped does the rest for all of them.
type quoting struct {
	// short maps a character to its short escape, e.g. '\n' to `\n`.
	short map[rune]string
	// numeric says how to write r, which has no short escape, when the format cannot
	// hold it printed: prefix followed by digits hex digits (`\u` and 4 for \u001F), or
	// digits 0 to write r as it is.
	numeric func(r rune) (prefix string, digits int)
	// hex is the digits numeric escapes are written with: upper or lower case.
	hex string

	ascii [utf8.RuneSelf]string // the escape of each ASCII character, "" for none; from short and numeric
}

const (
	hexLower = "0123456789abcdef"
	hexUpper = "0123456789ABCDEF"
)

// newQuoting returns q with its ASCII table filled, so that the common case (ASCII text)
// costs one table look-up per byte.
func newQuoting(q quoting) *quoting {
	for c := range rune(utf8.RuneSelf) {
		q.ascii[c] = string(q.appendEscape(nil, c))
	}
	return &q
}

// escapes says whether r is written escaped.
func (q *quoting) escapes(r rune) bool {
	if _, ok := q.short[r]; ok {
		return true
	}
	_, digits := q.numeric(r)
	return digits > 0
}

// appendEscape appends r's escape, or nothing when r is written as it is.
func (q *quoting) appendEscape(dst []byte, r rune) []byte {
	if e, ok := q.short[r]; ok {
		return append(dst, e...)
	}
	prefix, digits := q.numeric(r)
	if digits == 0 {
		return dst
	}
	dst = append(dst, prefix...)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		dst = append(dst, q.hex[r>>shift&0xF])
	}
	return dst
}

// appendEscaped appends s, escaped, without the quotes. s is valid UTF-8 (every caller
// passes text through validUTF8 first); a byte that is not would be written as U+FFFD.
// Runs of characters that need no escape are copied at once.
func (q *quoting) appendEscaped(dst []byte, s string) []byte {
	start := 0 // s[start:i] needs no escape and is not yet in dst
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if e := q.ascii[c]; e != "" {
				dst = append(append(dst, s[start:i]...), e...)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(append(dst, s[start:i]...), r)
			i++
			start = i
			continue
		}
		if q.escapes(r) {
			dst = q.appendEscape(append(dst, s[start:i]...), r)
			start = i + size
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// shortEscapesC are the short escapes JSON and TOML share with C.
var shortEscapesC = map[rune]string{
	'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`,
}

// quoteKETETemplateJSON is KETE's TemplateSerializer.escape for json: the short escapes,
// and \u00xx (lower case) for the other control characters below 0x20; DEL and every
// non-ASCII character stay as they are.
var quoteKETETemplateJSON = newQuoting(quoting{
	short: shortEscapesC,
	numeric: func(r rune) (string, int) {
		if r < 0x20 {
			return `\u`, 4
		}
		return "", 0
	},
	hex: hexLower,
})

// quoteTOMLBasic is a TOML basic string ("…", toml.io/en/v1.0.0#string): the short
// escapes, and \u00XX for the other control characters and DEL, which TOML forbids
// printed.
var quoteTOMLBasic = newQuoting(quoting{
	short: shortEscapesC,
	numeric: func(r rune) (string, int) {
		if r < 0x20 || r == 0x7F {
			return `\u`, 4
		}
		return "", 0
	},
	hex: hexUpper,
})

// quoteYAML is a YAML 1.1 double-quoted scalar as SnakeYAML's emitter escapes it: YAML's
// own short escapes (\0, \N, \L, \P, but not \b or \f), \xXX for the C0 and C1 control
// characters and DEL, and \uXXXX for the BOM, surrogates and the non-characters
// U+FFFE and U+FFFF, which YAML does not allow printed.
var quoteYAML = newQuoting(quoting{
	short: map[rune]string{
		'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`,
		0: `\0`, 0x85: `\N`, 0x2028: `\L`, 0x2029: `\P`,
	},
	numeric: func(r rune) (string, int) {
		switch {
		case r < 0x20 || 0x7F <= r && r <= 0x9F:
			return `\x`, 2
		case r == 0xFEFF || 0xD800 <= r && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF:
			return `\u`, 4
		}
		return "", 0
	},
	hex: hexUpper,
})
