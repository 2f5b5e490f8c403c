package bench

import (
	"bytes"
	"strconv"
)

// stampKey marks the send timestamp in every payload the tool publishes:
// {"t":UNIX_NANOS,"seq":N,"pad":"xxx…"}. A receiver finds it wherever the payload sits in
// the delivered frame (bare from the hub, under "data" from the server, inside an event's
// details as a string in end-to-end runs).
var stampKey = []byte(`"t":`)

// appendPayload appends a JSON payload of exactly size bytes (or the smallest possible,
// about 40, when size is below that) carrying sent (unix ns) and seq.
func appendPayload(dst []byte, sent int64, seq uint64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, sent, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"pad":"`...)
	for pad := size - (len(dst) - start) - 2; pad > 0; pad-- {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// stampOf returns the send timestamp (unix ns) a payload made by appendPayload carries,
// quoted or not; ok is false when b holds none.
func stampOf(b []byte) (sent int64, ok bool) {
	i := bytes.Index(b, stampKey)
	if i < 0 {
		return 0, false
	}
	b = b[i+len(stampKey):]
	if len(b) > 0 && b[0] == '"' {
		b = b[1:]
	}
	n, digits := int64(0), 0
	for _, c := range b {
		if c < '0' || c > '9' || digits == 19 {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	return n, digits > 0
}
