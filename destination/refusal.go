package destination

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kete-dev/kete"
	"github.com/lxzan/gws"
)

// A server refuses in one of two ways: it answers the handshake with an HTTP status
// instead of 101, or it closes the connection with a close code (RFC 6455 §7.4) instead of
// taking a frame. Some refusals are about the request or the frame itself, and sending the
// same event again gets the same answer: those are kete.Permanent, so that WithRetry stops
// and the daemon dead-letters the event at once instead of holding its route (see
// kete.PermanentError). The rest are retried.
//
// KETE (FortuneN/kete, Route.send with Resilience4j's default RetryConfig) retries every
// failure alike and drops the event after its attempts; kete keeps it as a dead letter.

// permanentHandshake reports whether a handshake refused with status will be refused again
// for the same URL and headers:
//
//	400 Bad Request       the request is malformed (the bundled server: invalid_topic)
//	403 Forbidden         the credentials are known and not allowed (app_disabled,
//	                      origin_denied, source_denied, a topic the token may not write)
//	404 Not Found         nothing lives at the rendered URL (app_not_found)
//	410 Gone              nothing will again
//	414 URI Too Long      the rendered URL is too long
//
// 401 is not among them: the destination has already fetched one fresh token for it
// (dial), and a token the server does not accept yet (keys being rotated, a clock ahead)
// may pass later. Nor are 408, 409, 429 and 5xx, which say "not now".
//
// A route whose every event is refused this way (a typo in the app id) dead-letters them
// all rather than holding the spool until intake stops; `kete deadletters replay` sends
// them again once the route is fixed.
func permanentHandshake(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusGone, http.StatusRequestURITooLong:
		return true
	}
	return false
}

// refusedHandshake is the error of a handshake answered with resp instead of 101: the
// status and the start of the server's explanation (the bundled server sends a JSON
// error), never the request's headers.
func refusedHandshake(resp *http.Response) error {
	msg := "handshake refused: " + resp.Status
	if resp.Body != nil {
		// gws has closed the socket; what the response reader buffered is still there.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		if s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?")); s != "" {
			line, _, _ := strings.Cut(s, "\n")
			msg += ": " + line
		}
	}
	err := errors.New(msg)
	if permanentHandshake(resp.StatusCode) {
		return kete.Permanent(err)
	}
	return err
}

// closeCodeNames are RFC 6455 §7.4.1's codes, for errors and logs.
var closeCodeNames = map[uint16]string{
	1000: "normal closure",
	1001: "going away",
	1002: "protocol error",
	1003: "unsupported data",
	1007: "invalid payload data",
	1008: "policy violation",
	1009: "message too big",
	1010: "mandatory extension",
	1011: "internal error",
	1012: "service restart",
	1013: "try again later",
}

// permanentClose reports whether a close code refuses the frame itself, so that the same
// frame would be refused again on any connection (RFC 6455 §7.4.1): 1003, a kind of data
// the endpoint cannot accept (binary where it takes text); 1007, data not consistent with
// the message type (text that is not UTF-8); 1009, a message too big to process (the
// bundled server's maxIngestMessageSize, gws's ReadMaxPayloadSize). 1008, policy
// violation, is not: the bundled server uses it for an expired token or an idle
// connection, which a new connection cures.
func permanentClose(code uint16) bool {
	return code == 1003 || code == 1007 || code == 1009
}

// closedOnFrame is the error of frame seq refused by the server closing the connection
// with ce; it says why the server refused, in the words of the RFC and of the server.
func closedOnFrame(seq uint64, ce *gws.CloseError) error {
	name := closeCodeNames[ce.Code]
	if name == "" {
		name = "close code"
	}
	msg := fmt.Sprintf("server closed the connection on frame %d with %d (%s)", seq, ce.Code, name)
	if len(ce.Reason) > 0 {
		msg += ": " + strings.ToValidUTF8(string(ce.Reason), "?")
	}
	err := errors.New(msg)
	if permanentClose(ce.Code) {
		return kete.Permanent(err)
	}
	return err
}

// closeAnswer waits at most wait for the connection's read loop to end after a failed
// write or ack, and returns the server's close frame if that is how it ended: a server
// that refuses a frame (1009) closes the connection while the frame is still being sent,
// so the write fails before the close frame has been read.
func (c *conn) closeAnswer(wait time.Duration) *gws.CloseError {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-c.gone:
		return c.closedBy.Load()
	case <-t.C:
		return nil
	}
}
