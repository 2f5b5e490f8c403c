package server

import (
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/kete-dev/kete/internal/syncbuf"
)

func TestAuditLog(t *testing.T) {
	for _, tt := range []struct {
		name             string
		audit            Audit
		wantAudit, wantP bool
	}{
		{"off by default", Audit{}, false, false},
		{"on without payloads", Audit{Enabled: true}, true, false},
		{"on with payloads", Audit{Enabled: true, LogPayloads: true}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncbuf.Buffer
			app := testApp("a", secretA)
			app.Audit = tt.audit
			_, hs := startServer(t, Options{Apps: []App{app}, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			tok := mint(t, secretA, "alice", time.Hour, "realtime:publisher:write:topic:*")
			tc := connect(t, hs, "a", tok)
			tc.Subscribe("t")
			tc.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "t", "payload": "secret-payload-42"}})
			tc.WaitFor("t", "broadcast")
			if tt.wantAudit {
				waitUntil(t, "audit delivery line", func() bool { return strings.Contains(logs.String(), "audit delivery") })
			}
			out := logs.String()
			if got := strings.Contains(out, "audit client frame"); got != tt.wantAudit {
				t.Errorf("audit client frame lines: %v, want %v\n%s", got, tt.wantAudit, out)
			}
			if got := strings.Contains(out, "secret-payload-42"); got != tt.wantP {
				t.Errorf("payload logged: %v, want %v\n%s", got, tt.wantP, out)
			}
			if strings.Contains(out, tok) || strings.Contains(out, secretA) {
				t.Errorf("a token or key was logged:\n%s", out)
			}
		})
	}
}
