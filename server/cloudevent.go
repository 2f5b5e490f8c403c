package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CloudEvents frames of the Drogue Cloud consumer endpoint (see consumer.go).
//
// Each message goes to a consumer as one structured-mode CloudEvents 1.0 JSON document in
// a text frame (CloudEvents spec v1.0, json-format.md: "a single CloudEvent is encoded as
// a JSON object"). A message whose data already is a CloudEvent (a JSON object with a
// top-level "specversion", as kete's cloudevents serializer writes) goes as it is; any
// other is wrapped:
//
//	specversion      "1.0"
//	id               "{epoch}-{offset}" for a message kept in history (the same on every
//	                 redelivery and replay), else the publisher's id (ingest), else a new id
//	source           "/apps/{app}/topics/{topic}", each segment path-escaped
//	subject          the topic (Drogue puts its channel here)
//	type             "dev.kete." + the messageType ("dev.kete.broadcast")
//	time             when this node took the message, RFC 3339 UTC, milliseconds
//	datacontenttype  "application/json": a message's data is always JSON
//	data             the message's data as published
//
// The only frame of the endpoint that is not a message is the gap notice, also a
// CloudEvent, of type GapEventType (see groups.go).

// GapEventType is the type of the CloudEvent that tells a consumer group member that
// messages could not be replayed to its group.
const GapEventType = "dev.kete.consumer.gap"

// isCloudEvent reports whether data is a JSON object with a top-level "specversion".
func isCloudEvent(data []byte) bool {
	if !bytes.Contains(data, []byte(`"specversion"`)) {
		return false // the common case, without decoding
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return false
	}
	_, ok := top["specversion"]
	return ok
}

// cloudEventSource is "/apps/{app}/topics/{topic}" with each segment path-escaped, a
// URI-reference as the spec's "source" requires.
func cloudEventSource(appID, topic string) string {
	var b strings.Builder
	b.WriteString("/apps/")
	b.WriteString(url.PathEscape(appID))
	b.WriteString("/topics")
	for seg := range strings.SplitSeq(topic, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}

// encodeCloudEvent returns the text frame that carries msg of topic to a consumer.
func encodeCloudEvent(appID, topic string, msg *Message, id string, at int64) []byte {
	if isCloudEvent(msg.Data) {
		return encodeFrame(opText, msg.Data)
	}
	mt := msg.MessageType
	if mt == "" {
		mt = "broadcast"
	}
	f := newFrameBuilder(len(msg.Data) + len(topic)*2 + len(appID) + len(id) + len(mt) + 180)
	f.b = append(f.b, `{"specversion":"1.0","id":`...)
	f.b = appendJSONString(f.b, id)
	f.b = append(f.b, `,"source":`...)
	f.b = appendJSONString(f.b, cloudEventSource(appID, topic))
	f.b = append(f.b, `,"subject":`...)
	f.b = appendJSONString(f.b, topic)
	f.b = append(f.b, `,"type":`...)
	f.b = appendJSONString(f.b, "dev.kete."+mt)
	f.b = append(f.b, `,"time":"`...)
	f.b = time.Unix(0, at).UTC().AppendFormat(f.b, "2006-01-02T15:04:05.000Z07:00")
	f.b = append(f.b, `","datacontenttype":"application/json","data":`...)
	f.b = append(f.b, msg.Data...)
	f.b = append(f.b, '}')
	return f.finish(opText)
}

// historyEventID is the id of a wrapped message kept in history.
func historyEventID(epoch string, offset uint64) string {
	return epoch + "-" + strconv.FormatUint(offset, 10)
}

// gapNotice is what a gap CloudEvent says: which topic (empty: messages of topics the
// node kept no history of), the last offset the group was handed and the first one it
// gets next (0 when unknown), and how many messages it missed when that is known.
type gapNotice struct {
	Topic  string `json:"topic,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
	After  uint64 `json:"after"`
	Next   uint64 `json:"next,omitempty"`
	Missed uint64 `json:"missed,omitempty"`
	Group  string `json:"groupId"`
}

// encodeGapEvent returns the gap notice CloudEvent for a consumer of app.
func encodeGapEvent(appID string, g gapNotice, at int64) []byte {
	data, _ := json.Marshal(g)
	src := "/apps/" + url.PathEscape(appID)
	if g.Topic != "" {
		src = cloudEventSource(appID, g.Topic)
	}
	f := newFrameBuilder(len(data) + len(src) + 200)
	f.b = append(f.b, `{"specversion":"1.0","id":`...)
	f.b = appendJSONString(f.b, newID())
	f.b = append(f.b, `,"source":`...)
	f.b = appendJSONString(f.b, src)
	f.b = append(f.b, `,"type":"`+GapEventType+`","time":"`...)
	f.b = time.Unix(0, at).UTC().AppendFormat(f.b, "2006-01-02T15:04:05.000Z07:00")
	f.b = append(f.b, `","datacontenttype":"application/json","data":`...)
	f.b = append(f.b, data...)
	f.b = append(f.b, '}')
	return f.finish(opText)
}

// decodeKeptFrame reads the messageType and data back from a frame kept in history
// ({"topic","messageType","data","offset"} in one unmasked frame), to replay it as a
// CloudEvent.
func decodeKeptFrame(frame []byte) (Message, bool) {
	payload, ok := decodeKeptPayload(frame)
	if !ok {
		return Message{}, false
	}
	var env struct {
		MessageType string          `json:"messageType"`
		Data        json.RawMessage `json:"data"`
	}
	if json.Unmarshal(payload, &env) != nil {
		return Message{}, false
	}
	return Message{MessageType: env.MessageType, Data: env.Data, Binary: frame[0]&0x0f == opBinary}, true
}

// decodeKeptPayload returns the payload of one whole unmasked server frame.
func decodeKeptPayload(frame []byte) ([]byte, bool) {
	if len(frame) < 2 {
		return nil, false
	}
	h, n := 2, uint64(frame[1]&0x7f)
	switch n {
	case 126:
		h = 4
	case 127:
		h = 10
	}
	if len(frame) < h {
		return nil, false
	}
	switch h {
	case 4:
		n = uint64(binary.BigEndian.Uint16(frame[2:4]))
	case 10:
		n = binary.BigEndian.Uint64(frame[2:10])
	}
	if n != uint64(len(frame)-h) {
		return nil, false
	}
	return frame[h:], true
}
