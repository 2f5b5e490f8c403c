package destination

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

// A handshake refusal that names the request is permanent and stops WithRetry at once; one
// that says "not now" is retried.
func TestRefusedHandshakeIsPermanentOnlyWhenTheRequestIsRefused(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{
		{http.StatusBadRequest, true},
		{http.StatusForbidden, true},
		{http.StatusNotFound, true},
		{http.StatusGone, true},
		{http.StatusRequestURITooLong, true},
		{http.StatusUnauthorized, false},
		{http.StatusRequestTimeout, false},
		{http.StatusConflict, false},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := newTestServer(t, serverOptions{refuse: func(*http.Request) int { return tt.status }})
			d := WithRetry(newDestination(t, srv.url+"/events", WebSocketOptions{}),
				kete.Retry{Enabled: true, MaxAttempts: 3, WaitDuration: time.Millisecond, MaxWait: time.Millisecond})
			err := d.Send(testContext(t), login("acme"), []byte("{}"))
			if err == nil {
				t.Fatal("send to a server that refuses every handshake succeeded")
			}
			if got := kete.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			// The error names the status and carries the server's own explanation.
			want := "handshake refused: " + strconv.Itoa(tt.status) + " " + http.StatusText(tt.status)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
			handshakes := 3
			if tt.permanent {
				handshakes = 1
			}
			srv.mu.Lock()
			n := len(srv.handshakes)
			srv.mu.Unlock()
			if n != handshakes {
				t.Errorf("server saw %d handshakes, want %d", n, handshakes)
			}
		})
	}
}

// A frame over the server's limit is answered with close 1009. With acks on, the send
// knows the refusal was of its frame: the error says so, in the server's words, and is
// permanent, so no fresh connection is tried. The next event goes through.
func TestFrameTooBigIsPermanentAndSaysWhy(t *testing.T) {
	srv := newTestServer(t, serverOptions{maxPayload: 1024, ack: true})
	d := newDestination(t, srv.url+"/ingest?ack=1", WebSocketOptions{})
	big := bytes.Repeat([]byte("x"), 70<<10)
	err := d.Send(testContext(t), login("acme"), big)
	if err == nil {
		t.Fatal("a 70 KiB frame to a server that takes 1 KiB was taken")
	}
	for _, want := range []string{"1009", "message too big", "message too large"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "no ack") {
		t.Errorf("error %q blames a missing ack, not the refusal", err)
	}
	if !kete.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = false", err)
	}
	if _, _, opened, _ := srv.stats(); opened != 1 {
		t.Errorf("server saw %d connections, want 1: a refused frame is not sent again", opened)
	}
	if err := d.Send(testContext(t), login("acme"), []byte(`{"small":true}`)); err != nil {
		t.Fatalf("the next, small event: %v", err)
	}
	if f := srv.next(t); f.data != `{"small":true}` {
		t.Errorf("server got %q", f.data)
	}
}

// A rendered URL that does not parse is permanent, and its error keeps the query's
// secrets out (url.Error quotes the whole URL): the reason goes into logs and dead letters.
func TestUnparseableRenderedURLIsPermanentAndRedacted(t *testing.T) {
	const secret = "s3cret-5d1c"
	d := newDestination(t, "ws://${realmLowerCase}:1/x?access_token="+secret, WebSocketOptions{})
	err := d.Send(testContext(t), login("Acme Corp"), []byte("{}"))
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), `invalid URL escape "%20"`) {
		t.Errorf("send: %v, want a permanent error naming the bad escape", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error %q shows the access token", err)
	}
}

// Without acks a frame counts once written; but when the server refuses the first frame of
// a connection so early that the write itself fails, the close code names that frame and
// ends the retries. (A reset may overtake the close frame, as TCP allows: that attempt
// fails as a lost connection and the next one tells.)
func TestFirstFrameRefusedUnderTheWriteIsPermanent(t *testing.T) {
	srv := newTestServer(t, serverOptions{maxPayload: 1024})
	d := WithRetry(newDestination(t, srv.url+"/events", WebSocketOptions{}),
		kete.Retry{Enabled: true, WaitDuration: time.Millisecond, MaxWait: time.Millisecond})
	// Bigger than loopback's socket buffers, so the write cannot finish before the refusal.
	err := d.Send(testContext(t), login("acme"), make([]byte, 8<<20))
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), "1009 (message too big)") {
		t.Errorf("send: %v, want a permanent 1009", err)
	}
}

// A body over the client's own frame limit is refused before anything is sent, and for good.
func TestBodyOverTheFrameLimitIsPermanent(t *testing.T) {
	srv := newTestServer(t, serverOptions{})
	d := newDestination(t, srv.url+"/events", WebSocketOptions{BinaryMode: true})
	err := d.Send(testContext(t), login("acme"), make([]byte, MaxFrameBytes+1))
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), "frame limit") {
		t.Errorf("send: %v, want a permanent error about the frame limit", err)
	}
	if _, _, opened, _ := srv.stats(); opened != 0 {
		t.Errorf("server saw %d connections, want none", opened)
	}
}
