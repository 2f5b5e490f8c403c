package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/server"
)

// e2eFlags are `kete bench e2e`'s flags.
type e2eFlags struct {
	subs, batch, posters int
	rate                 float64
	duration             time.Duration
	saturate             bool
	out                  reportFlags
}

func parseE2EFlags(args []string, stderr io.Writer) (*e2eFlags, error) {
	f := &e2eFlags{}
	fs := newFlags("e2e", stderr)
	fs.IntVar(&f.subs, "subscribers", 100, "subscriber connections")
	fs.Float64Var(&f.rate, "rate", 2000, "events per second posted to the webhook")
	fs.IntVar(&f.batch, "batch", 1, "events per POST")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to post")
	fs.BoolVar(&f.saturate, "saturate", false, "post as fast as deliveries keep up (sustained events/s)")
	fs.IntVar(&f.posters, "posters", 4, "concurrent POSTers")
	f.out.add(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.subs < 1 || f.rate <= 0 || f.batch < 1 || f.duration <= 0 || f.posters < 1 {
		return nil, fmt.Errorf("%w: --subscribers, --rate, --batch, --duration and --posters must be positive", ErrUsage)
	}
	return f, nil
}

// startDaemonFunc is Options.StartDaemon.
type startDaemonFunc func(ctx context.Context, cfg *config.Config) (webhook net.Addr, stop func() error, err error)

// runE2ECommand is `kete bench e2e`: the whole path in one process, webhook POST → spool
// (fsync'd) → route → the bundled server's acked ingest → subscribers, with the latency
// from the POST to each subscriber's receipt.
func runE2ECommand(ctx context.Context, args []string, stdout, stderr io.Writer, startDaemon startDaemonFunc) error {
	f, err := parseE2EFlags(args, stderr)
	if err != nil {
		return err
	}
	if startDaemon == nil {
		return errors.New("bench e2e: this binary has no daemon to start")
	}
	dir, err := os.MkdirTemp("", "kete-bench-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, stopServer, err := startE2EServer()
	if err != nil {
		return err
	}
	defer stopServer()
	webhook, stopDaemon, err := startE2EDaemon(ctx, startDaemon, srv, filepath.Join(dir, "spool"))
	if err != nil {
		return err
	}
	defer stopDaemon()

	rep := newReport("kete bench e2e: webhook → spool → route → server → subscribers", "kete bench e2e "+strings.Join(args, " "))
	poster := &webhookPoster{url: "http://" + webhook.String() + "/events", batch: f.batch,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: f.posters * 2}}}
	res, err := runE2E(ctx, e2eOptions{Target: srv, Fanout: f.load(stderr), Send: poster.send})
	if res != nil {
		rep.Fanout = append(rep.Fanout, res)
		perSub := float64(res.Received) / float64(max(1, res.Connected))
		fmt.Fprintf(stdout, "events posted: %d in batches of %d; delivered to each subscriber: %.0f events/s\n",
			res.Sent*int64(f.batch), f.batch, perSub*float64(f.batch)/res.Elapsed.Seconds())
		fmt.Fprintln(stdout, "(latency is POST → subscriber for the last event of each POST; CPU is the whole process: daemon, server and load together)")
	}
	if werr := f.out.write(rep, stdout); err == nil {
		err = werr
	}
	return err
}

// load is the load: each message of the fan-out run is one POST of f.batch
// events.
func (f *e2eFlags) load(progress io.Writer) fanoutOptions {
	o := fanoutOptions{
		Mode: modeRate, Subscribers: f.subs, Rate: f.rate / float64(f.batch) * float64(f.subs), Size: 64,
		Duration: f.duration, Topic: "events", Publishers: f.posters,
		// Saturation: a few POSTs beyond what subscribers have seen, so the spool does
		// not just fill up and the figure is what flows through end to end.
		Window:   2 * f.posters,
		Progress: progress, ProgressTTY: isTerminal(progress),
	}
	if f.saturate {
		o.Mode = modeSaturate
	}
	return o
}

// startE2EServer serves the bundled server with one generated app on 127.0.0.1, in this
// process, and returns it as the run's target.
func startE2EServer() (target, func(), error) {
	secret := newSecret()
	srv, err := server.New(server.Options{Apps: []server.App{benchApp("bench", secret)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return target{}, nil, err
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		return target{}, nil, err
	}
	addr, stopServing, err := serveLoopback(srv)
	if err != nil {
		srv.Close()
		return target{}, nil, err
	}
	stop := func() { stopServing(); srv.Close() }
	tok, err := mintToken(secret, "events", 24*time.Hour)
	if err != nil {
		stop()
		return target{}, nil, err
	}
	return target{Name: "kete e2e", Kind: kindServer, URL: "ws://" + addr, App: "bench", Token: tok, PID: os.Getpid()}, stop, nil
}

// e2eConfig is the daemon's configuration: the webhook source, a spool in %[3]s, and one
// route into the server at %[1]s with token %[2]s.
const e2eConfig = `
kete.routes.bench.destination.kind=websocket
kete.routes.bench.destination.url=ws://%[1]s/apps/bench/publish/events?ack=1
kete.routes.bench.destination.headers.Authorization=Bearer %[2]s
kete.sources.webhook.enabled=true
kete.sources.webhook.listen=127.0.0.1:0
kete.spool.dir=%[3]s
`

// startE2EDaemon starts the daemon with one route into srv's topic "events".
func startE2EDaemon(ctx context.Context, start startDaemonFunc, srv target, spoolDir string) (net.Addr, func(), error) {
	props := fmt.Sprintf(e2eConfig, strings.TrimPrefix(srv.URL, "ws://"), srv.Token, spoolDir)
	cfg, err := config.Parse([]byte(props), "properties", nil)
	if err != nil {
		return nil, nil, err
	}
	webhook, stop, err := start(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return webhook, func() { _ = stop() }, nil
}

// webhookPoster sends each fan-out message as one webhook POST of batch events; the last
// carries the send stamp in details.t, which the subscribers read back, so a delivery
// counted is a whole batch through (a route delivers a batch about in order).
type webhookPoster struct {
	url    string
	batch  int
	client *http.Client
}

func (p *webhookPoster) send(ctx context.Context, payload []byte) error {
	stamp, _ := stampOf(payload)
	var body bytes.Buffer
	body.WriteByte('[')
	for i := range p.batch {
		if i > 0 {
			body.WriteByte(',')
		}
		if i < p.batch-1 {
			fmt.Fprintf(&body, `{"type":"LOGIN","realmId":"acme","time":%d,"clientId":"web","userId":"u%d"}`, time.Now().UnixMilli(), i)
			continue
		}
		fmt.Fprintf(&body, `{"type":"LOGIN","realmId":"acme","time":%d,"clientId":"web","userId":"u%d","details":{"t":"%d"}}`,
			time.Now().UnixMilli(), i, stamp)
	}
	body.WriteByte(']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, &body)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
