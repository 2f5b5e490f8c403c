package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kete-dev/kete/cmd/kete/internal/bench"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/server"
)

// benchE2E measures the whole path in one process: webhook POST → spool (fsync'd) →
// route → the bundled server's acked ingest → subscribers, with the latency from the
// POST to each subscriber's receipt.
func benchE2E(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench e2e", stderr)
	subs := fs.Int("subscribers", 100, "subscriber connections")
	rate := fs.Float64("rate", 2000, "events per second posted to the webhook")
	batch := fs.Int("batch", 1, "events per POST")
	duration := fs.Duration("duration", 10*time.Second, "how long to post")
	saturate := fs.Bool("saturate", false, "post as fast as deliveries keep up (sustained events/s)")
	posters := fs.Int("posters", 4, "concurrent POSTers")
	out := addReportFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *subs < 1 || *rate <= 0 || *batch < 1 || *duration <= 0 || *posters < 1 {
		return fmt.Errorf("%w: --subscribers, --rate, --batch, --duration and --posters must be positive", errUsage)
	}
	dir, err := os.MkdirTemp("", "kete-bench-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	secret := bench.NewSecret()
	srv, err := server.New(server.Options{Apps: []server.App{bench.BenchApp("bench", secret)}, Logger: newLogger(io.Discard, 0)})
	if err != nil {
		return err
	}
	srvAddr, stopSrv, err := bench.ServeLoopback(srv)
	if err != nil {
		srv.Close()
		return err
	}
	defer func() { stopSrv(); srv.Close() }()
	tok, err := bench.MintToken(secret, "events", 24*time.Hour)
	if err != nil {
		return err
	}
	props := fmt.Sprintf(`
kete.routes.bench.destination.kind=websocket
kete.routes.bench.destination.url=ws://%s/apps/bench/publish/events?ack=1
kete.routes.bench.destination.headers.Authorization=Bearer %s
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%s
`, srvAddr, tok, filepath.Join(dir, "spool"))
	cfg, err := config.Parse([]byte(props), "properties", nil)
	if err != nil {
		return err
	}
	d, err := startDaemon(ctx, cfg, daemonOptions{Logger: newLogger(io.Discard, 0), ShutdownTimeout: time.Second})
	if err != nil {
		return err
	}
	defer d.stop()
	webhook := "http://" + d.opsAddr.String() + "/events"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *posters * 2}}

	// Each message of the fan-out run becomes `batch` events in one POST; the last
	// carries the send stamp in details.t, which the subscribers read back, so a delivery
	// counted is a whole batch through (a route delivers a batch about in order).
	send := func(ctx context.Context, payload []byte) error {
		stamp, _ := bench.Stamp(payload)
		var body bytes.Buffer
		body.WriteByte('[')
		for i := range *batch {
			if i > 0 {
				body.WriteByte(',')
			}
			if i < *batch-1 {
				fmt.Fprintf(&body, `{"type":"LOGIN","realmId":"acme","time":%d,"clientId":"web","userId":"u%d"}`, time.Now().UnixMilli(), i)
				continue
			}
			fmt.Fprintf(&body, `{"type":"LOGIN","realmId":"acme","time":%d,"clientId":"web","userId":"u%d","details":{"t":"%d"}}`,
				time.Now().UnixMilli(), i, stamp)
		}
		body.WriteByte(']')
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, &body)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("webhook answered %s", resp.Status)
		}
		return nil
	}
	mode := bench.ModeRate
	if *saturate {
		mode = bench.ModeSaturate
	}
	target := bench.Target{Name: "kete e2e", Kind: bench.KindServer, URL: "ws://" + srvAddr, App: "bench", Token: tok, PID: os.Getpid()}
	rep := bench.NewReport("kete bench e2e: webhook → spool → route → server → subscribers", "kete bench e2e "+joinArgs(args))
	res, err := bench.RunE2E(ctx, bench.E2EOptions{
		Target: target,
		Fanout: bench.FanoutOptions{
			Mode: mode, Subscribers: *subs, Rate: *rate / float64(*batch) * float64(*subs), Size: 64,
			Duration: *duration, Topic: "events", Publishers: *posters,
			// Saturation: a few POSTs beyond what subscribers have seen, so the spool does
			// not just fill up and the figure is what flows through end to end.
			Window:   2 * *posters,
			Progress: stderr, ProgressTTY: isTerminal(stderr),
		},
		Send: send,
	})
	if res != nil {
		rep.Fanout = append(rep.Fanout, res)
		perSub := float64(res.Received) / float64(max(1, res.Connected))
		fmt.Fprintf(stdout, "events posted: %d in batches of %d; delivered to each subscriber: %.0f events/s\n",
			res.Sent*int64(*batch), *batch, perSub*float64(*batch)/res.Elapsed.Seconds())
		fmt.Fprintln(stdout, "(latency is POST → subscriber for the last event of each POST; CPU is the whole process: daemon, server and load together)")
	}
	if werr := out.write(rep, stdout); err == nil {
		err = werr
	}
	return err
}

func joinArgs(args []string) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a)
	}
	return b.String()
}
