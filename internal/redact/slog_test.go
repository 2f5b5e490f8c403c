package redact

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestReplaceAttr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: ReplaceAttr}))
	err := errors.New(`Post "https://auth.example.com/token?client_secret=S3CRET&aud=ws": EOF`)
	log.Warn("sign-in to https://admin:S3CRET@kc failed", "err", err, "url", "wss://h/x?access_token=S3CRET", "n", 3)
	out := buf.String()
	if strings.Contains(out, "S3CRET") {
		t.Errorf("log line shows the secret: %s", out)
	}
	for _, want := range []string{"https://admin:****@kc", "token?client_secret=****&aud=ws", "wss://h/x?access_token=****", `"n":3`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %q: %s", want, out)
		}
	}
}

// The cost of redaction on a log line that carries a URL: compare /redacted with
// /identity (a ReplaceAttr that changes nothing, which already moves slog off its fast
// path) for Text's own cost, and with /plain for the whole.
func BenchmarkLogLine(b *testing.B) {
	err := errors.New("websocket ws://127.0.0.1:8080/apps/demo/publish/events: write: broken pipe")
	identity := func(_ []string, a slog.Attr) slog.Attr { return a }
	for _, bc := range []struct {
		name string
		opts *slog.HandlerOptions
	}{
		{"plain", nil},
		{"identity", &slog.HandlerOptions{ReplaceAttr: identity}},
		{"redacted", &slog.HandlerOptions{ReplaceAttr: ReplaceAttr}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(slog.NewJSONHandler(io.Discard, bc.opts))
			for b.Loop() {
				log.Warn("delivery failed, retrying", "route", "ws", "event", "abc", "attempt", 3, "err", err)
			}
		})
	}
}
