package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

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
	f := newFrameBuilder(len(topic) + len(messageType) + len(data) + 40)
	f.b = append(f.b, `{"topic":`...)
	f.b = appendJSONString(f.b, topic)
	f.b = append(f.b, `,"messageType":`...)
	f.b = appendJSONString(f.b, messageType)
	f.b = append(f.b, `,"data":`...)
	f.b = append(f.b, data...)
	f.b = append(f.b, '}')
	if binary {
		return f.finish(opBinary)
	}
	return f.finish(opText)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }

// frameType is what a client frame asks for.
type frameType uint8

const (
	frameSubscribe frameType = iota + 1
	frameUnsubscribe
	framePublish
	frameMessage
	frameRefresh
)

func (t frameType) String() string {
	switch t {
	case frameSubscribe:
		return "subscribe"
	case frameUnsubscribe:
		return "unsubscribe"
	case framePublish:
		return "publish"
	case frameMessage:
		return "message"
	case frameRefresh:
		return "refresh"
	}
	return "frameType(" + strconv.Itoa(int(t)) + ")"
}

// clientFrame is a decoded, validated client frame.
type clientFrame struct {
	Type        frameType
	Topic       string
	MessageType string // "broadcast" when the client gave none
	Payload     json.RawMessage
	ID          string // as given; the server generates one when empty
	Compress    bool
	Token       string          // refresh only
	Since       *StreamPosition // subscribe only: recover from this position
}

// Limits on client frame fields, so that one frame cannot make the server hold much.
const (
	maxTopicLen       = 256
	maxMessageTypeLen = 64
	maxIDLen          = 128
)

// errInvalidFrame is wrapped by every decodeClientFrame error; the connection is closed
// with ReasonInvalidFormat.
var errInvalidFrame = errors.New("invalid client frame")

type wireData struct {
	Topic       *string         `json:"topic"`
	MessageType *string         `json:"messageType"`
	Payload     json.RawMessage `json:"payload"`
	ID          json.RawMessage `json:"id"`
	Compress    *bool           `json:"compress"`
	Token       *string         `json:"token"`
	Since       *wireSince      `json:"since"`
}

// wireSince is a subscribe's "since":{"offset","epoch"}.
type wireSince struct {
	Offset *uint64 `json:"offset"`
	Epoch  string  `json:"epoch"`
}

type wireFrame struct {
	Type               *string   `json:"type"`
	Data               *wireData `json:"data"`
	RefreshAccessToken *string   `json:"RefreshAccessToken"`
}

