package keycloak_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// TestPollerLogsEachRealmsOutageOnce: while Keycloak answers 503 (a proxy in front of a
// Keycloak that is restarting), every poll fails, yet each realm logs one warning, not
// one per interval; when Keycloak is back, the realm that works logs one info line with
// the count, and a realm that still fails (it does not exist: 404) logs nothing more.
// The realm is named once in each line, by its attribute.
func TestPollerLogsEachRealmsOutageOnce(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	kc.FailTokenRequests(503, "<html><body><h1>503 Service Unavailable</h1></body></html>", 20)
	logs := newLogLines()
	p, err := keycloak.NewPoller(keycloak.NewAdmin(kc.AdminOptions()), &memSink{}, keycloak.PollerOptions{
		Realms: []string{"acme", "ghost"}, StateFile: filepath.Join(t.TempDir(), "s.json"),
		Interval: 5 * time.Millisecond, Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	up := logs.waitFor(t, "acme's poll works again", func(l logLine) bool {
		return l.msg == "keycloak poll works again" && l.attrs["realm"] == "acme"
	})
	if n := up.attrs["failures"]; n == "0" || n == "1" {
		t.Errorf("up line counts %s failures; 20 refused sign-ins should have failed acme's polls several times", n)
	}
	for _, realm := range []string{"acme", "ghost"} {
		down := logs.matching(func(l logLine) bool { return l.attrs["realm"] == realm && l.level == slog.LevelWarn })
		if len(down) != 1 || !strings.HasPrefix(down[0].msg, "keycloak poll failed") {
			t.Fatalf("realm %s: warnings %v, want exactly one 'keycloak poll failed'", realm, down)
		}
		if e := down[0].attrs["err"]; strings.Count(e, "of realm") != 1 {
			t.Errorf("realm %s: err %q should name the realm once, as the admin client does", realm, e)
		}
	}
	if got := logs.matching(func(l logLine) bool { return l.attrs["realm"] == "ghost" && l.level == slog.LevelInfo }); len(got) != 0 {
		t.Errorf("ghost, which still fails, logged %v", got)
	}
}

// TestPollOnceErrorNamesTheRealm: PollOnce's error names the realm once: the admin
// client's does, and the poller does not wrap it in the realm again.
func TestPollOnceErrorNamesTheRealm(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	p, err := keycloak.NewPoller(keycloak.NewAdmin(kc.AdminOptions()), &memSink{}, keycloak.PollerOptions{Realms: []string{"ghost"}, StateFile: filepath.Join(t.TempDir(), "s.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollOnce(context.Background(), "ghost"); err == nil || strings.Count(err.Error(), "of realm") != 1 || !strings.Contains(err.Error(), `events of realm "ghost"`) {
		t.Fatalf("PollOnce of a missing realm: %v, want an error naming realm ghost once", err)
	}
}

// logLines is a slog.Handler that keeps every record, for tests that wait for a line.
type logLines struct {
	mu      sync.Mutex
	lines   []logLine
	changed chan struct{} // closed and replaced on every record
	attrs   []slog.Attr   // of a handler made by WithAttrs; shares mu, lines, changed via root
	root    *logLines
}

type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newLogLines() *logLines {
	l := &logLines{changed: make(chan struct{})}
	l.root = l
	return l
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }

func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	line := logLine{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range l.attrs {
		line.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		line.attrs[a.Key] = a.Value.String()
		return true
	})
	root := l.root
	root.mu.Lock()
	defer root.mu.Unlock()
	root.lines = append(root.lines, line)
	close(root.changed)
	root.changed = make(chan struct{})
	return nil
}

func (l *logLines) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logLines{root: l.root, attrs: append(append([]slog.Attr(nil), l.attrs...), attrs...)}
}

func (l *logLines) WithGroup(string) slog.Handler { return l }

func (l *logLines) matching(match func(logLine) bool) []logLine {
	l.root.mu.Lock()
	defer l.root.mu.Unlock()
	var out []logLine
	for _, line := range l.root.lines {
		if match(line) {
			out = append(out, line)
		}
	}
	return out
}

// waitFor returns the first line that matches, waiting up to 10 s for it.
func (l *logLines) waitFor(t *testing.T, what string, match func(logLine) bool) logLine {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.root.mu.Lock()
		changed := l.root.changed
		for _, line := range l.root.lines {
			if match(line) {
				l.root.mu.Unlock()
				return line
			}
		}
		l.root.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line %s within 10s; lines: %s", what, fmt.Sprint(l.matching(func(logLine) bool { return true })))
		}
	}
}

// TestConfigureRealmsLogsItsOutageOnce: while Keycloak refuses the sign-in, turning on
// saving events fails every interval; it warns once, not once an interval, and says so
// once it works.
func TestConfigureRealmsLogsItsOutageOnce(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	kc.FailTokenRequests(503, "<html><body><h1>503 Service Unavailable</h1></body></html>", 20)
	logs := newLogLines()
	p, err := keycloak.NewPoller(keycloak.NewAdmin(kc.AdminOptions()), &memSink{}, keycloak.PollerOptions{
		Realms: []string{"acme"}, StateFile: filepath.Join(t.TempDir(), "s.json"),
		Interval: 5 * time.Millisecond, Logger: slog.New(logs), ConfigureRealms: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	logs.waitFor(t, "saving events turned on", func(l logLine) bool {
		return strings.HasPrefix(l.msg, "turned on saving user events") && l.attrs["realm"] == "acme"
	})
	down := logs.matching(func(l logLine) bool {
		return strings.Contains(l.msg, "saving events in the realm") && l.level == slog.LevelWarn
	})
	if len(down) != 1 {
		t.Fatalf("warnings about saving events: %v, want exactly one while the sign-in was refused", down)
	}
}
