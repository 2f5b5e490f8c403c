package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecodeKeptFrame reads messageType and data back from history frames of every
// header size (7-bit, 16-bit and 64-bit lengths), text and binary, as a replay does.
func TestDecodeKeptFrame(t *testing.T) {
	for _, size := range []int{10, 200, 70_000} {
		for _, binary := range []bool{false, true} {
			data := []byte(`{"pad":"` + strings.Repeat("x", size) + `"}`)
			frame := encodeServerFrameAt("events/acme", "login", data, binary, 42)
			msg, ok := decodeKeptFrame(frame)
			if !ok || msg.MessageType != "login" || string(msg.Data) != string(data) || msg.Binary != binary {
				t.Errorf("size %d binary %v: got %v %q binary %v", size, binary, ok, msg.MessageType, msg.Binary)
			}
		}
	}
	if _, ok := decodeKeptFrame([]byte{0x81}); ok {
		t.Error("a truncated frame decoded")
	}
}

// TestEncodeCloudEvent: a wrapped message is a CloudEvent (checked against the spec's
// text by checkCloudEvent) whose data is the message's, and a CloudEvent goes as it is.
func TestEncodeCloudEvent(t *testing.T) {
	decode := func(frame []byte) map[string]any {
		t.Helper()
		if frame[0] != 0x80|opText {
			t.Fatalf("not a final text frame: %#x", frame[0])
		}
		payload, ok := decodeKeptPayload(frame)
		if !ok {
			t.Fatal("bad frame")
		}
		var ev map[string]any
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	wrapped := decode(encodeCloudEvent("my app", "events/a b", &Message{Data: []byte(`[1,2]`)}, "e-1", 0))
	checkCloudEvent(t, wrapped)
	if wrapped["source"] != "/apps/my%20app/topics/events/a%20b" || wrapped["id"] != "e-1" {
		t.Errorf("wrapped %v", wrapped)
	}
	ce := `{"specversion":"1.0","id":"x","source":"/s","type":"t"}`
	if got := decode(encodeCloudEvent("a", "t", &Message{Data: []byte(ce)}, "ignored", 0)); got["id"] != "x" || len(got) != 4 {
		t.Errorf("a CloudEvent was changed: %v", got)
	}
	nested := `{"payload":{"specversion":"1.0"}}` // not a CloudEvent at the top level
	if got := decode(encodeCloudEvent("a", "t", &Message{Data: []byte(nested)}, "n-1", 0)); got["id"] != "n-1" {
		t.Errorf("a message with a nested specversion was not wrapped: %v", got)
	}
}
