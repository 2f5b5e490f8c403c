package natsbroker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/kete-dev/kete/server"
)

// escapeToken turns s into one NATS subject token: the bytes NATS gives a meaning to
// ('.', '*', '>'), spaces and control bytes, bytes outside ASCII and '%' itself become
// %XX, so that every app id and topic has a subject of its own and decodes back exactly.
// The empty string becomes "%" (NATS tokens cannot be empty).
func escapeToken(s string) string {
	if s == "" {
		return "%"
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func needsEscape(c byte) bool {
	return c <= ' ' || c >= 0x7F || c == '.' || c == '*' || c == '>' || c == '%'
}

// unescapeToken reverses escapeToken.
func unescapeToken(t string) (string, error) {
	if t == "%" {
		return "", nil
	}
	if !strings.Contains(t, "%") {
		return t, nil
	}
	b := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(t) {
			return "", fmt.Errorf("natsbroker: subject token %q: truncated escape", t)
		}
		hi, ok1 := unhex(t[i+1])
		lo, ok2 := unhex(t[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("natsbroker: subject token %q: bad escape", t)
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// Wire format of a publication's payload (version 1), compact so that a small message
// costs a few bytes more than its data:
//
//	byte 0      version (1)
//	byte 1      flags: bit 0 Binary, bit 1 History, bit 2 a DedupID follows, bit 3 a Node follows
//	uvarint     len(MessageType), then its bytes
//	uvarint     len(Origin), then its bytes
//	[uvarint    len(DedupID), then its bytes]
//	[uvarint    len(Node), then its bytes]
//	rest        Data
//
// App id and topic travel in the subject; Offset and Epoch come from the stream's
// metadata. A receiver refuses a version it does not know.
const (
	wireVersion = 1
	flagBinary  = 1 << 0
	flagHistory = 1 << 1
	flagDedupID = 1 << 2
	flagNode    = 1 << 3
)

var errWire = errors.New("natsbroker: malformed message")

// appendMessage appends m's wire form to dst.
func appendMessage(dst []byte, m *server.Message) []byte {
	var flags byte
	if m.Binary {
		flags |= flagBinary
	}
	if m.History {
		flags |= flagHistory
	}
	if m.DedupID != "" {
		flags |= flagDedupID
	}
	if m.Node != "" {
		flags |= flagNode
	}
	dst = append(dst, wireVersion, flags)
	dst = appendString(dst, m.MessageType)
	dst = appendString(dst, m.Origin)
	if m.DedupID != "" {
		dst = appendString(dst, m.DedupID)
	}
	if m.Node != "" {
		dst = appendString(dst, m.Node)
	}
	return append(dst, m.Data...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeMessage parses a wire form. Data aliases b; the caller must not reuse b.
func decodeMessage(b []byte) (server.Message, error) {
	var m server.Message
	if len(b) < 2 {
		return m, errWire
	}
	if b[0] != wireVersion {
		return m, fmt.Errorf("natsbroker: message wire version %d, want %d", b[0], wireVersion)
	}
	flags := b[1]
	m.Binary = flags&flagBinary != 0
	m.History = flags&flagHistory != 0
	b = b[2:]
	var err error
	if m.MessageType, b, err = readString(b); err != nil {
		return m, err
	}
	if m.Origin, b, err = readString(b); err != nil {
		return m, err
	}
	if flags&flagDedupID != 0 {
		if m.DedupID, b, err = readString(b); err != nil {
			return m, err
		}
	}
	if flags&flagNode != 0 {
		if m.Node, b, err = readString(b); err != nil {
			return m, err
		}
	}
	m.Data = b
	return m, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errWire
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
