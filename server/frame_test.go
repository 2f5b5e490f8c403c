package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestEncodeFrameHeader(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		f := encodeFrame(opText, bytes.Repeat([]byte{'a'}, n))
		if f[0] != 0x81 {
			t.Fatalf("n=%d: first byte %#x", n, f[0])
		}
		var got, hdr int
		switch l := int(f[1]); {
		case l < 126:
			got, hdr = l, 2
		case l == 126:
			got, hdr = int(binary.BigEndian.Uint16(f[2:])), 4
		default:
			got, hdr = int(binary.BigEndian.Uint64(f[2:])), 10
		}
		if got != n || len(f) != hdr+n {
			t.Fatalf("n=%d: header says %d, frame %d bytes with %d-byte header", n, got, len(f), hdr)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\n", "<html>&", "\x00\x1f", "héllo ✓", "\u2028\u2029", "bad\xffutf8"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q → %s: not JSON: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Fatalf("%q → %s → %q", s, got, back)
		}
	}
}

func TestDecodeClientFrame(t *testing.T) {
	tests := []struct {
		in   string
		want clientFrame
		bad  bool
	}{
		{in: `{"type":"subscribe","data":{"topic":"t"}}`, want: clientFrame{Type: frameSubscribe, Topic: "t"}},
		{in: `{"type":"unsubscribe","data":{"topic":"t"}}`, want: clientFrame{Type: frameUnsubscribe, Topic: "t"}},
		{in: `{"type":"publish","data":{"topic":"t","payload":{"a":1},"id":"x","compress":true}}`, want: clientFrame{Type: framePublish, Topic: "t", MessageType: "broadcast", Payload: json.RawMessage(`{"a":1}`), ID: "x", Compress: true}},
		{in: `{"type":"publish","data":{"topic":"t","payload":"s","messageType":"m","id":52}}`, want: clientFrame{Type: framePublish, Topic: "t", MessageType: "m", Payload: json.RawMessage(`"s"`), ID: "52"}},
		{in: `{"type":"message","data":{"payload":"hello"}}`, want: clientFrame{Type: frameMessage, MessageType: "broadcast", Payload: json.RawMessage(`"hello"`)}},
		{in: `{"RefreshAccessToken":"tok"}`, want: clientFrame{Type: frameRefresh, Token: "tok"}},
		{in: `{"type":"refresh","data":{"token":"tok"}}`, want: clientFrame{Type: frameRefresh, Token: "tok"}},
		{in: `{"RefreshAccessToken":""}`, bad: true},
		{in: `{"RefreshAccessToken":"t","type":"subscribe"}`, bad: true},
		{in: `{"type":"refresh","data":{}}`, bad: true},
		{in: `{"type":"publish","data":{"topic":"t"}}`, bad: true},
		{in: `{"type":"publish","data":{"payload":1}}`, bad: true},
		{in: `{"type":"publish","data":{"topic":"t","payload":1,"id":{}}}`, bad: true},
		{in: `{"type":"publish","data":{"topic":"t","payload":1,"messageType":"` + strings.Repeat("m", 65) + `"}}`, bad: true},
		{in: `{"type":"subscribe","data":{"topic":"` + strings.Repeat("t", 257) + `"}}`, bad: true},
		{in: `{"type":"subscribe","data":{"topic":"a\u0000b"}}`, bad: true},
		{in: `{"type":1,"data":{}}`, bad: true},
		{in: `{"data":{"topic":"t"}}`, bad: true},
		{in: `null`, bad: true},
		{in: ``, bad: true},
	}
	for _, tt := range tests {
		got, err := decodeClientFrame([]byte(tt.in))
		if tt.bad {
			if err == nil || !errors.Is(err, errInvalidFrame) {
				t.Errorf("%s: got %+v, %v; want an invalid-frame error", tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got.Type != tt.want.Type || got.Topic != tt.want.Topic || got.MessageType != tt.want.MessageType ||
			string(got.Payload) != string(tt.want.Payload) || got.ID != tt.want.ID || got.Compress != tt.want.Compress || got.Token != tt.want.Token {
			t.Errorf("%s: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// FuzzDecodeClientFrame: the decoder never panics, every error is an invalid-frame error,
// and an accepted frame is one the server can act on.
func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","data":{"topic":"t"}}`,
		`{"type":"publish","data":{"topic":"t","payload":{"a":[1,2]},"id":"x","compress":true,"messageType":"m"}}`,
		`{"type":"message","data":{"payload":"hello","id":5}}`,
		`{"RefreshAccessToken":"a.b.c"}`,
		`{"type":"refresh","data":{"token":"a.b.c"}}`,
		`{"type":"publish","data":{"topic":"t"}}`,
		`[]`, `"x"`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeClientFrame(b)
		if err != nil {
			if !errors.Is(err, errInvalidFrame) {
				t.Fatalf("error %v does not wrap errInvalidFrame", err)
			}
			return
		}
		switch fr.Type {
		case frameSubscribe, frameUnsubscribe:
			if validTopic(fr.Topic) != nil {
				t.Fatalf("accepted bad topic %q", fr.Topic)
			}
		case framePublish, frameMessage:
			if fr.Type == framePublish && validTopic(fr.Topic) != nil {
				t.Fatalf("accepted bad topic %q", fr.Topic)
			}
			if !json.Valid(fr.Payload) || fr.MessageType == "" || len(fr.ID) > maxIDLen {
				t.Fatalf("accepted %+v", fr)
			}
			// What the server builds from it must be valid JSON.
			data := appendJSONString([]byte(`{"payload":`+string(fr.Payload)+`,"id":`), fr.ID)
			data = append(data, '}')
			if !json.Valid(data) {
				t.Fatalf("built invalid data %s", data)
			}
		case frameRefresh:
			if fr.Token == "" {
				t.Fatal("accepted an empty token")
			}
		default:
			t.Fatalf("unknown type %v", fr.Type)
		}
	})
}
