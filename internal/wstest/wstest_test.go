package wstest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lxzan/gws"
)

// echoServer is a WebSocket server on 127.0.0.1 that welcomes each connection as the
// bundled server does, echoes every frame, and closes with 4000 on the text "bye".
type echoServer struct{ gws.BuiltinEventHandler }

func (echoServer) OnOpen(c *gws.Conn) {
	_ = c.WriteString(`{"topic":"main","messageType":"welcome","data":{"connection":{"id":"c-1"}}}`)
}

func (echoServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if m.Opcode == gws.OpcodeText && string(m.Bytes()) == "bye" {
		_ = c.WriteClose(4000, []byte("asked to"))
		return
	}
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

func startEcho(t *testing.T) string {
	up := gws.NewUpgrader(echoServer{}, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("refuse") != "" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

func TestConnectSendAndWait(t *testing.T) {
	c := Connect(t, startEcho(t), Options{})
	if c.ID() != "c-1" {
		t.Fatalf("ID = %q, want the welcome's c-1", c.ID())
	}
	c.Send(map[string]any{"topic": "t", "messageType": "m", "data": 1})
	c.SendText(`{"topic":"t","messageType":"marker"}`)
	if f := c.WaitFor("t", "m"); string(f.Data) != "1" || f.Binary {
		t.Fatalf("echo = %+v", f)
	}
	if got := c.UntilMarker("t", "marker"); len(got) != 0 {
		t.Fatalf("frames before the marker: %d, want none", len(got))
	}
	if err := c.Conn().WriteMessage(gws.OpcodeBinary, []byte("raw")); err != nil {
		t.Fatal(err)
	}
	if f := c.Next(); !f.Binary || string(f.Raw) != "raw" {
		t.Fatalf("binary echo = %+v", f)
	}
	c.SendText("bye")
	if ce := c.WaitClosed(); ce.Code != 4000 || string(ce.Reason) != "asked to" {
		t.Fatalf("close = %d %q, want 4000 asked to", ce.Code, ce.Reason)
	}
}

func TestDialRefusedReturnsTheResponse(t *testing.T) {
	_, resp, err := Dial(t, startEcho(t)+"/?refuse=1", Options{})
	if err == nil || Status(resp) != http.StatusForbidden {
		t.Fatalf("dial = %v, status %d; want a refusal with 403", err, Status(resp))
	}
}

func TestCheckDropsARefusedFrame(t *testing.T) {
	// A test whose Check refuses a frame fails: run it under a recorder.
	rec := &recorder{TB: t, errs: make(chan string, 4)}
	c := Connect(rec, startEcho(t), Options{Check: func(f Frame) error {
		if f.MessageType == "bad" {
			return errors.New("bad frame")
		}
		return nil
	}})
	c.SendText(`{"topic":"t","messageType":"bad"}`)
	c.SendText(`{"topic":"t","messageType":"good"}`)
	if f := c.Next(); f.MessageType != "good" {
		t.Fatalf("next = %s, want the good frame (the bad one dropped)", f.Raw)
	}
	if !rec.failed() {
		t.Fatal("a refused frame did not fail the test")
	}
}

// recorder notes Errorf instead of failing the real test; OnMessage calls it before
// it queues the next frame, so a failure is noted by the time that frame is read.
type recorder struct {
	testing.TB
	errs chan string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs <- format
}

func (r *recorder) failed() bool { return len(r.errs) > 0 }
