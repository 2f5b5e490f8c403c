package serializer

import (
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
)

// TOML writes an event as KETE's TomlSerializer does (Jackson's TomlMapper,
// docs/user-guide/serializers/toml.md): one key = value line per property in shape.go's
// order, strings as 'literal strings', nested properties as dotted keys
// (details.username = 'john.doe'), and the empty string for null, which TOML cannot write.
//
// A string that a literal string cannot hold (a ' or a control character) is written as
// a "basic string" with escapes; a key that is not a bare key is quoted.
type TOML struct{}

// ContentType is application/toml.
func (TOML) ContentType() string { return "application/toml" }

// AlwaysUTF8 implements kete.UTF8Serializer: every string is made valid UTF-8 first.
func (TOML) AlwaysUTF8() {}

// Serialize appends e as a TOML document to dst.
func (TOML) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return appendTOMLNodes(dst, shape(e), ""), nil
}

func appendTOMLNodes(dst []byte, nodes []node, prefix string) []byte {
	for _, n := range nodes {
		switch n.kind {
		case mapValue:
			for _, p := range n.pairs {
				dst = appendTOMLKey(append(dst, prefix...), n.name)
				dst = append(dst, '.')
				dst = appendTOMLKey(dst, p.key)
				dst = appendTOMLString(append(dst, " = "...), p.value)
				dst = append(dst, '\n')
			}
			continue
		case objectValue:
			dst = appendTOMLNodes(dst, n.children, prefix+n.name+".")
			continue
		}
		dst = appendTOMLKey(append(dst, prefix...), n.name)
		dst = append(dst, " = "...)
		if n.kind == longValue {
			dst = strconv.AppendInt(dst, n.num, 10)
		} else {
			dst = appendTOMLString(dst, n.str)
		}
		dst = append(dst, '\n')
	}
	return dst
}

func appendTOMLKey(dst []byte, key string) []byte {
	bare := key != ""
	for i := 0; i < len(key) && bare; i++ {
		c := key[i]
		bare = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	if bare {
		return append(dst, key...)
	}
	return appendTOMLBasic(dst, key)
}

// appendTOMLString appends s as a 'literal string' when it can hold it, else as a
// "basic string".
func appendTOMLString(dst []byte, s string) []byte {
	literal := !strings.ContainsRune(s, '\'')
	for i := 0; i < len(s) && literal; i++ {
		c := s[i]
		literal = c >= 0x20 && c != 0x7F || c == '\t'
	}
	if literal {
		dst = append(dst, '\'')
		dst = append(dst, s...)
		return append(dst, '\'')
	}
	return appendTOMLBasic(dst, s)
}

// appendTOMLBasic appends s as a "basic string".
func appendTOMLBasic(dst []byte, s string) []byte {
	dst = quoteTOMLBasic.appendEscaped(append(dst, '"'), s)
	return append(dst, '"')
}
