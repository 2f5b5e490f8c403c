package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kete-dev/kete/internal/redact"
)

// fanoutFlags are `kete bench fanout`'s flags.
type fanoutFlags struct {
	url, app, secret, token, adminToken string
	pids                                pidList
	self, baseline                      bool
	hubURL                              string
	hubPID                              int
	subs, sourceIPs, size               int
	rate                                float64
	duration                            time.Duration
	publish                             string
	publishers                          int
	topic                               string
	saturate, idle                      bool
	window, rounds                      int
	cpuprofile                          string
	readBuffer                          int
	nodes, compareNodes, natsPID        int
	natsURL                             string
	out                                 reportFlags
}

// parseFanoutFlags reads and checks `kete bench fanout`'s flags.
func parseFanoutFlags(args []string, stderr io.Writer) (*fanoutFlags, error) {
	f := &fanoutFlags{}
	fs := newFlags("fanout", stderr)
	fs.StringVar(&f.url, "url", "", "server base URL, ws://host:port, or a cluster's node URLs separated by commas (any host: giving it is your choice)")
	fs.StringVar(&f.app, "app", "", "app id on --url")
	fs.StringVar(&f.secret, "secret", "", "the app's HS256 secret, to mint tokens (authKey and adminKey)")
	fs.StringVar(&f.token, "token", "", "subscriber token (and ingest publisher token; needs realtime:publisher:write:topic:TOPIC)")
	fs.StringVar(&f.adminToken, "admin-token", "", "HTTP publish token for the adminKey (default: --token)")
	fs.Var(&f.pids, "pid", "the server's process id (or a cluster's, separated by commas), for CPU seconds and RSS from /proc")
	fs.BoolVar(&f.self, "self", false, "start the bundled server in a child process with a generated app (no --url needed)")
	fs.BoolVar(&f.baseline, "baseline", false, "also start a bare gws hub (kete bench hub) in a child process and alternate runs with it")
	fs.StringVar(&f.hubURL, "hub-url", "", "compare against a hub already running at this ws:// URL instead (with --hub-pid)")
	fs.IntVar(&f.hubPID, "hub-pid", 0, "process id of --hub-url")
	fs.IntVar(&f.subs, "subscribers", 2000, "subscriber connections")
	fs.IntVar(&f.sourceIPs, "source-ips", 0, "loopback source addresses to spread subscribers over (127.0.0.1, .2, …), for more than ~28,000 per node (default one per 20,000)")
	fs.Float64Var(&f.rate, "rate", 50000, "deliveries per second, all subscribers together (messages/s = rate ÷ subscribers)")
	fs.IntVar(&f.size, "size", 100, "payload bytes per message")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to publish (or, with --idle, to settle)")
	fs.StringVar(&f.publish, "publish", "http", "publisher: http (POST) or ws (ingest WebSocket / hub /pub)")
	fs.IntVar(&f.publishers, "publishers", 0, "publishing goroutines (default 4 for http, 1 for ws)")
	fs.StringVar(&f.topic, "topic", "bench", "topic every subscriber joins")
	fs.BoolVar(&f.saturate, "saturate", false, "publish as fast as deliveries keep up, within --window")
	fs.IntVar(&f.window, "window", 0, "saturation: most messages in flight (default max(8, 100000 ÷ subscribers))")
	fs.BoolVar(&f.idle, "idle", false, "connect, settle for --duration, measure RSS per connection; publish nothing")
	fs.IntVar(&f.rounds, "rounds", 0, "rounds per target (default 2 with a baseline, else 1)")
	fs.StringVar(&f.cpuprofile, "server-cpuprofile", "", "with --self: write the server child's CPU profile to `FILE`")
	fs.IntVar(&f.readBuffer, "server-read-buffer", 0, "with --self: the server's per-connection read buffer in bytes (0: its default)")
	fs.IntVar(&f.nodes, "nodes", 1, "with --self: start this many server nodes on --nats; subscribers and publishers are spread over them round robin")
	fs.StringVar(&f.natsURL, "nats", "", "with --self: the nats:// URL every started node's broker uses (needed for --nodes > 1 and --compare-nodes)")
	fs.IntVar(&f.compareNodes, "compare-nodes", 0, "with --self: also start this many nodes on --nats (a subject prefix of their own) and alternate rounds with them; prints --nodes ÷ --compare-nodes ratios")
	fs.IntVar(&f.natsPID, "nats-pid", 0, "the NATS server's process id, to report its CPU seconds apart (broker CPU)")
	f.out.add(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return f, f.check()
}

// check refuses flags that cannot work, or not together.
func (f *fanoutFlags) check() error {
	switch {
	case f.self == (f.url != ""):
		return fmt.Errorf("%w: give --url (with --app and --secret or --token) or --self", ErrUsage)
	case f.saturate && f.idle:
		return fmt.Errorf("%w: --saturate and --idle exclude each other", ErrUsage)
	case f.subs < 1:
		return fmt.Errorf("%w: --subscribers %d: want at least 1", ErrUsage, f.subs)
	case f.rate <= 0 || f.size < 1 || f.duration <= 0:
		return fmt.Errorf("%w: --rate, --size and --duration must be positive", ErrUsage)
	case publishMode(f.publish) != publishHTTP && publishMode(f.publish) != publishWS:
		return fmt.Errorf("%w: --publish %q: want http or ws", ErrUsage, f.publish)
	case f.topic == "" || strings.ContainsAny(f.topic, "?#% "):
		return fmt.Errorf("%w: --topic %q: want a topic name without '?', '#', '%%' or spaces", ErrUsage, f.topic)
	}
	return checkClusterFlags(f.self, f.nodes, f.compareNodes, f.natsURL, f.baseline || f.hubURL != "")
}

// checkClusterFlags refuses the cluster flags that cannot work together.
func checkClusterFlags(self bool, nodes, compareNodes int, natsURL string, hub bool) error {
	switch {
	case nodes < 1:
		return fmt.Errorf("%w: --nodes %d: want at least 1", ErrUsage, nodes)
	case compareNodes < 0:
		return fmt.Errorf("%w: --compare-nodes %d: want at least 1 (or 0: no comparison)", ErrUsage, compareNodes)
	case !self && (nodes > 1 || compareNodes > 0 || natsURL != ""):
		return fmt.Errorf("%w: --nodes, --compare-nodes and --nats start nodes with --self; for nodes already running give --url URL1,URL2,… (and --pid PID1,PID2,…)", ErrUsage)
	case nodes > 1 && natsURL == "":
		return fmt.Errorf("%w: --nodes %d needs --nats nats://HOST:PORT: the nodes act as one cluster through a NATS server", ErrUsage, nodes)
	case compareNodes > 0 && natsURL == "":
		return fmt.Errorf("%w: --compare-nodes %d needs --nats nats://HOST:PORT: both sides serve on the NATS broker", ErrUsage, compareNodes)
	case compareNodes > 0 && compareNodes == nodes:
		return fmt.Errorf("%w: --compare-nodes %d equals --nodes: compare different node counts", ErrUsage, compareNodes)
	case compareNodes > 0 && hub:
		return fmt.Errorf("%w: --compare-nodes and --baseline (or --hub-url) exclude each other: one comparison per run", ErrUsage)
	}
	return checkNATSURL("--nats", natsURL)
}

// runFanoutCommand is `kete bench fanout`, starting its children (--self, --baseline)
// with child.
func runFanoutCommand(ctx context.Context, args []string, stdout, stderr io.Writer, child childCommand) error {
	f, err := parseFanoutFlags(args, stderr)
	if err != nil {
		return err
	}
	var sides selfSides
	if f.self {
		var stop func()
		if sides, stop, err = f.startSelf(ctx, child, stderr); err != nil {
			return err
		}
		defer stop()
	} else {
		t, err := f.urlTarget()
		if err != nil {
			return err
		}
		sides.targets = []target{t}
	}
	targets := sides.targets
	hub, stopHub, err := f.hubTarget(ctx, child, stderr)
	if err != nil {
		return err
	}
	defer stopHub()
	if hub != nil {
		targets = append(targets, *hub)
	}
	rounds := f.rounds
	if rounds <= 0 {
		rounds = 1
		if len(targets) > 1 {
			rounds = 2
		}
	}
	rep := newReport("kete bench fanout", "kete bench fanout "+strings.Join(args, " "))
	rep.Pair, rep.Notes = sides.pair, sides.notes
	err = compareFanout(ctx, rep, targets, f.load(stderr), rounds, stderr)
	return finish(rep, len(rep.Fanout) > 0, err, f.out, stdout, stderr)
}

// load is the load the flags ask for.
func (f *fanoutFlags) load(progress io.Writer) fanoutOptions {
	o := fanoutOptions{
		Mode: modeRate, Subscribers: f.subs, SourceIPs: f.sourceIPs, Rate: f.rate, Size: f.size, Duration: f.duration,
		Topic: f.topic, Publish: publishMode(f.publish), Publishers: f.publishers, Window: f.window,
		Progress: progress, ProgressTTY: isTerminal(progress),
	}
	switch {
	case f.saturate:
		o.Mode = modeSaturate
	case f.idle:
		o.Mode = modeIdle
	}
	return o
}

// urlTarget is the server (or cluster) at --url, with tokens from --token or minted
// from --secret.
func (f *fanoutFlags) urlTarget() (target, error) {
	t := target{Name: "server", Kind: kindServer, App: f.app, Token: f.token, AdminToken: f.adminToken, BrokerPID: f.natsPID, AllowRemote: true}
	for u := range strings.SplitSeq(f.url, ",") {
		t.Nodes = append(t.Nodes, strings.TrimSpace(u))
	}
	t.URL = t.Nodes[0]
	if len(t.Nodes) == 1 {
		t.Nodes = nil
	}
	if len(f.pids) == 1 {
		t.PID = f.pids[0]
	} else {
		t.PIDs = f.pids
	}
	if f.secret != "" {
		tok, err := mintToken(f.secret, f.topic, 24*time.Hour)
		if err != nil {
			return t, fmt.Errorf("--secret: %w", err)
		}
		t.Token = cmp.Or(t.Token, tok)
		t.AdminToken = cmp.Or(t.AdminToken, tok)
	}
	if t.App == "" || t.Token == "" {
		return t, fmt.Errorf("%w: --url needs --app and --secret or --token", ErrUsage)
	}
	return t, nil
}

// hubTarget is the baseline the flags ask for: the hub at --hub-url, a child `kete
// bench hub` (--baseline), or none (nil).
func (f *fanoutFlags) hubTarget(ctx context.Context, child childCommand, stderr io.Writer) (*target, func(), error) {
	switch {
	case f.hubURL != "":
		return &target{Name: "hub", Kind: kindHub, URL: f.hubURL, PID: f.hubPID, AllowRemote: true}, func() {}, nil
	case f.baseline:
		argv, env := child("bench", "hub", "--listen", "127.0.0.1:0")
		hub, err := startChild(ctx, argv, env, stderr)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(stderr, "started bare gws hub at %s, pid %d\n", hub.Addr, hub.PID)
		return &target{Name: "hub", Kind: kindHub, URL: "ws://" + hub.Addr, PID: hub.PID}, func() { _ = hub.stop() }, nil
	}
	return nil, func() {}, nil
}

// selfSides are the server targets `--self` started: one (a node or a cluster), or two
// clusters to compare (--compare-nodes), with what the report says about them.
type selfSides struct {
	targets []target
	pair    *pair
	notes   []string
}

// startSelf starts the server nodes of every side in child processes, each with a
// generated app; stop stops them all.
func (f *fanoutFlags) startSelf(ctx context.Context, child childCommand, stderr io.Writer) (_ selfSides, stop func(), err error) {
	var sides selfSides
	var started [][]*childProcess
	stop = func() {
		for _, nodes := range started {
			_ = stopNodes(nodes)
		}
	}
	sec := newSecret()
	tok, err := mintToken(sec, f.topic, 24*time.Hour)
	if err != nil {
		return sides, nil, err
	}
	if f.natsURL != "" {
		if err := checkNATS(ctx, f.natsURL); err != nil {
			return sides, nil, fmt.Errorf("--nats: %w", err)
		}
	}
	counts := []int{f.nodes}
	if f.compareNodes > 0 {
		counts = append(counts, f.compareNodes)
		sides.pair = &pair{Subject: nodesName(f.nodes), Baseline: nodesName(f.compareNodes)}
	}
	alone := len(counts) == 1 && f.nodes == 1
	for _, n := range counts {
		nodes, err := startChildNodes(ctx, n, f.nodeCommand(child, sec, n, alone), stderr)
		if err != nil {
			stop()
			return sides, nil, err
		}
		started = append(started, nodes)
		for _, c := range nodes {
			fmt.Fprintf(stderr, "started kete server (bench app) at %s, pid %d\n", c.Addr, c.PID)
		}
		name := "server"
		if !alone {
			name = nodesName(n)
		}
		t := clusterTarget(name, "bench", tok, nodes)
		t.BrokerPID = f.natsPID
		sides.targets = append(sides.targets, t)
	}
	sides.notes = f.clusterNotes()
	return sides, stop, nil
}

// nodeCommand is the child command of node i of a side of n nodes: `kete bench server`
// with the app's secret in its environment.
func (f *fanoutFlags) nodeCommand(child childCommand, secret string, n int, alone bool) func(i int) ([]string, []string) {
	common := []string{"bench", "server", "--listen", "127.0.0.1:0", "--app", "bench"}
	if f.natsURL != "" {
		common = append(common, "--nats", f.natsURL, "--subject-prefix", clusterSubjectPrefix(n))
	}
	if f.readBuffer > 0 {
		common = append(common, "--read-buffer", fmt.Sprint(f.readBuffer))
	}
	return func(i int) ([]string, []string) {
		a := common
		if f.cpuprofile != "" {
			a = append(append([]string(nil), common...), "--cpuprofile", profilePath(f.cpuprofile, n, i, alone))
		}
		argv, env := child(a...)
		return argv, append(env, secretEnv+"="+secret)
	}
}

// clusterNotes say how a run on NATS was measured (none without --nats).
func (f *fanoutFlags) clusterNotes() []string {
	if f.natsURL == "" {
		return nil
	}
	pubs := f.publishers
	if pubs <= 0 {
		pubs = 4
		if publishMode(f.publish) == publishWS {
			pubs = 1
		}
	}
	notes := []string{
		fmt.Sprintf("every node is `kete bench server` on the NATS broker at %s (each side on a subject prefix of its own), so the sides differ in node count only", redact.Text(f.natsURL)),
		fmt.Sprintf("subscriber i connects to node i mod nodes; %d %s publisher(s), publisher j on node j mod nodes", pubs, f.publish),
	}
	if f.natsPID > 0 {
		return append(notes, fmt.Sprintf("server CPU seconds and RSS are summed over each side's node processes; NATS (pid %d) is the broker CPU column, not in them", f.natsPID))
	}
	return append(notes, "server CPU seconds and RSS are summed over each side's node processes; NATS runs outside this bench and its CPU is not counted (give --nats-pid)")
}
