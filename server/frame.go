package server

import (
	"encoding/binary"
	"strconv"

	"github.com/kete-dev/kete/internal/jsontext"
)

// WebSocket opcodes the server writes itself (RFC 6455 §5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// Close codes the server sends (RFC 6455 §7.4.1).
const (
	// CloseNormal ends a session on request (admin DELETE, server shutdown uses CloseGoingAway).
	CloseNormal = 1000
	// CloseGoingAway is sent when the server shuts down.
	CloseGoingAway = 1001
	// ClosePolicyViolation is sent for an invalid frame ("Invalid message format!"), a slow
	// consumer, an expired or invalid token, and a connection replaced by a newer one.
	ClosePolicyViolation = 1008
	// CloseMessageTooBig is sent when a client frame exceeds the app's size limit.
	CloseMessageTooBig = 1009
)

// Close reasons, sent in close frames and matched by tests and clients.
const (
	ReasonInvalidFormat = "Invalid message format!"
	ReasonSlowConsumer  = "slow consumer"
	ReasonTokenExpired  = "token expired"
	ReasonTokenInvalid  = "invalid token"
	ReasonReplaced      = "replaced by a newer connection"
	ReasonIdle          = "idle timeout"
	ReasonShutdown      = "server shutting down"
	ReasonClosedByAdmin = "closed by administrator"
)

// maxFrameHeader is the largest header of an unmasked server frame.
const maxFrameHeader = 10

// frameBuilder builds one server frame in a single allocation: the payload is appended
// after room for the largest header, and the header is written right before it.
type frameBuilder struct{ b []byte }

func newFrameBuilder(sizeHint int) frameBuilder {
	b := make([]byte, maxFrameHeader, maxFrameHeader+sizeHint)
	return frameBuilder{b: b}
}

// finish writes the header for opcode and returns the complete frame.
func (f frameBuilder) finish(opcode byte) []byte {
	n := len(f.b) - maxFrameHeader
	var hdr [maxFrameHeader]byte
	hdr[0] = 0x80 | opcode
	h := 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	start := maxFrameHeader - h
	copy(f.b[start:], hdr[:h])
	return f.b[start:]
}

// encodeFrame returns payload wrapped in one unmasked server frame.
func encodeFrame(opcode byte, payload []byte) []byte {
	f := newFrameBuilder(len(payload))
	f.b = append(f.b, payload...)
	return f.finish(opcode)
}

// encodeClose returns a close frame with code and reason (reason cut to fit 125 bytes).
func encodeClose(code uint16, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, code)
	p = append(p, reason...)
	return encodeFrame(opClose, p)
}

// encodeServerFrame builds the frame {"topic":…,"messageType":…,"data":…}; data must be
// valid JSON. binary selects a binary frame (the protocol's compress:true).
func encodeServerFrame(topic, messageType string, data []byte, binary bool) []byte {
	return encodeServerFrameAt(topic, messageType, data, binary, 0)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }

// appendClient appends {"connectionId","subject","permissions"}, the "client" of the
// frames connection connID publishes with session ss.
func appendClient(dst []byte, connID string, ss *session) []byte {
	dst = append(dst, `{"connectionId":`...)
	dst = appendJSONString(dst, connID)
	dst = append(dst, `,"subject":`...)
	dst = appendJSONString(dst, ss.subject)
	dst = append(dst, `,"permissions":[`...)
	for i, p := range ss.permissions {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, p)
	}
	return append(dst, "]}"...)
}

// clientSize is about how long appendClient's output is, to size a buffer.
func clientSize(connID string, ss *session) int {
	n := 50 + len(connID) + len(ss.subject)
	for _, p := range ss.permissions {
		n += len(p) + 3
	}
	return n
}

// errorFrame is the server's answer to a refused frame:
// {"topic":T,"messageType":"error","data":{"code","message","id"?}}.
func errorFrame(topic, code, message, id string) []byte {
	data := []byte(`{"code":`)
	data = appendJSONString(data, code)
	data = append(data, `,"message":`...)
	data = appendJSONString(data, message)
	if id != "" {
		data = append(data, `,"id":`...)
		data = appendJSONString(data, id)
	}
	data = append(data, '}')
	return encodeServerFrame(topic, "error", data, false)
}

// encodeServerFrameAt is encodeServerFrame with the message's offset in its topic's
// history, {"topic","messageType","data","offset"}; offset 0 (none: offsets start at 1)
// leaves "offset" out.
func encodeServerFrameAt(topic, messageType string, data []byte, binary bool, offset uint64) []byte {
	extra := 40 // the JSON around the three fields
	if offset != 0 {
		extra += 20
	}
	f := newFrameBuilder(len(topic) + len(messageType) + len(data) + extra)
	f.b = append(f.b, `{"topic":`...)
	f.b = appendJSONString(f.b, topic)
	f.b = append(f.b, `,"messageType":`...)
	f.b = appendJSONString(f.b, messageType)
	f.b = append(f.b, `,"data":`...)
	f.b = append(f.b, data...)
	if offset != 0 {
		f.b = append(f.b, `,"offset":`...)
		f.b = strconv.AppendUint(f.b, offset, 10)
	}
	f.b = append(f.b, '}')
	if binary {
		return f.finish(opBinary)
	}
	return f.finish(opText)
}
