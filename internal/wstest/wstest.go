// Package wstest is the one WebSocket client of kete's tests: a real gws client that dials
// a server on 127.0.0.1, records every frame it receives on a channel, and offers the waits
// a test needs (the next frame, a frame of a topic and message type, the close frame), each
// bounded by WaitLimit and failing the test with what it was waiting for.
//
// It speaks the bundled server's protocol where that saves every test the same lines:
// [Connect] waits for the welcome frame and keeps the connection id, [Client.Subscribe]
// waits for the topic's welcome. Everything else is plain frames.
//
// Every connection is closed when the test ends, and its read loop waited for, so that a
// test leaves no goroutine behind.
package wstest

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// WaitLimit bounds every wait of this package: long enough for a loaded machine under
// -race, short enough that a hung test says so.
const WaitLimit = 10 * time.Second

// Options tune a dial; the zero value dials plainly.
type Options struct {
	// Header is sent with the upgrade request.
	Header http.Header
	// Gate, when set, holds the client from reading: OnMessage waits until it is closed,
	// so that the server's writes back up. The cleanup closes it if the test did not.
	Gate chan struct{}
	// RcvBuf, when positive, is the socket's receive buffer (SO_RCVBUF), so that a gated
	// client fills up after a few frames rather than a few megabytes.
	RcvBuf int
	// TLS is the client's TLS configuration, for wss:// URLs.
	TLS *tls.Config
	// CheckUTF8 fails the connection on a text frame that is not valid UTF-8, as a
	// browser does (RFC 6455 §8.1).
	CheckUTF8 bool
	// Buffer is how many received frames may wait unread (default 8192); one more fails
	// the test.
	Buffer int
	// Check, when set, is asked about every frame as it arrives; a frame it refuses fails
	// the test and is dropped.
	Check func(Frame) error
}

// Frame is one frame a client received, with the fields of the server's frames decoded
// when it is a JSON object.
type Frame struct {
	Binary      bool
	Raw         []byte
	Topic       string          `json:"topic"`
	MessageType string          `json:"messageType"`
	Data        json.RawMessage `json:"data"`
}

// Client is a test's WebSocket connection.
type Client struct {
	t      testing.TB
	conn   *gws.Conn
	frames chan Frame
	done   chan struct{}
	gate   chan struct{}
	check  func(Frame) error
	pings  atomic.Int64
	mu     sync.Mutex
	err    error
	id     string // the connection id of the welcome frame, after Connect
}

// Dial connects to url; on a refused upgrade it returns the server's HTTP response.
func Dial(t testing.TB, url string, o Options) (*Client, *http.Response, error) {
	t.Helper()
	buffer := o.Buffer
	if buffer <= 0 {
		buffer = 8192
	}
	c := &Client{t: t, frames: make(chan Frame, buffer), done: make(chan struct{}), gate: o.Gate, check: o.Check}
	conn, resp, err := Open(t, url, c, c.done, o)
	if err != nil {
		return nil, resp, err
	}
	c.conn = conn
	return c, resp, nil
}

// Connect dials url, fails the test if the server refuses, and waits for the welcome
// frame on "main", whose connection id ID returns.
func Connect(t testing.TB, url string, o Options) *Client {
	t.Helper()
	c, resp, err := Dial(t, url, o)
	if err != nil {
		t.Fatalf("connect %s: %v (status %d)", url, err, Status(resp))
	}
	w := c.WaitFor("main", "welcome")
	var d struct {
		Connection struct{ ID, AppID, RemoteAddress string } `json:"connection"`
	}
	if err := json.Unmarshal(w.Data, &d); err != nil || d.Connection.ID == "" {
		t.Fatalf("welcome frame %s: %v", w.Raw, err)
	}
	c.id = d.Connection.ID
	return c
}

// Open dials url with h as the connection's event handler and runs its read loop. When the
// test ends it opens o.Gate, closes the connection and waits up to WaitLimit for done,
// which h closes from OnClose. It is the plumbing under Dial, for a test client that
// handles frames its own way.
func Open(t testing.TB, url string, h gws.Event, done <-chan struct{}, o Options) (*gws.Conn, *http.Response, error) {
	t.Helper()
	conn, resp, err := gws.NewClient(h, clientOption(url, o))
	if err != nil {
		return nil, resp, err
	}
	go conn.ReadLoop()
	t.Cleanup(func() {
		if o.Gate != nil {
			select {
			case <-o.Gate:
			default:
				close(o.Gate)
			}
		}
		_ = conn.WriteClose(1000, nil)
		select {
		case <-done:
		case <-time.After(WaitLimit):
		}
	})
	return conn, resp, nil
}

