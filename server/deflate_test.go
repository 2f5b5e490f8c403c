package server

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawWSClient speaks just enough RFC 6455 to see what is on the wire: RSV1 and the
// payload bytes the server sent, before any extension undoes them.
type rawWSClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

type rawFrame struct {
	rsv1    bool
	opcode  byte
	payload []byte
}

func dialRaw(t *testing.T, addr, path, extensions string) (*rawWSClient, *http.Response) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitLimit))
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if extensions != "" {
		req.Header.Set("Sec-WebSocket-Extensions", extensions)
	}
	if err := req.Write(nc); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return &rawWSClient{t: t, nc: nc, br: br}, resp
}

func (c *rawWSClient) read() rawFrame {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return rawFrame{rsv1: h[0]&0x40 != 0, opcode: h[0] & 0x0F, payload: p}
}

// sendText writes one masked text frame (payload < 126 bytes).
func (c *rawWSClient) sendText(s string) {
	c.t.Helper()
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b := []byte{0x81, 0x80 | byte(len(s))}
	b = append(b, mask[:]...)
	for i := range len(s) {
		b = append(b, s[i]^mask[i%4])
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// readUntil skips frames until one whose (decompressed) JSON has messageType mt.
func (c *rawWSClient) readUntil(mt string) (rawFrame, []byte) {
	c.t.Helper()
	for {
		f := c.read()
		text := f.payload
		if f.rsv1 {
			text = inflate(c.t, f.payload)
		}
		var v struct{ MessageType string }
		if json.Unmarshal(text, &v) == nil && v.MessageType == mt {
			return f, text
		}
	}
}

func inflate(t *testing.T, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0x00, 0x00, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

// TestCompressNegotiatesDeflate: a client that offers permessage-deflate gets it (with no
// context takeover), receives compress:true messages deflated, RSV1 set, in a binary
// frame, and others as they are; a client that does not offer it gets the same
// compress:true message uncompressed, in a binary frame.
func TestCompressNegotiatesDeflate(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	addr := strings.TrimPrefix(hs.URL, "http://")
	tok := func(sub string) string { return mint(t, secretA, sub, time.Hour) }
	zc, resp := dialRaw(t, addr, "/apps/a?access_token="+tok("zipped"), "permessage-deflate; client_max_window_bits")
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if !strings.Contains(ext, "permessage-deflate") || !strings.Contains(ext, "server_no_context_takeover") {
		t.Fatalf("Sec-WebSocket-Extensions %q, want permessage-deflate with server_no_context_takeover", ext)
	}
	pc, resp := dialRaw(t, addr, "/apps/a?access_token="+tok("plain"), "")
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("extensions %q for a client that offered none", ext)
	}
	for _, c := range []*rawWSClient{zc, pc} {
		c.readUntil("welcome")
		c.sendText(`{"type":"subscribe","data":{"topic":"news"}}`)
		c.readUntil("welcome")
	}
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	msg := map[string]any{"text": strings.Repeat("compressible ", 100)}
	apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "news", "message": msg, "messageType": "zipped", "compress": true})
	apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "news", "message": msg, "messageType": "plain"})

	f, text := zc.readUntil("zipped")
	if !f.rsv1 || f.opcode != 0x2 || len(f.payload) >= len(text)/2 {
		t.Fatalf("compress:true to a deflate client: rsv1=%v opcode=%d, %d bytes on the wire for %d", f.rsv1, f.opcode, len(f.payload), len(text))
	}
	var got struct{ Data struct{ Text string } }
	if err := json.Unmarshal(text, &got); err != nil || got.Data.Text != msg["text"] {
		t.Fatalf("inflated %q: %v", text, err)
	}
	if f, _ := zc.readUntil("plain"); f.rsv1 || f.opcode != 0x1 {
		t.Fatalf("a message without compress: rsv1=%v opcode=%d, want an uncompressed text frame", f.rsv1, f.opcode)
	}
	if f, _ := pc.readUntil("zipped"); f.rsv1 || f.opcode != 0x2 {
		t.Fatalf("compress:true to a client without deflate: rsv1=%v opcode=%d, want an uncompressed binary frame", f.rsv1, f.opcode)
	}
}
