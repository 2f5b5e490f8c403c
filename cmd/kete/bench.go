package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/kete-dev/kete/cmd/kete/internal/bench"
	"github.com/kete-dev/kete/internal/redact"
)

// benchSecretEnv carries the generated app secret to a self-started `kete bench server`,
// so that it never shows in the process list.
const benchSecretEnv = "KETE_BENCH_SECRET"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: fanout, hub, destination, server or e2e", errUsage)
	}
	switch args[0] {
	case "fanout":
		return benchFanout(ctx, args[1:], stdout, stderr)
	case "hub":
		return benchHub(ctx, args[1:], stdout, stderr)
	case "server":
		return benchServer(ctx, args[1:], stdout, stderr)
	case "destination":
		return benchDestination(ctx, args[1:], stdout, stderr)
	case "e2e":
		return benchE2E(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, "kete bench fanout   drive the server (and, with --baseline, a bare gws hub) with subscribers and publishes")
		fmt.Fprintln(stderr, "                    (--self --nodes 3 --nats URL --compare-nodes 1: three nodes on NATS against one)")
		fmt.Fprintln(stderr, "kete bench hub      serve a bare gws broadcast hub (the baseline) at --listen")
		fmt.Fprintln(stderr, "kete bench server   serve the bundled server with one generated app (what --self starts; --nats URL: a cluster node)")
		fmt.Fprintln(stderr, "kete bench destination  events through one route vs the bare gws write loop")
		fmt.Fprintln(stderr, "kete bench e2e      webhook → spool → route → server → subscribers, in one process")
		return flag.ErrHelp
	}
	return fmt.Errorf("%w: unknown bench subcommand %q", errUsage, args[0])
}

func benchHub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench hub", stderr)
	listenAddr := fs.String("listen", "127.0.0.1:0", "address to listen on (port 0: any; the address is printed)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `FILE` until stopped")
	memprofile := fs.String("memprofile", "", "write a heap profile to `FILE` (and memory figures to stderr) on each SIGUSR1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return bench.ServeHub(ctx, bench.ServeOptions{Listen: *listenAddr, CPUProfile: *cpuprofile, MemProfile: *memprofile, Stats: stderr, Ready: stdout})
}

func benchServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench server", stderr)
	listenAddr := fs.String("listen", "127.0.0.1:0", "address to listen on (port 0: any; the address is printed)")
	app := fs.String("app", "bench", "app id")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `FILE` until stopped")
	memprofile := fs.String("memprofile", "", "write a heap profile to `FILE` (and memory figures to stderr) on each SIGUSR1")
	readBuffer := fs.Int("read-buffer", 0, "each connection's read buffer in bytes (0: the server's default)")
	natsURL := fs.String("nats", "", "serve on the NATS broker at this nats:// URL (a cluster node) instead of the memory broker")
	prefix := fs.String("subject-prefix", "", "with --nats: the cluster's NATS subject prefix (default kete); nodes of one cluster share it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := checkNATSURL("--nats", *natsURL); err != nil {
		return err
	}
	if *prefix != "" && *natsURL == "" {
		return fmt.Errorf("%w: --subject-prefix needs --nats", errUsage)
	}
	secret := os.Getenv(benchSecretEnv)
	if secret == "" {
		return fmt.Errorf("%w: set %s to the app's HS256 secret (32 bytes or more)", errUsage, benchSecretEnv)
	}
	return bench.ServeServer(ctx, bench.ServeOptions{Listen: *listenAddr, AppID: *app, Secret: secret,
		NATS: *natsURL, SubjectPrefix: *prefix, ReadBufferSize: *readBuffer,
		CPUProfile: *cpuprofile, MemProfile: *memprofile, Stats: stderr, Ready: stdout})
}

// checkNATSURL accepts an empty value or nats:// and tls:// URLs (a comma-separated list).
func checkNATSURL(flagName, v string) error {
	if v == "" {
		return nil
	}
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			return fmt.Errorf("%w: %s %q: want nats://HOST:PORT (or tls://…)", errUsage, flagName, redact.URL(u))
		}
	}
	return nil
}

