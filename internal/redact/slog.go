package redact

import "log/slog"

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that passes every message, string and
// error of a log line through Text: errors from libraries (net/http, x/oauth2, nats)
// quote whole URLs, query and all, so the logger is the last line of defence.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		if r := Text(s); r != s {
			a.Value = slog.StringValue(r)
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && err != nil {
			a.Value = slog.StringValue(Text(err.Error()))
		}
	}
	return a
}
