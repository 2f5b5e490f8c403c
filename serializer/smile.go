package serializer

import (
	"github.com/kete-dev/kete"
)

// Smile writes an event as KETE's SmileSerializer does (Jackson's SmileMapper with its
// defaults, docs/user-guide/serializers/smile.md): the header 3A 29 0A 01 (version 0,
// shared property names on, shared string values and raw binary off), then one object
// of the properties of shape.go in that order, null as 0x21, details and authDetails as
// nested objects, no end marker.
//
// No well-kept Go library writes Smile, so this encoder is written against the format's
// specification (FasterXML/smile-format-specification, smile-specification.md): key
// tokens 0x80-0xBF (ASCII names of 1-64 bytes), 0xC0-0xF7 (other names of 2-57 bytes),
// 0x34…0xFC (longer names), back-references 0x40-0x7F and 0x30-0x33 to names already
// written; value tokens 0x20 (""), 0x40-0x7F (ASCII strings of 1-64 bytes), 0x80-0xBF
// (other strings of 2-64 bytes), 0xE0/0xE4…0xFC (longer strings), 0xC0-0xDF (integers
// -16 to 15), 0x24/0x25 (zigzag VInt 32- and 64-bit integers), as Jackson's
// SmileGenerator chooses them.
type Smile struct{}

// ContentType is application/x-jackson-smile.
func (Smile) ContentType() string { return "application/x-jackson-smile" }

// Serialize appends e as a Smile document to dst.
func (Smile) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	w := smileWriter{b: append(dst, 0x3A, 0x29, 0x0A, 0x01)}
	w.object(shape(e))
	return w.b, nil
}

// smileMaxSharedNames is the size of the shared name table (spec: 10-bit references).
const smileMaxSharedNames = 1024

type smileWriter struct {
	b     []byte
	names map[string]int // shared property names already written, by index
}

func (w *smileWriter) object(nodes []node) {
	w.b = append(w.b, 0xFA)
	for _, n := range nodes {
		w.name(n.name)
		switch n.kind {
		case nullValue:
			w.b = append(w.b, 0x21)
		case stringValue:
			w.str(n.str)
		case longValue:
			w.long(n.num)
		case mapValue:
			w.b = append(w.b, 0xFA)
			for _, p := range n.pairs {
				w.name(p.key)
				w.str(p.value)
			}
			w.b = append(w.b, 0xFB)
		case objectValue:
			w.object(n.children)
		}
	}
	w.b = append(w.b, 0xFB)
}

// name writes a property name, or a back-reference to the same name written before.
func (w *smileWriter) name(s string) {
	if s == "" {
		w.b = append(w.b, 0x20)
		return
	}
	if i, ok := w.names[s]; ok {
		if i < 64 {
			w.b = append(w.b, 0x40+byte(i))
		} else {
			w.b = append(w.b, 0x30|byte(i>>8), byte(i))
		}
		return
	}
	switch n := len(s); {
	case ascii(s) && n <= 64:
		w.b = append(w.b, 0x80+byte(n-1))
		w.b = append(w.b, s...)
	case !ascii(s) && n <= 57:
		w.b = append(w.b, 0xC0+byte(n-2))
		w.b = append(w.b, s...)
	default:
		w.b = append(w.b, 0x34)
		w.b = append(w.b, s...)
		w.b = append(w.b, 0xFC)
	}
	if w.names == nil {
		w.names = make(map[string]int, 16)
	}
	if len(w.names) == smileMaxSharedNames {
		clear(w.names) // the table starts over when full, in writer and reader alike
	}
	w.names[s] = len(w.names)
}

// str writes a string value (valid UTF-8, so it never holds 0xFC-0xFF).
func (w *smileWriter) str(s string) {
	n := len(s)
	switch {
	case n == 0:
		w.b = append(w.b, 0x20)
		return
	case ascii(s) && n <= 32:
		w.b = append(w.b, 0x40+byte(n-1))
	case ascii(s) && n <= 64:
		w.b = append(w.b, 0x60+byte(n-33))
	case ascii(s):
		w.b = append(w.b, 0xE0)
		w.b = append(w.b, s...)
		w.b = append(w.b, 0xFC)
		return
	case n <= 33:
		w.b = append(w.b, 0x80+byte(n-2))
	case n <= 64:
		w.b = append(w.b, 0xA0+byte(n-34))
	default:
		w.b = append(w.b, 0xE4)
		w.b = append(w.b, s...)
		w.b = append(w.b, 0xFC)
		return
	}
	w.b = append(w.b, s...)
}

// long writes v as Jackson does: a small integer token, else a 32-bit integer when it
// fits, else a 64-bit one; both zigzag-encoded VInts.
func (w *smileWriter) long(v int64) {
	if v >= -16 && v <= 15 {
		w.b = append(w.b, 0xC0+byte(uint64(v<<1^v>>63)))
		return
	}
	if v >= -1<<31 && v < 1<<31 {
		w.b = append(w.b, 0x24)
		w.b = appendSmileVInt(w.b, uint64(uint32(int32(v)<<1^int32(v)>>31)))
		return
	}
	w.b = append(w.b, 0x25)
	w.b = appendSmileVInt(w.b, uint64(v<<1^v>>63))
}

// appendSmileVInt appends u big-endian: 7 bits in each byte but the last, whose high bit
// is set and which holds the lowest 6 bits.
func appendSmileVInt(b []byte, u uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = 0x80 | byte(u&0x3F)
	u >>= 6
	for u != 0 {
		i--
		tmp[i] = byte(u & 0x7F)
		u >>= 7
	}
	return append(b, tmp[i:]...)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
