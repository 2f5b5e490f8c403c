package serializer_test

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// smileDecoder reads what the smile kind writes, independently of its encoder, from the
// Smile format specification (FasterXML/smile-format-specification,
// smile-specification.md): the header, objects and arrays, key tokens (short ASCII and
// Unicode names, long names, short and long back-references), and the value tokens
// kete's events use. Objects decode to smileObject, which keeps the order of its keys.
type smileDecoder struct {
	b     []byte
	i     int
	names []string // the shared name table
}

type smileObject struct {
	keys   []string
	values map[string]any
}

func decodeSmile(b []byte) (any, error) {
	if len(b) < 4 || b[0] != 0x3A || b[1] != 0x29 || b[2] != 0x0A {
		return nil, errors.New("no Smile header")
	}
	if b[3]&0xF0 != 0 {
		return nil, fmt.Errorf("Smile version %d", b[3]>>4)
	}
	if b[3]&0x02 != 0 {
		return nil, errors.New("shared string values announced, which this decoder does not read")
	}
	d := &smileDecoder{b: b, i: 4}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.i != len(b) && !(d.i == len(b)-1 && b[d.i] == 0xFF) {
		return nil, fmt.Errorf("%d bytes after the value", len(b)-d.i)
	}
	return v, nil
}

func (d *smileDecoder) next() (byte, error) {
	if d.i >= len(d.b) {
		return 0, errors.New("unexpected end")
	}
	c := d.b[d.i]
	d.i++
	return c, nil
}

func (d *smileDecoder) take(n int) (string, error) {
	if n < 0 || d.i+n > len(d.b) {
		return "", errors.New("string past the end")
	}
	s := string(d.b[d.i : d.i+n])
	d.i += n
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("invalid UTF-8 %q", s)
	}
	return s, nil
}

func (d *smileDecoder) untilFC() (string, error) {
	for j := d.i; j < len(d.b); j++ {
		if d.b[j] == 0xFC {
			s, err := d.take(j - d.i)
			d.i++
			return s, err
		}
	}
	return "", errors.New("long string without its end marker 0xFC")
}

// vint reads an unsigned VInt: 7 bits per byte, the last byte marked by its high bit and
// carrying 6 bits.
func (d *smileDecoder) vint() (uint64, error) {
	var u uint64
	for n := 0; n < 10; n++ {
		c, err := d.next()
		if err != nil {
			return 0, err
		}
		if c&0x80 != 0 {
			if c&0x40 != 0 {
				return 0, fmt.Errorf("VInt last byte %#x has bit 6 set", c)
			}
			return u<<6 | uint64(c&0x3F), nil
		}
		u = u<<7 | uint64(c)
	}
	return 0, errors.New("VInt longer than 10 bytes")
}

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func (d *smileDecoder) value() (any, error) {
	c, err := d.next()
	if err != nil {
		return nil, err
	}
	switch {
	case c == 0x20:
		return "", nil
	case c == 0x21:
		return nil, nil
	case c == 0x22:
		return false, nil
	case c == 0x23:
		return true, nil
	case c == 0x24, c == 0x25:
		u, err := d.vint()
		if c == 0x24 && u > 0xFFFFFFFF {
			return nil, fmt.Errorf("32-bit integer token with a %d-bit value", 64)
		}
		return unzigzag(u), err
	case 0x40 <= c && c <= 0x5F:
		return d.take(int(c&0x1F) + 1)
	case 0x60 <= c && c <= 0x7F:
		return d.take(int(c&0x1F) + 33)
	case 0x80 <= c && c <= 0x9F:
		return d.take(int(c&0x1F) + 2)
	case 0xA0 <= c && c <= 0xBF:
		return d.take(int(c&0x1F) + 34)
	case 0xC0 <= c && c <= 0xDF:
		return unzigzag(uint64(c & 0x1F)), nil
	case c == 0xE0, c == 0xE4:
		return d.untilFC()
	case c == 0xF8:
		var arr []any
		for d.i < len(d.b) && d.b[d.i] != 0xF9 {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := d.next()
		return arr, err
	case c == 0xFA:
		return d.object()
	}
	return nil, fmt.Errorf("value token %#x at %d", c, d.i-1)
}

func (d *smileDecoder) object() (any, error) {
	o := &smileObject{values: map[string]any{}}
	for {
		c, err := d.next()
		if err != nil {
			return nil, err
		}
		var name string
		switch {
		case c == 0xFB:
			return o, nil
		case c == 0x20:
			name = ""
		case 0x30 <= c && c <= 0x33:
			lo, err := d.next()
			if err != nil {
				return nil, err
			}
			idx := int(c&0x03)<<8 | int(lo)
			if idx < 64 || idx >= len(d.names) {
				return nil, fmt.Errorf("long name reference %d (table of %d)", idx, len(d.names))
			}
			name = d.names[idx]
		case 0x40 <= c && c <= 0x7F:
			idx := int(c & 0x3F)
			if idx >= len(d.names) {
				return nil, fmt.Errorf("name reference %d (table of %d)", idx, len(d.names))
			}
			name = d.names[idx]
		case 0x80 <= c && c <= 0xBF, 0xC0 <= c && c <= 0xF7, c == 0x34:
			switch {
			case c == 0x34:
				name, err = d.untilFC()
			case c <= 0xBF:
				name, err = d.take(int(c&0x3F) + 1)
			default:
				name, err = d.take(int(c-0xC0) + 2)
			}
			if err != nil {
				return nil, err
			}
			if len(d.names) == 1024 {
				d.names = d.names[:0]
			}
			d.names = append(d.names, name)
		default:
			return nil, fmt.Errorf("key token %#x at %d", c, d.i-1)
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if _, dup := o.values[name]; dup {
			return nil, fmt.Errorf("duplicate key %q", name)
		}
		o.keys = append(o.keys, name)
		o.values[name] = v
	}
}
