package server

import (
	"net/url"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// badTopics have a character that prints as nothing or as a plain space.
var badTopics = map[string]string{
	"ascii space":       "a b",
	"tab":               "a\tb",
	"no-break space":    "a\u00a0b",
	"em space":          "a\u2003b",
	"ideographic space": "a\u3000b",
	"next line (C1)":    "a\u0085b",
	"line separator":    "a\u2028b",
	"zero-width space":  "a\u200bb",
	"bidi override":     "a\u202eb",
	"byte order mark":   "a\ufeffb",
}

// TestTopicsRefuseInvisibleCharacters: a topic with Unicode whitespace, a control or an
// invisible format character is refused at every entry point, as docs/server.md says:
// subscribe and publish frames (an invalid frame), the HTTP publish (400 invalid_topic)
// and the ingest path (400 before the upgrade). Letters from anywhere stay fine.
func TestTopicsRefuseInvisibleCharacters(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	perms := []string{"realtime:publisher:write:topic:*"}
	admin := mint(t, secretAdmin, "admin", time.Hour, perms...)
	publisher := mint(t, secretA, "pub", time.Hour, perms...)

	for name, topic := range badTopics {
		t.Run(name, func(t *testing.T) {
			for _, frame := range []map[string]any{
				{"type": "subscribe", "data": map[string]any{"topic": topic}},
				{"type": "publish", "data": map[string]any{"topic": topic, "payload": 1}},
			} {
				c := connect(t, hs, "a", publisher)
				c.Send(frame)
				if ce := c.WaitClosed(); ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonInvalidFormat {
					t.Errorf("%s to %q: closed with %d %q, want 1008 %q", frame["type"], topic, ce.Code, ce.Reason, ReasonInvalidFormat)
				}
			}
			if code, body := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": topic, "message": 1}); code != 400 {
				t.Errorf("HTTP publish to %q: %d %v, want 400 invalid_topic", topic, code, body)
			}
			_, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/"+url.PathEscape(topic)+"?access_token="+publisher), wstest.Options{})
			if err == nil || wstest.Status(resp) != 400 {
				t.Errorf("ingest to %q: %v, status %d, want 400", topic, err, wstest.Status(resp))
			}
		})
	}

	good := "événements/日本/ακμή-1"
	c := connect(t, hs, "a", publisher)
	c.Subscribe(good)
	apiPublish(t, hs, good, "ok")
	if f := c.WaitFor(good, "broadcast"); string(f.Data) != `"ok"` {
		t.Fatalf("delivered %s", f.Raw)
	}
}
