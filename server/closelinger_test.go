package server

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// maskedText is one masked client text frame holding s (any length).
func maskedText(s string) []byte {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b := []byte{0x81}
	switch n := len(s); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, mask[:]...)
	for i := range len(s) {
		b = append(b, s[i]^mask[i%4])
	}
	return b
}

// TestServerCloseEndsCleanlyWhileTheClientSends: the realtime-forum demo
// demos/node/websocket-publisher.js publishes every second; when its connection was closed
// by the server (admin-terminate-app-connections.js) it reported 1006 "Socket Error: EPIPE"
// instead of the close code and reason, because the server closed the socket with the
// client's frames still unread and the kernel answered them with a reset. After its close
// frame the server must let the client's stream end (RFC 6455 §7.1.1): the client reads
// the close frame and then a clean end of stream, never a reset.
func TestServerCloseEndsCleanlyWhileTheClientSends(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	token := mint(t, secretA, "user-01", time.Minute) // no permissions: a publish is forbidden
	c, _ := dialRaw(t, strings.TrimPrefix(hs.URL, "http://"), "/apps/a?access_token="+token, "")
	c.readUntil("welcome")

	// One write: a forbidden publish (the server closes), then 60 KiB more frames that
	// are in the server's socket, unread, when it closes.
	publish := maskedText(`{"type":"publish","data":{"topic":"main","payload":"x"}}`)
	burst := append([]byte(nil), publish...)
	for len(burst) < 60<<10 {
		burst = append(burst, publish...)
	}
	go func() { _, _ = c.nc.Write(burst) }() // its error is the server's business here

	for {
		f := c.read()
		if f.opcode == 0x8 {
			if code := binary.BigEndian.Uint16(f.payload); code != ClosePolicyViolation {
				t.Fatalf("close code %d (%q), want %d", code, f.payload[2:], ClosePolicyViolation)
			}
			break
		}
	}
	if n, err := c.br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after the close frame: read %d bytes, err %v; want a clean end of stream (io.EOF), not a reset", n, err)
	}
}
