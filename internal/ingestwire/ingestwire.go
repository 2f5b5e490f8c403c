// Package ingestwire is the bundled server's answer to an ingest frame, the one place that
// spells it: the server encodes it and the WebSocket destination decodes it, so neither
// imports the other.
//
// A destination that asks for acks (?ack=1 on /apps/{appId}/publish/{topic…}) gets one
// text frame per frame it sent, in order:
//
//	{"type":"ack","seq":N,"id":"…","status":"ok"|"duplicate"}
//	{"type":"nack","seq":N,"id":"…","error":"…"}
//
// seq counts the connection's frames from 1; id is the frame's top-level "id" and is left
// out when the frame has none, as are an empty status and an empty error. "duplicate"
// means the frame's id was already published to the topic within the app's dedup window:
// delivered before, so the destination may count it as done. A nack is a refused publish:
// the connection stays usable and the frame may be sent again.
package ingestwire

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/kete-dev/kete/internal/jsontext"
)

// The values of an ack's type and status fields.
const (
	TypeAck  = "ack"  // the frame was published (or was a duplicate)
	TypeNack = "nack" // the frame's publish failed; Error says why

	StatusOK        = "ok"        // published now
	StatusDuplicate = "duplicate" // published before, within the dedup window
)

// Ack is one ack or nack frame.
type Ack struct {
	Type   string `json:"type"`
	Seq    uint64 `json:"seq"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// OK is the ack of frame seq, published now.
func OK(seq uint64, id string) Ack { return Ack{Type: TypeAck, Seq: seq, ID: id, Status: StatusOK} }

// Duplicate is the ack of frame seq whose id was published before.
func Duplicate(seq uint64, id string) Ack {
	return Ack{Type: TypeAck, Seq: seq, ID: id, Status: StatusDuplicate}
}

// Nack is the refusal of frame seq, with the reason the publish failed.
func Nack(seq uint64, id, reason string) Ack {
	return Ack{Type: TypeNack, Seq: seq, ID: id, Error: reason}
}

// IsNack reports whether a refuses its frame.
func (a Ack) IsNack() bool { return a.Type == TypeNack }

// Encode returns a's JSON text, fields in the order the package doc shows, empty ones left
// out. It is built by hand because the server sends one per ingested frame.
func Encode(a Ack) []byte {
	b := make([]byte, 0, 64+len(a.ID)+len(a.Error))
	b = append(b, `{"type":`...)
	b = jsontext.AppendString(b, a.Type)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, a.Seq, 10)
	if a.ID != "" {
		b = append(b, `,"id":`...)
		b = jsontext.AppendString(b, a.ID)
	}
	if a.Status != "" {
		b = append(b, `,"status":`...)
		b = jsontext.AppendString(b, a.Status)
	}
	if a.Error != "" {
		b = append(b, `,"error":`...)
		b = jsontext.AppendString(b, a.Error)
	}
	return append(b, '}')
}

// Decode reads an ack or nack frame. ok is false for anything else the server may send
// (a welcome, a broadcast) and for text that is not JSON: a reader skips those.
func Decode(b []byte) (a Ack, ok bool) {
	if json.Unmarshal(b, &a) != nil || (a.Type != TypeAck && a.Type != TypeNack) {
		return Ack{}, false
	}
	return a, true
}

// AckRequested reports whether an ingest URL's query asks for acks: ?ack=1 or ?ack=true,
// in any case. The destination (whether to wait) and the server (whether to answer) read
// the query here, so they cannot disagree: a destination waiting for acks that a server
// never sends would stall.
func AckRequested(q url.Values) bool {
	switch strings.ToLower(q.Get("ack")) {
	case "1", "true":
		return true
	}
	return false
}
