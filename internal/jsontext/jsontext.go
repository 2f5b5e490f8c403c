// Package jsontext appends JSON strings without reflection, for the hot paths that build
// JSON by hand: the json serializer and the server's frames. The output is what
// encoding/json writes with SetEscapeHTML(false): invalid UTF-8 becomes U+FFFD, and
// U+2028 and U+2029 are escaped so the text is also valid JavaScript.
package jsontext

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped is AppendString without the quotes.
func AppendEscaped(dst []byte, s string) []byte {
	// Most of an event is ids, names and addresses that need no escaping: find the first
	// byte that might, eight bytes at a time, and copy everything before it at once.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		// plainASCII8, written out: the call is too dear to make per word.
		t := s[i : i+8]
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		below20 := (w - lsb8*0x20) & ^w
		quote := w ^ (lsb8 * '"')
		backslash := w ^ (lsb8 * '\\')
		if (below20|(quote-lsb8)&^quote|(backslash-lsb8)&^backslash|w)&msb8 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= utf8.RuneSelf || b == '"' || b == '\\' {
			break
		}
	}
	if i == len(s) {
		return append(dst, s...)
	}
	return appendEscapedFrom(dst, s, i)
}

// appendEscapedFrom escapes s, whose bytes before i need no escaping.
func appendEscapedFrom(dst []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		for i+8 <= len(s) && plainASCII8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// plainASCII8 reports whether the eight bytes of s hold no byte that JSON escapes or that
// starts a multi-byte sequence: nothing below 0x20, no '"', no '\\', nothing from 0x80.
// The compiler turns the byte assembly into one 64-bit load.
func plainASCII8(s string) bool {
	_ = s[7]
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	below20 := (w - lsb8*0x20) & ^w
	quote := w ^ (lsb8 * '"')
	backslash := w ^ (lsb8 * '\\')
	return (below20|(quote-lsb8)&^quote|(backslash-lsb8)&^backslash|w)&msb8 == 0
}
