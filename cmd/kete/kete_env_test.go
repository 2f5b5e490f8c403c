package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// frameSink is a gws server on 127.0.0.1 that hands every text frame it receives to got.
type frameSink struct {
	gws.BuiltinEventHandler
	got chan string
}

func (s *frameSink) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	s.got <- m.Data.String()
}

func newFrameSink(t *testing.T) (*frameSink, string) {
	t.Helper()
	s := &frameSink{got: make(chan string, 16)}
	up := gws.NewUpgrader(s, &gws.ServerOption{})
	conns := make(chan *gws.Conn, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		conns <- c
		go c.ReadLoop()
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		close(conns)
		for c := range conns {
			c.NetConn().Close()
		}
		srv.Close()
	})
	return s, strings.Replace(srv.URL, "http://", "ws://", 1)
}

// TestRunFromKETEDottedEnvironment: a KETE deployment's configuration — variables named
// like the keys, here the websocket-echo quick start's two (FortuneN/kete,
// quick-starts/websocket-echo/docker-compose.yml) — runs `kete run` with no file, and
// an event posted to the webhook reaches the WebSocket server.
func TestRunFromKETEDottedEnvironment(t *testing.T) {
	sink, base := newFrameSink(t)
	hookAddr := freeAddr(t)
	t.Setenv("kete.routes.quick-start.destination.kind", "websocket")
	t.Setenv("kete.routes.quick-start.destination.url", base+"/.ws")
	// What KETE needs no key for — where events come in, where they wait — also dotted.
	t.Setenv("kete.sources.webhook.enabled", "true")
	t.Setenv("kete.sources.webhook.listen", hookAddr)
	t.Setenv("kete.spool.dir", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemon := startKete(ctx, t, "run")
	waitHTTP(t, "http://"+hookAddr+"/readyz")

	postExampleEvent(t, "http://"+hookAddr+"/events", `{"id":"dotted-1","time":1767225600000,"type":"LOGIN","realmId":"acme","userId":"alice"}`)
	select {
	case frame := <-sink.got:
		if !strings.Contains(frame, `"dotted-1"`) {
			t.Errorf("frame %s, want event dotted-1", frame)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no frame reached the WebSocket server within 20s")
	}
	cancel()
	daemon.wait(t)
}

// TestRunWithNothingToRun: a daemon that would forward nothing does not start quietly.
func TestRunWithNothingToRun(t *testing.T) {
	code, _, stderr := runCLI(t, "run")
	if code != 2 || !strings.Contains(stderr, "--config is required") || !strings.Contains(stderr, "kete.routes.<name>") {
		t.Errorf("no configuration at all: exit %d\n%s", code, stderr)
	}
	t.Setenv("kete.routes.events.destination.kind", "kafka")
	t.Setenv("kete.routes.events.destination.topic", "keycloak-events")
	t.Setenv("kete.spool.dir", t.TempDir())
	code, _, stderr = runCLI(t, "run")
	if code != 1 || !strings.Contains(stderr, "route events (destination.kind=kafka") {
		t.Errorf("only a kafka route: exit %d, want 1 naming the route\n%s", code, stderr)
	}
}

// TestCheckFromKETEDottedEnvironment: `kete check` without --config checks what the
// environment says, as `kete run` would run it.
func TestCheckFromKETEDottedEnvironment(t *testing.T) {
	t.Setenv("kete.routes.quick-start.destination.kind", "websocket")
	t.Setenv("kete.routes.quick-start.destination.url", "ws://websocket-echo:8080/.ws")
	t.Setenv("kete.routes.quick-start.retry.wait-duration", "15")
	code, stdout, stderr := runCLI(t, "check")
	if code != 0 || !strings.Contains(stdout, "route quick-start (enabled)") || !strings.Contains(stdout, "first wait 15s") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
