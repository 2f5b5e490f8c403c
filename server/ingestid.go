package server

import (
	"bytes"
	"unicode/utf8"
)

// An ingest frame's id, read exactly.
//
// The frame is scanned once, without a nesting limit (encoding/json stops at 10,000
// levels, and a frame nested deeper used to lose its id and with it de-duplication), and
// the id is decoded byte for byte: raw bytes that are not UTF-8 (a binary frame) are kept
// as they are, and an escaped lone surrogate ("\udc80") is kept as its three-byte
// (WTF-8) form instead of U+FFFD, so that two ids that differ only there stay two ids.

// scanIngestFrame reports whether b is one JSON value (RFC 8259 grammar; UTF-8 is the
// WebSocket layer's business: gws checks text frames, and binary frames stay binary) and,
// when it is an object, the value of its top-level "id" member: a string (decoded as
// above) or a number (its text), at most maxIDLen bytes; "" otherwise.
func scanIngestFrame(b []byte) (valid bool, id string) {
	s := jsonScan{b: b}
	var stackBuf [64]byte
	stack := stackBuf[:0] // the open containers, '{' or '['
	idStart := -1         // where the top-level "id" member's value starts, while it is read
	rawID := []byte(nil)
	s.space()
value:
	if s.i >= len(b) {
		return false, ""
	}
	switch c := b[s.i]; c {
	case '{', '[':
		s.i++
		stack = append(stack, c)
		s.space()
		if s.peek() == c+2 { // '}' and ']' are two after '{' and '['
			s.i++
			stack = stack[:len(stack)-1]
			goto after
		}
		if c == '{' {
			goto member
		}
		goto value
	default:
		if !s.scalar(c) {
			return false, ""
		}
	}
after:
	if idStart >= 0 && len(stack) == 1 {
		rawID = b[idStart:s.i] // the last "id" wins, as in encoding/json
		idStart = -1
	}
	s.space()
	if len(stack) == 0 {
		if s.i != len(b) {
			return false, ""
		}
		if rawID == nil {
			return true, ""
		}
		return true, idText(rawID)
	}
	switch c := s.peek(); {
	case c == ',':
		s.i++
		s.space()
		if stack[len(stack)-1] == '{' {
			goto member
		}
		goto value
	case c == '}' && stack[len(stack)-1] == '{', c == ']' && stack[len(stack)-1] == '[':
		s.i++
		stack = stack[:len(stack)-1]
		goto after
	}
	return false, ""
member:
	if s.peek() != '"' {
		return false, ""
	}
	keyStart := s.i
	if !s.str() {
		return false, ""
	}
	isID := len(stack) == 1 && isIDKey(b[keyStart:s.i])
	s.space()
	if s.peek() != ':' {
		return false, ""
	}
	s.i++
	s.space()
	if isID {
		idStart = s.i
	}
	goto value
}

// scalar reads the string, number or literal that starts with c.
func (s *jsonScan) scalar(c byte) bool {
	switch {
	case c == '"':
		return s.str()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// isIDKey reports whether the quoted key tok is "id" (escapes decoded).
func isIDKey(tok []byte) bool {
	if string(tok) == `"id"` {
		return true
	}
	if len(tok) > 14 || bytes.IndexByte(tok, '\\') < 0 { // "\u0069\u0064" is the longest spelling
		return false
	}
	k, ok := unquoteExact(tok)
	return ok && k == "id"
}

// idText turns the raw value of an "id" member into the id: a string decoded exactly,
// a number's text; "" for anything else or an id longer than maxIDLen.
func idText(raw []byte) string {
	var id string
	switch c := raw[0]; {
	case c == '"':
		s, ok := unquoteExact(raw)
		if !ok {
			return ""
		}
		id = s
	case c == '-' || c >= '0' && c <= '9':
		id = string(raw)
	default:
		return ""
	}
	if len(id) > maxIDLen {
		return ""
	}
	return id
}

// unquoteExact decodes the JSON string token tok (already validated) without losing
// anything: bytes that are not UTF-8 stay as they are, and an escaped surrogate that is
// not half of a pair becomes its three-byte (WTF-8) encoding rather than U+FFFD.
func unquoteExact(tok []byte) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	in := tok[1 : len(tok)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return string(in), true
	}
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(in) {
			return "", false
		}
		switch e := in[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(in[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u' {
				if lo, ok := hex4(in[i+2:]); ok && lo >= 0xDC00 && lo < 0xE000 {
					out = utf8.AppendRune(out, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
					i += 6
					continue
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				// A lone surrogate: WTF-8, which no valid UTF-8 text can equal.
				out = append(out, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
			} else {
				out = utf8.AppendRune(out, r)
			}
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonScan reads JSON tokens from b at i.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string token: no raw control characters, only JSON's escapes.
func (s *jsonScan) str() bool {
	b := s.b
	i := s.i + 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(b) {
				return false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b[i+2:]); !ok {
					return false
				}
				i += 6
			default:
				return false
			}
		default:
			i++
		}
	}
	return false
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *jsonScan) number() bool {
	b, i := s.b, s.i
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}

func (s *jsonScan) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}
