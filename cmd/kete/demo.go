package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/cmd/kete/internal/demo"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/httpguard"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// demoConfig is `kete demo`'s embedded configuration: two routes into the bundled
// server's acked ingest, one for every event and one for logins only. The %s are filled
// with the server's address, the publisher token and the spool directory.
const demoConfig = `
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

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	listenAddr := fs.String("listen", "127.0.0.1:8080", "server address; the default falls back to a free port when taken (and says so), a given one is refused")
	webhookAddr := fs.String("webhook", "127.0.0.1:8081", "webhook/metrics address; the default falls back to a free port when taken (and says so), a given one is refused")
	rate := fs.Int("rate", 20, "events generated per second")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	log := newLogger(stderr, slog.LevelWarn)

	secret := make([]byte, 32)
	rand.Read(secret)
	key := auth.Key{Source: "raw", Key: hex.EncodeToString(secret), Algorithms: []string{"HS256"}}
	// Every dashboard tab connects with the one viewer token: one connection per user off.
	app := server.App{AppID: "demo", Name: "kete demo", Enabled: true, AuthKey: key, AdminKey: key, ClientInboundAckEnabled: true,
		OneConnectionPerUser: server.OnePerUserOff}
	srv, err := server.New(server.Options{Apps: []server.App{app}, Logger: log})
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	srvLn, err := listenOrFree(*listenAddr, given["listen"], "listen", stderr)
	if err != nil {
		srv.Close()
		return err
	}
	sign := func(sub string, perms ...string) string {
		tok, err := auth.Mint("HS256", []byte(key.Key), auth.MintClaims{Subject: sub, Permissions: perms, TTL: 24 * time.Hour})
		if err != nil {
			panic(err) // a fixed HS256 key and claims: cannot fail
		}
		return tok
	}
	publisher := sign("kete-demo-daemon", "realtime:publisher:write:topic:*")
	viewer := sign("dashboard", "realtime:subscriber:read:topic:*")

	dir, err := os.MkdirTemp("", "kete-demo-")
	if err != nil {
		srv.Close()
		return err
	}
	defer os.RemoveAll(dir)
	whLn, err := listenOrFree(*webhookAddr, given["webhook"], "webhook", stderr)
	if err != nil {
		srv.Close()
		return err
	}
	whAddr := whLn.Addr().String()
	whLn.Close() // the daemon binds it again from its config
	cfg, err := config.Parse(fmt.Appendf(nil, demoConfig, srvLn.Addr().String(), publisher, dir, whAddr), "properties", nil)
	if err != nil {
		srv.Close()
		return fmt.Errorf("demo configuration: %w", err)
	}

	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serve(serveCtx, httpguard.Wrap(srvLn, nil, httpguard.Options{}), srv, httpguard.Options{}, log)
	}()
	d, err := startDaemon(ctx, cfg, daemonOptions{Logger: log, Server: srv, ShutdownTimeout: 3 * time.Second})
	if err != nil {
		stopServing()
		<-served
		srv.Close()
		return err
	}

	base := "http://" + srvLn.Addr().String()
	link := base + "/#" + url.Values{"app": {"demo"}, "token": {viewer}, "topics": {"events"}}.Encode()
	fmt.Fprintf(stdout, "kete demo is running.\n\n  Dashboard:  %s\n\n", link)
	fmt.Fprintf(stdout, "  Webhook:    curl -X POST http://%s/events -d '{\"type\":\"LOGIN\",\"realmId\":\"acme\",\"time\":%d}'\n", d.opsAddr, time.Now().UnixMilli())
	fmt.Fprintf(stdout, "  Topics:     events (every event), logins/{realm} (logins only: the second route)\n")
	fmt.Fprintf(stdout, "  Metrics:    http://%s/metrics\n", d.opsAddr)
	fmt.Fprintf(stdout, "  Subscribe:  ws://%s/apps/demo?access_token=%s\n", srvLn.Addr(), viewer)
	fmt.Fprintf(stdout, "  Consume:    ws://%s/drogue/demo/events?token=%s&group_id=demo (Drogue Cloud style: CloudEvents, shared by a group)\n\n", srvLn.Addr(), viewer)
	fmt.Fprintf(stdout, "Generating %d events/s across realms acme, globex and master. Ctrl-C stops.\n", *rate)

	var generated atomic.Int64
	gen := demo.NewGenerator(uint64(time.Now().UnixNano()))
	genDone := make(chan error, 1)
	go func() {
		_, err := gen.Run(ctx, *rate, func(ctx context.Context, batch []kete.Event) error {
			err := d.pipeline.Ingest(ctx, "generator", batch)
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
			if !*quiet {
				fmt.Fprintf(stdout, "\r%s", progress(generated.Load(), d))
			}
		}
	}
	fmt.Fprintf(stdout, "\r%s\n", progress(generated.Load(), d))
	stopErr := d.stop()
	stopServing()
	<-served
	if genErr != nil {
		return genErr
	}
	return stopErr
}

func progress(generated int64, d *runningDaemon) string {
	var b strings.Builder
	fmt.Fprintf(&b, "generated %d  spooled %d", generated, d.spool.Stats().Written)
	for _, st := range d.pipeline.Status() {
		state := ""
		if st.Failing {
			state = " (retrying)"
		}
		fmt.Fprintf(&b, "  %s: delivered %d, backlog %d%s", st.Route, st.Delivered, st.Backlog, state)
	}
	return b.String() + "   "
}