// clientOption is the gws client option of url with o's settings.
func clientOption(url string, o Options) *gws.ClientOption {
	copt := &gws.ClientOption{Addr: url, RequestHeader: o.Header, TlsConfig: o.TLS, CheckUtf8Enabled: o.CheckUTF8}
	if o.RcvBuf > 0 {
		size := o.RcvBuf
		copt.NewDialer = func() (gws.Dialer, error) {
			return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
				})
				return errors.Join(err, serr)
			}}, nil
		}
	}
	return copt
}

// Status is r's status code, or 0 when there is no response (the dial failed before one).
func Status(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// OnOpen is part of gws.Event.
func (c *Client) OnOpen(*gws.Conn) {}

// OnPing answers and counts the server's pings.
func (c *Client) OnPing(conn *gws.Conn, p []byte) { c.pings.Add(1); _ = conn.WritePong(p) }

// OnPong is part of gws.Event.
func (c *Client) OnPong(*gws.Conn, []byte) {}

// OnClose keeps the close error and ends the waits.
func (c *Client) OnClose(_ *gws.Conn, err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

// OnMessage records a frame, once the gate (if any) is open.
func (c *Client) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	if c.gate != nil {
		<-c.gate
	}
	f := Frame{Binary: m.Opcode == gws.OpcodeBinary, Raw: append([]byte(nil), m.Bytes()...)}
	_ = json.Unmarshal(f.Raw, &f)
	if c.check != nil {
		if err := c.check(f); err != nil {
			c.t.Errorf("test client: %v: %.200s", err, f.Raw)
			return
		}
	}
	select {
	case c.frames <- f:
	default:
		c.t.Errorf("test client: frame buffer full, dropping %s", f.Raw)
	}
}

// Conn is the gws connection, for writes a test makes by hand (a binary frame, a close
// frame without closing).
func (c *Client) Conn() *gws.Conn { return c.conn }

// ID is the connection id from the welcome frame (after Connect).
func (c *Client) ID() string { return c.id }

// Frames is the channel of received frames, for a test that selects on it.
func (c *Client) Frames() <-chan Frame { return c.frames }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Pings counts the server's pings so far.
func (c *Client) Pings() int64 { return c.pings.Load() }

// CloseErr is why the connection ended (nil while it is open).
func (c *Client) CloseErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send writes v as a JSON text frame.
func (c *Client) Send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendText(string(b))
}

// SendText writes s as a text frame, as it is.
func (c *Client) SendText(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(gws.OpcodeText, []byte(s)); err != nil {
		c.t.Fatalf("send %s: %v", s, err)
	}
}

// Next returns the next frame, failing the test after WaitLimit.
func (c *Client) Next() Frame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-time.After(WaitLimit):
		c.t.Fatalf("no frame within %v", WaitLimit)
	}
	return Frame{}
}

// WaitFor skips frames until one on topic with messageType arrives.
func (c *Client) WaitFor(topic, messageType string) Frame {
	c.t.Helper()
	return c.WaitMatch(topic+"/"+messageType, func(f Frame) bool {
		return f.Topic == topic && f.MessageType == messageType
	})
}

// WaitMatch skips frames until one that match accepts arrives; what names it in the
// failure. The connection's end fails the test too.
func (c *Client) WaitMatch(what string, match func(Frame) bool) Frame {
	c.t.Helper()
	deadline := time.After(WaitLimit)
	for {
		select {
		case f := <-c.frames:
			if match(f) {
				return f
			}
		case <-c.done:
			c.t.Fatalf("closed (%v) while waiting for %s", c.CloseErr(), what)
		case <-deadline:
			c.t.Fatalf("no %s frame within %v", what, WaitLimit)
		}
	}
}

// Subscribe subscribes to topic and returns the topic's welcome frame.
func (c *Client) Subscribe(topic string) Frame {
	c.t.Helper()
	c.Send(map[string]any{"type": "subscribe", "data": map[string]any{"topic": topic}})
	return c.WaitFor(topic, "welcome")
}

// UntilMarker returns every frame received before a marker frame (topic/messageType) that
// the test sends itself, so that "nothing else arrived" needs no sleep.
func (c *Client) UntilMarker(topic, messageType string) []Frame {
	c.t.Helper()
	var got []Frame
	deadline := time.After(WaitLimit)
	for {
		select {
		case f := <-c.frames:
			if f.Topic == topic && f.MessageType == messageType {
				return got
			}
			got = append(got, f)
		case <-deadline:
			c.t.Fatalf("marker %s/%s not seen within %v", topic, messageType, WaitLimit)
		}
	}
}

// WaitClosed waits for the connection to end and returns the close frame it got; an end
// without one reads as 1006 with the error as its reason.
func (c *Client) WaitClosed() *gws.CloseError {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(WaitLimit):
		c.t.Fatalf("connection not closed within %v", WaitLimit)
	}
	var ce *gws.CloseError
	if errors.As(c.CloseErr(), &ce) {
		return ce
	}
	return &gws.CloseError{Code: 1006, Reason: []byte(fmt.Sprint(c.CloseErr()))}
}
