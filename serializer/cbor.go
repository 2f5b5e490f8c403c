package serializer

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/kete-dev/kete"
)

// CBOR writes an event as KETE's CborSerializer does (Jackson's CBORMapper,
// docs/user-guide/serializers/cbor.md): one map of the properties of shape.go in that
// order, text strings, integers in their shortest form, null (0xF6) for a missing value,
// and details and authDetails as nested maps. Maps are definite-length, as the
// documented bytes show (A9 …); details keys are sorted.
//
// Values are encoded by fxamacker/cbor; the maps are written here, because its maps have
// no order of their own.
type CBOR struct{}

// ContentType is application/cbor.
func (CBOR) ContentType() string { return "application/cbor" }

// Serialize appends e as one CBOR map to dst.
func (CBOR) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	out, err := cborEncMode.Marshal(cborObject(shape(e)))
	if err != nil {
		return dst, fmt.Errorf("cbor: event %s: %w", e.ID, err)
	}
	return append(dst, out...), nil
}

// cborEncMode is RFC 8949's core deterministic encoding: shortest integers and lengths.
var cborEncMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // the options are constants
	}
	return em
}()

// cborObject is a map whose entries keep their order.
type cborObject []node

// MarshalCBOR writes the map header and each name and value in order.
func (o cborObject) MarshalCBOR() ([]byte, error) {
	b := appendCBORHead(nil, 5, uint64(len(o)))
	for _, n := range o {
		var v any
		switch n.kind {
		case stringValue:
			v = n.str
		case longValue:
			v = n.num
		case mapValue:
			v = cborPairs(n.pairs)
		case objectValue:
			v = cborObject(n.children)
		}
		var err error
		if b, err = appendCBOR(b, n.name); err != nil {
			return nil, err
		}
		if b, err = appendCBOR(b, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// cborPairs is a details map in key order.
type cborPairs []pair

// MarshalCBOR writes the map header and each key and value in order.
func (p cborPairs) MarshalCBOR() ([]byte, error) {
	b := appendCBORHead(nil, 5, uint64(len(p)))
	for _, kv := range p {
		var err error
		if b, err = appendCBOR(b, kv.key); err != nil {
			return nil, err
		}
		if b, err = appendCBOR(b, kv.value); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendCBOR(b []byte, v any) ([]byte, error) {
	out, err := cborEncMode.Marshal(v) // nil is null (0xF6)
	return append(b, out...), err
}

// appendCBORHead appends the head of a data item of major type major and argument n in
// its shortest form (RFC 8949, section 3).
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xFF:
		return append(b, m|24, byte(n))
	case n <= 0xFFFF:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xFFFFFFFF:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