// decodeClientFrame parses and validates one client text frame. Every error wraps
// errInvalidFrame and names what was wrong.
func decodeClientFrame(b []byte) (clientFrame, error) {
	var w wireFrame
	if err := json.Unmarshal(b, &w); err != nil {
		return clientFrame{}, fmt.Errorf("%w: %v", errInvalidFrame, err)
	}
	if w.RefreshAccessToken != nil {
		if w.Type != nil || w.Data != nil {
			return clientFrame{}, fmt.Errorf("%w: RefreshAccessToken must be alone", errInvalidFrame)
		}
		if *w.RefreshAccessToken == "" {
			return clientFrame{}, fmt.Errorf("%w: RefreshAccessToken is empty", errInvalidFrame)
		}
		return clientFrame{Type: frameRefresh, Token: *w.RefreshAccessToken}, nil
	}
	if w.Type == nil {
		return clientFrame{}, fmt.Errorf("%w: missing type", errInvalidFrame)
	}
	if w.Data == nil {
		return clientFrame{}, fmt.Errorf("%w: missing data", errInvalidFrame)
	}
	d := w.Data
	var f clientFrame
	switch *w.Type {
	case "subscribe":
		f.Type = frameSubscribe
	case "unsubscribe":
		f.Type = frameUnsubscribe
	case "publish":
		f.Type = framePublish
	case "message":
		f.Type = frameMessage
	case "refresh":
		if d.Token == nil || *d.Token == "" {
			return clientFrame{}, fmt.Errorf("%w: refresh needs data.token", errInvalidFrame)
		}
		return clientFrame{Type: frameRefresh, Token: *d.Token}, nil
	default:
		return clientFrame{}, fmt.Errorf("%w: unknown type %q", errInvalidFrame, *w.Type)
	}
	if f.Type != frameMessage {
		if d.Topic == nil {
			return clientFrame{}, fmt.Errorf("%w: %s needs data.topic", errInvalidFrame, f.Type)
		}
		if err := validTopic(*d.Topic); err != nil {
			return clientFrame{}, fmt.Errorf("%w: %v", errInvalidFrame, err)
		}
		f.Topic = *d.Topic
	}
	if f.Type == frameSubscribe && d.Since != nil {
		if d.Since.Offset == nil {
			return clientFrame{}, fmt.Errorf("%w: since needs an offset", errInvalidFrame)
		}
		f.Since = &StreamPosition{Offset: *d.Since.Offset, Epoch: d.Since.Epoch}
	}
	if f.Type == frameSubscribe || f.Type == frameUnsubscribe {
		return f, nil
	}
	if len(d.Payload) == 0 {
		return clientFrame{}, fmt.Errorf("%w: %s needs data.payload", errInvalidFrame, f.Type)
	}
	if i := invalidUTF8At(d.Payload); i >= 0 {
		// A binary client frame may carry any bytes, but the payload goes out in a text
		// frame, which every subscriber must drop the connection for (RFC 6455 §8.1).
		return clientFrame{}, fmt.Errorf("%w: payload is not valid UTF-8 (at byte %d)", errInvalidFrame, i)
	}
	f.Payload = d.Payload
	f.MessageType = "broadcast"
	if d.MessageType != nil && *d.MessageType != "" {
		if len(*d.MessageType) > maxMessageTypeLen {
			return clientFrame{}, fmt.Errorf("%w: messageType longer than %d bytes", errInvalidFrame, maxMessageTypeLen)
		}
		f.MessageType = *d.MessageType
	}
	if d.Compress != nil {
		f.Compress = *d.Compress
	}
	if len(d.ID) > 0 && string(d.ID) != "null" {
		id, err := decodeID(d.ID)
		if err != nil {
			return clientFrame{}, fmt.Errorf("%w: %v", errInvalidFrame, err)
		}
		f.ID = id
	}
	return f, nil
}

// decodeID accepts a string or a number as a message id.
func decodeID(raw json.RawMessage) (string, error) {
	var id string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", fmt.Errorf("id: %v", err)
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("id must be a string or a number")
		}
		id = n.String()
	}
	if len(id) > maxIDLen {
		return "", fmt.Errorf("id longer than %d bytes", maxIDLen)
	}
	return id, nil
}

// invalidUTF8At returns the offset of the first byte of b that is not part of valid
// UTF-8, or -1 when b is valid.
func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// validTopic reports why a topic name is unusable: empty, too long, not UTF-8, or with
// a character that cannot be told apart when printed: Unicode whitespace (White_Space:
// also U+00A0, U+2003, U+3000…), control characters (Cc: C0, DEL, C1) and invisible format
// characters (Cf: U+200B zero-width space, U+202E bidi override, U+FEFF…), so that a name
// in a log, a permission pattern or a dashboard is the name that was used.
func validTopic(t string) error {
	if t == "" {
		return errors.New("topic is empty")
	}
	if len(t) > maxTopicLen {
		return fmt.Errorf("topic longer than %d bytes", maxTopicLen)
	}
	if !utf8.ValidString(t) {
		return errors.New("topic is not valid UTF-8")
	}
	for i, r := range t {
		if r > ' ' && r < 0x7F {
			continue
		}
		if r <= ' ' || r == 0x7F || unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("topic %q has a space, control or invisible character (%U at byte %d)", t, r, i)
		}
	}
	return nil
}
