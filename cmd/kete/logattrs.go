package main

import (
	"log/slog"
	"strings"

	"github.com/kete-dev/kete/internal/redact"
)

// replaceLogAttr is every kete logger's ReplaceAttr: secrets are masked (redact), then a
// duration is written as seconds under a key that says so ("wait": 1500000000 in JSON,
// which slog writes as nanoseconds, becomes "wait_seconds": 1.5), in both formats, so that
// a log query and a person read the same number.
func replaceLogAttr(groups []string, a slog.Attr) slog.Attr {
	a = redact.ReplaceAttr(groups, a)
	if a.Value.Kind() == slog.KindDuration {
		if !strings.HasSuffix(a.Key, "_seconds") {
			a.Key += "_seconds"
		}
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}
