package natsbroker

import (
	"bytes"
	"testing"

	"github.com/kete-dev/kete/server"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, s := range []string{"", "main", "a.b", "*", ">", "%", "%41", "a b\tc", "ünï", "priv/x@y", "\x00\x7f"} {
		tok := escapeToken(s)
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c >= 0x7F || c == '.' || c == '*' || c == '>' {
				t.Errorf("escapeToken(%q) = %q holds byte %q", s, tok, c)
			}
		}
		back, err := unescapeToken(tok)
		if err != nil || back != s {
			t.Errorf("unescapeToken(escapeToken(%q)=%q) = %q, %v", s, tok, back, err)
		}
	}
	for _, bad := range []string{"%4", "%G0", "a%"} {
		if _, err := unescapeToken(bad); err == nil {
			t.Errorf("unescapeToken(%q) succeeded, want an error", bad)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	tests := []server.Message{
		{Data: []byte(`{}`)},
		{MessageType: "login", Data: []byte(`"x"`), Binary: true, Origin: "ingest:abc"},
		{Data: []byte(`{"id":"e1"}`), Origin: "ingest:abc", DedupID: "e1", Node: "n1", History: true},
		{Data: []byte(`1`), Node: "n2"},
		{Data: nil},
		{MessageType: string(bytes.Repeat([]byte("m"), 300)), Data: bytes.Repeat([]byte("d"), 70000)},
	}
	for i, m := range tests {
		b := appendMessage(nil, &m)
		got, err := decodeMessage(b)
		if err != nil {
			t.Fatalf("%d: decode: %v", i, err)
		}
		if got.MessageType != m.MessageType || got.Origin != m.Origin || got.Binary != m.Binary || !bytes.Equal(got.Data, m.Data) ||
			got.DedupID != m.DedupID || got.Node != m.Node || got.History != m.History {
			t.Errorf("%d: round trip gave %+v, want %+v", i, got, m)
		}
	}
	if n := len(appendMessage(nil, &server.Message{Data: []byte(`{"a":1}`)})); n != 4+7 {
		t.Errorf("a 7-byte message with no type or origin takes %d bytes on the wire, want 11", n)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0, 0}, {1, 0, 5, 'a'}, {1, 0, 0, 0xff}} {
		if _, err := decodeMessage(bad); err == nil {
			t.Errorf("decodeMessage(%v) succeeded, want an error", bad)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(appendMessage(nil, &server.Message{MessageType: "t", Data: []byte(`1`), Origin: "o"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, err := decodeMessage(appendMessage(nil, &m))
		if err != nil || again.MessageType != m.MessageType || again.Origin != m.Origin || !bytes.Equal(again.Data, m.Data) ||
			again.DedupID != m.DedupID || again.Node != m.Node || again.History != m.History || again.Binary != m.Binary {
			t.Fatalf("re-encoding %+v failed: %+v %v", m, again, err)
		}
	})
}
