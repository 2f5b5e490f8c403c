package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/daemon"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// Setup is the demo's one app and the tokens of its two users: the daemon's routes,
// which publish, and the dashboard, which watches.
type Setup struct {
	App server.App
	// Publisher may publish on any topic (the routes' Authorization header).
	Publisher string
	// Viewer may subscribe to any topic: every dashboard tab connects with it.
	Viewer string
}

// NewSetup makes the app "demo" with a fresh random HS256 key and signs both tokens
// with it.
func NewSetup() Setup {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key := auth.Key{Source: "raw", Key: hex.EncodeToString(secret), Algorithms: []string{"HS256"}}
	// Every dashboard tab connects with the one viewer token: one connection per user off.
	app := server.App{AppID: "demo", Name: "kete demo", Enabled: true, AuthKey: key, AdminKey: key, ClientInboundAckEnabled: true,
		OneConnectionPerUser: server.OnePerUserOff}
	sign := func(sub string, perms ...string) string {
		tok, err := auth.Mint("HS256", []byte(key.Key), auth.MintClaims{Subject: sub, Permissions: perms, TTL: 24 * time.Hour})
		if err != nil {
			panic(err) // a fixed HS256 key and claims: cannot fail
		}
		return tok
	}
	return Setup{
		App:       app,
		Publisher: sign("kete-demo-daemon", "realtime:publisher:write:topic:*"),
		Viewer:    sign("dashboard", "realtime:subscriber:read:topic:*"),
	}
}

// config is the daemon's configuration: two routes into the bundled server's acked
// ingest, one for every event and one for logins only. The %s are filled with the
// server's address, the publisher token, the spool directory and the webhook address.
const config = `
kete.routes.all.destination.kind=websocket
kete.routes.all.destination.url=ws://%[1]s/apps/demo/publish/events?ack=1
kete.routes.all.destination.headers.Authorization=Bearer %[2]s
kete.routes.all.destination.pool.max-total=4

kete.routes.logins.event-matchers.logins=glob:LOGIN*
kete.routes.logins.destination.kind=websocket
kete.routes.logins.destination.url=ws://%[1]s/apps/demo/publish/logins/${realmLowerCase}?ack=1
kete.routes.logins.destination.headers.Authorization=Bearer %[2]s
kete.routes.logins.destination.pool.max-total=2

kete.sources.webhook.enabled=true
kete.sources.webhook.listen=%[4]s
kete.spool.dir=%[3]s
`

// Config is the daemon's configuration as .properties: routes "all" (every event to the
// topic events) and "logins" (logins to logins/{realm}) into the server at serverAddr
// with the publisher token, the webhook at webhookAddr, the spool in spoolDir.
func Config(serverAddr, publisher, spoolDir, webhookAddr string) []byte {
	return fmt.Appendf(nil, config, serverAddr, publisher, spoolDir, webhookAddr)
}

// PrintLinks tells the user where to look: the dashboard, the webhook, the topics, the
// metrics and the WebSocket URLs, for the server at srv and the daemon's webhook at ops.
func PrintLinks(w io.Writer, srv, ops net.Addr, viewer string, rate int) {
	link := "http://" + srv.String() + "/#" + url.Values{"app": {"demo"}, "token": {viewer}, "topics": {"events"}}.Encode()
	fmt.Fprintf(w, "kete demo is running.\n\n  Dashboard:  %s\n\n", link)
	fmt.Fprintf(w, "  Webhook:    curl -X POST http://%s/events -d '{\"type\":\"LOGIN\",\"realmId\":\"acme\",\"time\":%d}'\n", ops, time.Now().UnixMilli())
	fmt.Fprintf(w, "  Topics:     events (every event), logins/{realm} (logins only: the second route)\n")
	fmt.Fprintf(w, "  Metrics:    http://%s/metrics\n", ops)
	fmt.Fprintf(w, "  Subscribe:  ws://%s/apps/demo?access_token=%s\n", srv, viewer)
	fmt.Fprintf(w, "  Consume:    ws://%s/drogue/demo/events?token=%s&group_id=demo (Drogue Cloud style: CloudEvents, shared by a group)\n\n", srv, viewer)
	fmt.Fprintf(w, "Generating %d events/s across realms acme, globex and master. Ctrl-C stops.\n", rate)
}

// Pipeline is the daemon as the demo drives it: *daemon.Pipeline.
type Pipeline interface {
	Ingest(ctx context.Context, source string, events []kete.Event) error
	Status() []daemon.RouteStatus
}

// Options shape Run.
type Options struct {
	// Rate is events generated per second.
	Rate int
	// Pipeline takes the events; Spooled says how many records the spool has written.
	Pipeline Pipeline
	Spooled  func() uint64
	// Out receives the progress line, redrawn each second unless Quiet, and once at the end.
	Out   io.Writer
	Quiet bool
}

// Run generates o.Rate events a second into o.Pipeline until ctx ends (nil) or the
// pipeline refuses a batch (its error).
func Run(ctx context.Context, o Options) error {
	var generated atomic.Int64
	gen := NewGenerator(uint64(time.Now().UnixNano()))
	genDone := make(chan error, 1)
	go func() {
		_, err := gen.Run(ctx, o.Rate, func(ctx context.Context, batch []kete.Event) error {
			err := o.Pipeline.Ingest(ctx, "generator", batch)
			if err == nil {
				generated.Add(int64(len(batch)))
			}
			return err
		})
		genDone <- err
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var genErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case genErr = <-genDone:
			if genErr != nil {
				break loop
			}
		case <-tick.C:
			if !o.Quiet {
				fmt.Fprintf(o.Out, "\r%s", o.progress(generated.Load()))
			}
		}
	}
	fmt.Fprintf(o.Out, "\r%s\n", o.progress(generated.Load()))
	return genErr
}

// progress is the one-line state: generated, spooled, and each route's deliveries.
func (o Options) progress(generated int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "generated %d  spooled %d", generated, o.Spooled())
	for _, st := range o.Pipeline.Status() {
		state := ""
		if st.Failing {
			state = " (retrying)"
		}
		fmt.Fprintf(&b, "  %s: delivered %d, backlog %d%s", st.Route, st.Delivered, st.Backlog, state)
	}
	return b.String() + "   "
}
