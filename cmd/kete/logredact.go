package main

import (
	"log/slog"

	"github.com/kete-dev/kete/internal/redact"
)

// redactAttr is the log handler's last line of defence: every message, string and error
// a line carries goes through redact.Text, because errors from libraries (net/http,
// x/oauth2, nats) quote whole URLs, query and all.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		if r := redact.Text(s); r != s {
			a.Value = slog.StringValue(r)
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && err != nil {
			a.Value = slog.StringValue(redact.Text(err.Error()))
		}
	}
	return a
}