// childCommand turns kete arguments into the argv and environment that run them in a
// child process: this executable, or in tests the test binary re-run as the CLI.
type childCommand func(args ...string) (argv, env []string)

// selfCommand runs children as this executable.
func selfCommand() (childCommand, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find this executable to start children: %w", err)
	}
	return func(args ...string) ([]string, []string) { return append([]string{exe}, args...), nil }, nil
}

// pidList is --pid: one process id, or a cluster's node pids separated by commas.
type pidList []int

func (p *pidList) String() string {
	if p == nil {
		return ""
	}
	parts := make([]string, len(*p))
	for i, v := range *p {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (p *pidList) Set(s string) error {
	*p = nil
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return fmt.Errorf("pid %q: want a process id", f)
		}
		*p = append(*p, v)
	}
	return nil
}

// profilePath is the CPU profile file of one node: path itself for a lone node, else
// path with "-<side>-<node>" before its extension (cpu.prof → cpu-3n-1.prof).
func profilePath(path string, nodes, i int, alone bool) string {
	if alone {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%dn-%d%s", strings.TrimSuffix(path, ext), nodes, i+1, ext)
}

// reportFlags are the output flags every measuring subcommand shares.
type reportFlags struct{ json, html, svg *string }

func addReportFlags(fs *flag.FlagSet) reportFlags {
	return reportFlags{
		json: fs.String("json", "", "also write the report as JSON to `FILE`"),
		html: fs.String("html", "", "also write an HTML page with inline SVG charts to `FILE`"),
		svg:  fs.String("svg", "", "also write just the charts as one SVG to `FILE`"),
	}
}

func (f reportFlags) write(rep *bench.Report, stdout io.Writer) error {
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{*f.json, rep.WriteJSON}, {*f.html, rep.WriteHTML}, {*f.svg, rep.WriteSVG}} {
		if out.path == "" {
			continue
		}
		file, err := os.Create(out.path)
		if err != nil {
			return fmt.Errorf("report %s: %w", out.path, err)
		}
		err = out.write(file)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("report %s: %w", out.path, err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", out.path)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func benchFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	child, err := selfCommand()
	if err != nil {
		return err
	}
	return benchFanoutWith(ctx, args, stdout, stderr, child)
}

// benchFanoutWith is `kete bench fanout`, starting its children (--self, --baseline) with
// child.
func benchFanoutWith(ctx context.Context, args []string, stdout, stderr io.Writer, child childCommand) error {
	fs := newFlags("bench fanout", stderr)
	url := fs.String("url", "", "server base URL, ws://host:port, or a cluster's node URLs separated by commas (any host: giving it is your choice)")
	app := fs.String("app", "", "app id on --url")
	secret := fs.String("secret", "", "the app's HS256 secret, to mint tokens (authKey and adminKey)")
	token := fs.String("token", "", "subscriber token (and ingest publisher token; needs realtime:publisher:write:topic:TOPIC)")
	adminToken := fs.String("admin-token", "", "HTTP publish token for the adminKey (default: --token)")
	var pids pidList
	fs.Var(&pids, "pid", "the server's process id (or a cluster's, separated by commas), for CPU seconds and RSS from /proc")
	self := fs.Bool("self", false, "start the bundled server in a child process with a generated app (no --url needed)")
	baseline := fs.Bool("baseline", false, "also start a bare gws hub (kete bench hub) in a child process and alternate runs with it")
	hubURL := fs.String("hub-url", "", "compare against a hub already running at this ws:// URL instead (with --hub-pid)")
	hubPID := fs.Int("hub-pid", 0, "process id of --hub-url")
	subs := fs.Int("subscribers", 2000, "subscriber connections")
	sourceIPs := fs.Int("source-ips", 0, "loopback source addresses to spread subscribers over (127.0.0.1, .2, …), for more than ~28,000 per node (default one per 20,000)")
	rate := fs.Float64("rate", 50000, "deliveries per second, all subscribers together (messages/s = rate ÷ subscribers)")
	size := fs.Int("size", 100, "payload bytes per message")
	duration := fs.Duration("duration", 10*time.Second, "how long to publish (or, with --idle, to settle)")
	publish := fs.String("publish", "http", "publisher: http (POST) or ws (ingest WebSocket / hub /pub)")
	publishers := fs.Int("publishers", 0, "publishing goroutines (default 4 for http, 1 for ws)")
	topic := fs.String("topic", "bench", "topic every subscriber joins")
	saturate := fs.Bool("saturate", false, "publish as fast as deliveries keep up, within --window")
	window := fs.Int("window", 0, "saturation: most messages in flight (default max(8, 100000 ÷ subscribers))")
	idle := fs.Bool("idle", false, "connect, settle for --duration, measure RSS per connection; publish nothing")
	rounds := fs.Int("rounds", 0, "rounds per target (default 2 with a baseline, else 1)")
	cpuprofile := fs.String("server-cpuprofile", "", "with --self: write the server child's CPU profile to `FILE`")
	readBuffer := fs.Int("server-read-buffer", 0, "with --self: the server's per-connection read buffer in bytes (0: its default)")
	nodes := fs.Int("nodes", 1, "with --self: start this many server nodes on --nats; subscribers and publishers are spread over them round robin")
	natsURL := fs.String("nats", "", "with --self: the nats:// URL every started node's broker uses (needed for --nodes > 1 and --compare-nodes)")
	compareNodes := fs.Int("compare-nodes", 0, "with --self: also start this many nodes on --nats (a subject prefix of their own) and alternate rounds with them; prints --nodes ÷ --compare-nodes ratios")
	natsPID := fs.Int("nats-pid", 0, "the NATS server's process id, to report its CPU seconds apart (broker CPU)")
	out := addReportFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *self == (*url != "") {
		return fmt.Errorf("%w: give --url (with --app and --secret or --token) or --self", errUsage)
	}
	if *saturate && *idle {
		return fmt.Errorf("%w: --saturate and --idle exclude each other", errUsage)
	}
	if *subs < 1 {
		return fmt.Errorf("%w: --subscribers %d: want at least 1", errUsage, *subs)
	}
	if *rate <= 0 || *size < 1 || *duration <= 0 {
		return fmt.Errorf("%w: --rate, --size and --duration must be positive", errUsage)
	}
	if m := bench.PublishMode(*publish); m != bench.PublishHTTP && m != bench.PublishWS {
		return fmt.Errorf("%w: --publish %q: want http or ws", errUsage, *publish)
	}
	if *topic == "" || strings.ContainsAny(*topic, "?#% ") {
		return fmt.Errorf("%w: --topic %q: want a topic name without '?', '#', '%%' or spaces", errUsage, *topic)
	}
	if err := checkClusterFlags(*self, *nodes, *compareNodes, *natsURL, *baseline || *hubURL != ""); err != nil {
		return err
	}
	progress := io.Writer(stderr)

	var (
		targets []bench.Target
		notes   []string
		pair    *bench.Pair
	)
	if *self {
		sec := bench.NewSecret()
		tok, err := bench.MintToken(sec, *topic, 24*time.Hour)
		if err != nil {
			return err
		}
		if *natsURL != "" {
			if err := bench.CheckNATS(ctx, *natsURL); err != nil {
				return fmt.Errorf("--nats: %w", err)
			}
		}
		sides := []int{*nodes}
		if *compareNodes > 0 {
			sides = append(sides, *compareNodes)
			pair = &bench.Pair{Subject: bench.NodesName(*nodes), Baseline: bench.NodesName(*compareNodes)}
		}
		alone := len(sides) == 1 && *nodes == 1
		for _, n := range sides {
			common := []string{"bench", "server", "--listen", "127.0.0.1:0", "--app", "bench"}
			if *natsURL != "" {
				common = append(common, "--nats", *natsURL, "--subject-prefix", bench.ClusterSubjectPrefix(n))
			}
			if *readBuffer > 0 {
				common = append(common, "--read-buffer", fmt.Sprint(*readBuffer))
			}
			started, err := bench.StartNodes(ctx, n, func(i int) ([]string, []string) {
				a := common
				if *cpuprofile != "" {
					a = append(append([]string(nil), common...), "--cpuprofile", profilePath(*cpuprofile, n, i, alone))
				}
				argv, env := child(a...)
				return argv, append(env, benchSecretEnv+"="+sec)
			}, stderr)
			if err != nil {
				return err
			}
			defer bench.StopNodes(started)
			for _, c := range started {
				fmt.Fprintf(stderr, "started kete server (bench app) at %s, pid %d\n", c.Addr, c.PID)
			}
			name := "server"
			if !alone {
				name = bench.NodesName(n)
			}
			t := bench.ClusterTarget(name, "bench", tok, started)
			t.BrokerPID = *natsPID
			targets = append(targets, t)
		}
		if *natsURL != "" {
			pubs := *publishers
			if pubs <= 0 {
				pubs = 4
				if bench.PublishMode(*publish) == bench.PublishWS {
					pubs = 1
				}
			}
			notes = append(notes,
				fmt.Sprintf("every node is `kete bench server` on the NATS broker at %s (each side on a subject prefix of its own), so the sides differ in node count only", redact.Text(*natsURL)),
				fmt.Sprintf("subscriber i connects to node i mod nodes; %d %s publisher(s), publisher j on node j mod nodes", pubs, *publish))
			if *natsPID > 0 {
				notes = append(notes, fmt.Sprintf("server CPU seconds and RSS are summed over each side's node processes; NATS (pid %d) is the broker CPU column, not in them", *natsPID))
			} else {
				notes = append(notes, "server CPU seconds and RSS are summed over each side's node processes; NATS runs outside this bench and its CPU is not counted (give --nats-pid)")
			}
		}
	} else {
		t := bench.Target{Name: "server", Kind: bench.KindServer, App: *app, Token: *token, AdminToken: *adminToken, BrokerPID: *natsPID, AllowRemote: true}
		for u := range strings.SplitSeq(*url, ",") {
			t.Nodes = append(t.Nodes, strings.TrimSpace(u))
		}
		t.URL = t.Nodes[0]
		if len(t.Nodes) == 1 {
			t.Nodes = nil
		}
		if len(pids) == 1 {
			t.PID = pids[0]
		} else {
			t.PIDs = pids
		}
		if *secret != "" {
			tok, err := bench.MintToken(*secret, *topic, 24*time.Hour)
			if err != nil {
				return fmt.Errorf("--secret: %w", err)
			}
			if t.Token == "" {
				t.Token = tok
			}
			if t.AdminToken == "" {
				t.AdminToken = tok
			}
		}
		if t.App == "" || t.Token == "" {
			return fmt.Errorf("%w: --url needs --app and --secret or --token", errUsage)
		}
		targets = append(targets, t)
	}
	switch {
	case *hubURL != "":
		targets = append(targets, bench.Target{Name: "hub", Kind: bench.KindHub, URL: *hubURL, PID: *hubPID, AllowRemote: true})
	case *baseline:
		argv, env := child("bench", "hub", "--listen", "127.0.0.1:0")
		hub, err := bench.StartChild(ctx, argv, env, stderr)
		if err != nil {
			return err
		}
		defer hub.Stop()
		fmt.Fprintf(stderr, "started bare gws hub at %s, pid %d\n", hub.Addr, hub.PID)
		targets = append(targets, bench.Target{Name: "hub", Kind: bench.KindHub, URL: "ws://" + hub.Addr, PID: hub.PID})
	}
	if *rounds <= 0 {
		*rounds = 1
		if len(targets) > 1 {
			*rounds = 2
		}
	}
	o := bench.FanoutOptions{
		Mode: bench.ModeRate, Subscribers: *subs, SourceIPs: *sourceIPs, Rate: *rate, Size: *size, Duration: *duration,
		Topic: *topic, Publish: bench.PublishMode(*publish), Publishers: *publishers, Window: *window,
		Progress: progress, ProgressTTY: isTerminal(stderr),
	}
	switch {
	case *saturate:
		o.Mode = bench.ModeSaturate
	case *idle:
		o.Mode = bench.ModeIdle
	}
	rep := bench.NewReport("kete bench fanout", "kete bench fanout "+strings.Join(args, " "))
	rep.Pair, rep.Notes = pair, notes
	if err := bench.CompareFanout(ctx, rep, targets, o, *rounds, stderr); err != nil {
		if len(rep.Fanout) == 0 {
			return err
		}
		fmt.Fprintf(stderr, "bench stopped early: %v\n", err)
		rep.Compare()
	}
	return out.write(rep, stdout)
}

// checkClusterFlags refuses the cluster flags that cannot work together.
func checkClusterFlags(self bool, nodes, compareNodes int, natsURL string, hub bool) error {
	switch {
	case nodes < 1:
		return fmt.Errorf("%w: --nodes %d: want at least 1", errUsage, nodes)
	case compareNodes < 0:
		return fmt.Errorf("%w: --compare-nodes %d: want at least 1 (or 0: no comparison)", errUsage, compareNodes)
	case !self && (nodes > 1 || compareNodes > 0 || natsURL != ""):
		return fmt.Errorf("%w: --nodes, --compare-nodes and --nats start nodes with --self; for nodes already running give --url URL1,URL2,… (and --pid PID1,PID2,…)", errUsage)
	case nodes > 1 && natsURL == "":
		return fmt.Errorf("%w: --nodes %d needs --nats nats://HOST:PORT: the nodes act as one cluster through a NATS server", errUsage, nodes)
	case compareNodes > 0 && natsURL == "":
		return fmt.Errorf("%w: --compare-nodes %d needs --nats nats://HOST:PORT: both sides serve on the NATS broker", errUsage, compareNodes)
	case compareNodes > 0 && compareNodes == nodes:
		return fmt.Errorf("%w: --compare-nodes %d equals --nodes: compare different node counts", errUsage, compareNodes)
	case compareNodes > 0 && hub:
		return fmt.Errorf("%w: --compare-nodes and --baseline (or --hub-url) exclude each other: one comparison per run", errUsage)
	}
	return checkNATSURL("--nats", natsURL)
}

func benchDestination(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench destination", stderr)
	url := fs.String("url", "", "WebSocket sink URL (default: a built-in gws sink on 127.0.0.1)")
	size := fs.Int("size", 300, "serialized event bytes")
	duration := fs.Duration("duration", 5*time.Second, "how long each run sends")
	events := fs.Int64("events", 0, "stop each run after this many events (0: run for --duration)")
	senders := fs.Int("senders", 1, "sending goroutines (and pooled connections)")
	rounds := fs.Int("rounds", 2, "rounds of kete route + bare gws")
	cpuprofile := fs.String("cpuprofile", "", "write this process's CPU profile (route, baseline and built-in sink) to `FILE`")
	out := addReportFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *size < 1 || *duration <= 0 || *senders < 1 || *events < 0 {
		return fmt.Errorf("%w: --size, --duration and --senders must be positive", errUsage)
	}
	if *cpuprofile != "" {
		stop, err := bench.StartCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	o := bench.DestOptions{URL: *url, AllowRemote: *url != "", Size: *size, Duration: *duration, Events: *events, Senders: *senders}
	if *url == "" {
		sink := bench.NewSink()
		addr, stop, err := bench.ServeLoopback(sink)
		if err != nil {
			return err
		}
		defer stop()
		defer sink.Close()
		o.URL, o.Sink = "ws://"+addr+"/", sink
	}
	rep := bench.NewReport("kete bench destination", "kete bench destination "+strings.Join(args, " "))
	if err := bench.CompareDestination(ctx, rep, o, *rounds, stderr); err != nil {
		if len(rep.Destination) == 0 {
			return err
		}
		fmt.Fprintf(stderr, "bench stopped early: %v\n", err)
		rep.Compare()
	}
	return out.write(rep, stdout)
}
