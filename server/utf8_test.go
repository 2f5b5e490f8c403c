package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/wstest"
)

// dialStrict connects like a browser does: a text frame that is not valid UTF-8 fails the
// connection (RFC 6455 §8.1), which gws does with CheckUtf8Enabled.
func dialStrict(t *testing.T, url string) *wstest.Client {
	t.Helper()
	tc, resp, err := wstest.Dial(t, url, wstest.Options{CheckUTF8: true, Buffer: 1024})
	if err != nil {
		t.Fatalf("dial: %v (status %d)", err, wstest.Status(resp))
	}
	tc.WaitFor("main", "welcome")
	return tc
}

// TestTextFramesStayUTF8: a message that is not valid UTF-8 never reaches subscribers in
// a text frame, whichever way it comes in: the HTTP API answers 400 naming the field, a
// client's publish frame is an invalid frame, an ingest text frame is refused by the
// WebSocket layer and an ingest binary frame is delivered as a binary frame. A strict
// client (a browser) stays connected and gets the next valid message.
func TestTextFramesStayUTF8(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	sub := dialStrict(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "browser", time.Hour)))
	sub.Subscribe("t")

	t.Run("HTTP publish", func(t *testing.T) {
		body := "{\"topic\":\"t\",\"message\":{\"name\":\"caf\xe9\"}}"
		req, _ := http.NewRequest("POST", hs.URL+"/api/topics/a/publish", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+mint(t, secretAdmin, "admin", time.Hour, "realtime:publisher:write:topic:*"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "message is not valid UTF-8") {
			t.Fatalf("publish of invalid UTF-8: %d %s, want 400 naming message", resp.StatusCode, b)
		}
	})

	t.Run("client publish frame", func(t *testing.T) {
		pub := connect(t, hs, "a", mint(t, secretA, "pub", time.Hour, "realtime:publisher:write:topic:*"))
		// A binary frame is not checked for UTF-8 by the WebSocket layer.
		if err := pub.Conn().WriteMessage(gws.OpcodeBinary, []byte("{\"type\":\"publish\",\"data\":{\"topic\":\"t\",\"payload\":\"caf\xe9\"}}")); err != nil {
			t.Fatal(err)
		}
		if ce := pub.WaitClosed(); ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonInvalidFormat {
			t.Fatalf("publisher closed with %d %q, want 1008 %q", ce.Code, ce.Reason, ReasonInvalidFormat)
		}
	})

	t.Run("ingest", func(t *testing.T) {
		tok := mint(t, secretA, "daemon", time.Hour, "realtime:publisher:write:topic:*")
		text, _, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/t?ack=1&access_token="+tok), wstest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = text.Conn().WriteMessage(gws.OpcodeText, []byte("{\"id\":\"u1\",\"name\":\"caf\xe9\"}"))
		if ce := text.WaitClosed(); ce.Code != 1007 {
			t.Fatalf("ingest text frame with invalid UTF-8: closed with %d %q, want 1007", ce.Code, ce.Reason)
		}
		bin, _, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/t?ack=1&access_token="+tok), wstest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := bin.Conn().WriteMessage(gws.OpcodeBinary, []byte("{\"id\":\"u2\",\"name\":\"caf\xe9\"}")); err != nil {
			t.Fatal(err)
		}
		if a := bin.Next(); !strings.Contains(string(a.Raw), `"status":"ok"`) {
			t.Fatalf("ingest binary frame: ack %s", a.Raw)
		}
		if f := sub.WaitFor("t", "broadcast"); !f.Binary {
			t.Fatalf("binary ingest frame delivered as text: %q", f.Raw)
		}
	})

	apiPublish(t, hs, "t", "still here")
	if f := sub.WaitFor("t", "broadcast"); string(f.Data) != `"still here"` || f.Binary {
		t.Fatalf("after the invalid messages got %s", f.Raw)
	}
}
