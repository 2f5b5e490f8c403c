package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kete-dev/kete/server/dashboard"
)

// Options configure a Server. Zero values take the defaults in the comments.
type Options struct {
	// Apps are the apps to serve when AppsFile is empty.
	Apps []App
	// AppsFile (kete.server.apps-file) is a JSON or YAML list of apps, reloaded when its
	// modification time changes and on Reload (the kete binary calls Reload on SIGHUP).
	AppsFile string
	// ReloadInterval is how often AppsFile's modification time is checked (2s); negative
	// turns polling off.
	ReloadInterval time.Duration
	// Broker carries messages to the hubs; nil uses a MemoryBroker, closed with the server.
	// A broker given here is not closed by Close, unless CloseBroker is set.
	Broker Broker
	// CloseBroker makes Close close Broker too, for a broker made for this server alone
	// (kete server on NATS).
	CloseBroker bool
	// Logger receives structured logs; tokens and keys are never logged (default: discard).
	Logger *slog.Logger
	// Registry receives the metrics and is served at /metrics (a new registry if nil).
	Registry *prometheus.Registry
	// HTTPClient fetches JWKS for keys with source "jwks" (http.DefaultClient if nil).
	HTTPClient *http.Client
	// Dashboard is served at "/" (dashboard.Handler() if nil).
	Dashboard http.Handler
	// SweepInterval is how often idle connections, expired tokens and pings are checked (1s).
	SweepInterval time.Duration
	// WriteTimeout bounds one blocking write to a subscriber whose socket is full (10s).
	WriteTimeout time.Duration
	// CloseGrace bounds how long a close frame may wait behind unread data (2s).
	CloseGrace time.Duration
	// ReadBufferSize is each client connection's read buffer (DefaultReadBufferSize:
	// small, for idle memory; the rest of a larger frame is read straight into its
	// message). Ingest connections, which carry a publisher's whole stream, get at least
	// IngestReadBufferSize.
	ReadBufferSize int
	// SocketWriteBuffer, when > 0, sets SO_SNDBUF on each connection.
	SocketWriteBuffer int
	// FanoutWorkers write to large subscriber sets in parallel (GOMAXPROCS).
	FanoutWorkers int
	// TokenLeeway is the clock skew allowed on exp/nbf (30s).
	TokenLeeway time.Duration
	// ReturnMemoryAfter is how many new connections (1000) make the sweeper return freed
	// memory to the OS once they have settled, so that a burst of connections does not
	// leave the process at twice the memory its connections hold; negative: never.
	ReturnMemoryAfter int
	// ReturnMemoryInterval is the least time between two such returns (10s).
	ReturnMemoryInterval time.Duration
	// HeartbeatInterval is how often this node tells the other nodes of a cluster that it
	// is alive, with its connection and subscription counts (DefaultHeartbeatInterval,
	// 2s); a node not heard from for 3 intervals is taken for gone, and so are the
	// subjects it held (oneConnectionPerUser "reject"). Used only with a broker that
	// spans nodes (a Controller: natsbroker); negative: never, and
	// "reject" and the counts of /api/health/status then cover this node alone.
	HeartbeatInterval time.Duration
	// Now is the clock (time.Now); tests replace it.
	Now func() time.Time

	// freeOSMemory returns freed memory to the OS (debug.FreeOSMemory); tests replace it.
	freeOSMemory func()
	// upgraded, when set, runs between a client connection's upgrade and its registration:
	// tests hold connections there to race them.
	upgraded func()
}

// Server is the pub/sub server; it is an http.Handler. New builds it, Start starts it,
// Close stops it.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	reg     *prometheus.Registry
	metrics *metrics
	// refusals counts and logs every refused request (refusals.go).
	refusals *refusals
	broker   Broker
	ownsBrk  bool
	unsub    func()
	nodeID   string      // this node among the broker's nodes
	roster   *roster     // the other nodes; nil unless the broker spans nodes
	cluster  clusterLink // the channel to the other nodes (cluster.go)
	events   *wsEvents

	ctx    context.Context
	cancel context.CancelFunc

	appsMu  sync.Mutex // serialises reloads
	apps    atomic.Pointer[appTable]
	appsMod time.Time

	upMu      sync.Mutex
	upgraders map[upgraderKey]*gws.Upgrader

	clock    coarseClock   // advanced by the sweeper
	memPacer osMemoryPacer // owned by the sweeper
	out      *outbound     // what every connection's writer shares
	fan      *fanoutPool
	hubDeps  *hubDeps       // what every hub gets instead of the Server
	loops    sync.WaitGroup // read loops
	loopsMu  sync.Mutex     // orders loops.Add against Close's Wait
	bg       sync.WaitGroup // watcher, sweeper, fan-out workers, roster (writers: out.writers)
	started  atomic.Bool    // set by Start, under appsMu
	tried    bool           // Start was called (under appsMu): a failed Start is not retried
	reloads  sync.WaitGroup // SetApps tails still closing a removed app's connections
	closed   atomic.Bool
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.ReloadInterval == 0 {
		o.ReloadInterval = 2 * time.Second
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = 2 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = DefaultReadBufferSize
	}
	if o.FanoutWorkers <= 0 {
		o.FanoutWorkers = runtime.GOMAXPROCS(0)
	}
	if o.TokenLeeway == 0 {
		o.TokenLeeway = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.ReturnMemoryAfter == 0 {
		o.ReturnMemoryAfter = DefaultReturnMemoryAfter
	}
	if o.ReturnMemoryInterval <= 0 {
		o.ReturnMemoryInterval = DefaultReturnMemoryInterval
	}
	if o.freeOSMemory == nil {
		o.freeOSMemory = debug.FreeOSMemory
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	return o
}

// New builds a Server from opts: it loads and compiles the apps and sets up the routes
// and the metrics. It starts nothing: Start subscribes to the broker and starts the
// background work, and Close stops it. Until Start, every request is answered 503.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		reg:       opts.Registry,
		upgraders: make(map[upgraderKey]*gws.Upgrader),
		fan:       newFanoutPool(opts.FanoutWorkers),
		nodeID:    newID(),
		memPacer:  osMemoryPacer{minGrowth: opts.ReturnMemoryAfter, minInterval: int64(opts.ReturnMemoryInterval)},
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.reg)
	s.out = newOutbound(opts, s.metrics)
	s.refusals = newRefusals(s.reg, s.metrics.authFailures, s.log, opts.Now)
	s.registerBacklogMetrics()
	s.reg.MustRegister(newHistoryCollector(s))
	s.clock.set(opts.Now().UnixNano())
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.events = &wsEvents{s: s}

	s.broker, s.ownsBrk = opts.Broker, opts.CloseBroker
	if s.broker == nil {
		s.broker = NewMemoryBroker()
		s.ownsBrk = true
	}
	s.initCluster() // before the hubs' dependencies: they read s.roster
	s.hubDeps = &hubDeps{ctx: s.ctx, log: s.log, metrics: s.metrics, broker: s.broker,
		clock: &s.clock, fan: s.fan, out: s.out, roster: s.roster}
	apps := opts.Apps
	if opts.AppsFile != "" {
		st, err := os.Stat(opts.AppsFile)
		if err != nil {
			s.cancel()
			return nil, fmt.Errorf("apps file %s: %w", opts.AppsFile, err)
		}
		s.appsMod = st.ModTime()
		if apps, err = LoadApps(opts.AppsFile); err != nil {
			s.cancel()
			return nil, err
		}
	}
	if err := s.SetApps(apps); err != nil {
		s.cancel()
		return nil, err
	}
	s.routes()
	return s, nil
}

// errNotStarted answers requests that come before Start.
var errNotStarted = errors.New("server: not started (call Start after New)")

// Start subscribes to the broker and starts the background work: each app's dispatcher,
// the fan-out workers, the sweeper, the cluster roster and (with AppsFile and a positive
// ReloadInterval) the apps file watcher. Close stops all of it. Start may be called once.
func (s *Server) Start() error {
	s.appsMu.Lock()
	defer s.appsMu.Unlock()
	if s.closed.Load() {
		return errors.New("server: Start after Close")
	}
	if s.tried {
		// A failed Start leaves part of its work running (Close stops it); a second one
		// would subscribe and start dispatchers again, delivering everything twice.
		return errors.New("server: Start called twice (after a failed Start, Close the server and build a new one)")
	}
	s.tried = true
	unsub, err := s.broker.Subscribe(s.onBrokerMessage)
	if err != nil {
		return fmt.Errorf("server: subscribe to broker: %w", err)
	}
	s.unsub = unsub
	for _, h := range s.hubList() {
		h.start()
	}
	for range s.fan.workers {
		s.bg.Go(s.fan.work)
	}
	s.bg.Add(1)
	go s.sweeper()
	if err := s.startCluster(); err != nil {
		return err // Close undoes what was started (started stays false: no bye)
	}
	s.startVerifiers(s.apps.Load())
	if s.opts.AppsFile != "" && s.opts.ReloadInterval > 0 {
		s.bg.Add(1)
		go s.watch()
	}
	s.started.Store(true)
	return nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /apps/{appId}", s.handleConnect)
	m.HandleFunc("GET /apps/{appId}/publish/{topic...}", s.handleIngest)
	m.HandleFunc("GET /drogue/{appId}", s.handleConsumer)
	m.HandleFunc("GET /drogue/{appId}/{channel...}", s.handleConsumer)
	m.HandleFunc("GET /api/health/status", s.handleHealth)
	m.HandleFunc("GET /readyz", s.handleReady)
	m.HandleFunc("POST /api/topics/{appId}/publish", s.handleAPIPublish)
	m.HandleFunc("POST /api/topics/{appId}/unsubscribe", s.handleAPIUnsubscribe)
	m.HandleFunc("DELETE /api/connections/{appId}/{connectionId}", s.handleAPICloseOne)
	m.HandleFunc("DELETE /api/connections/{appId}", s.handleAPICloseAll)
	m.HandleFunc("GET /api/telemetry/aggregates/{appId}/{days}", s.handleAPITelemetry)
	// The platform's paths without /api (seed 004: "GET /health/status"; its telemetry
	// example calls /telemetry/aggregates/{appId}/{days} on the API gateway).
	m.HandleFunc("GET /health/status", s.handleHealth)
	m.HandleFunc("GET /telemetry/aggregates/{appId}/{days}", s.handleGatewayTelemetry)
	m.HandleFunc("GET /telemetry/top-topics/{appId}/{days}", s.handleTopTopics)
	m.HandleFunc("GET /api/telemetry/top-topics/{appId}/{days}", s.handleTopTopics)
	m.HandleFunc("GET /telemetry/heatmap/connections/countries/{appId}/{days}", s.handleCountryHeatmap)
	m.HandleFunc("GET /api/telemetry/heatmap/connections/countries/{appId}/{days}", s.handleCountryHeatmap)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no API endpoint "+r.Method+" "+r.URL.Path)
	})
	m.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	d := s.opts.Dashboard
	if d == nil {
		d = dashboard.Handler()
	}
	m.Handle("/", d)
	s.mux = m
}

// ServeHTTP implements http.Handler.
// Before Start it answers 503 to everything: a server whose dispatchers do not run would
// take connections and never deliver to them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.started.Load() && !s.closed.Load() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "not_started", errNotStarted.Error())
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Registry returns the Prometheus registry the server's metrics are on.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// onBrokerMessage is the server's one broker Handler: it hands msg to the app's hub.
func (s *Server) onBrokerMessage(ctx context.Context, appID, topic string, msg Message) error {
	h := s.apps.Load().hub(appID)
	if h == nil {
		return nil // app not served on this node
	}
	if msg.DedupID != "" && msg.Node != s.nodeID {
		// Another node's ingest frame: remember its id here too, so that a destination
		// that resends it to this node is told "duplicate"; drop a copy that raced in.
		rt := h.cfg.Load()
		if !h.dedup.firstSeen(topic, msg.DedupID, s.coarseNow(), rt.limits.DedupWindow.std(), rt.limits.DedupMaxIDs) {
			return nil
		}
	}
	return h.enqueue(ctx, topic, msg)
}

// publish sends msg to topic of appID through the broker, marked with this node and,
// when the app keeps history, for history.
func (s *Server) publish(ctx context.Context, appID, topic string, msg Message) error {
	msg.Node = s.nodeID
	if rt, _ := s.app(appID); rt != nil && hasHistory(rt, topic) {
		msg.History = true
	}
	return s.broker.Publish(ctx, appID, topic, msg)
}

// Close closes every connection (1001), stops the background goroutines and waits for
// them; it is safe to call more than once.
func (s *Server) Close() error {
	// Under loopsMu: from here no read loop is added (addLoop), so s.loops may be waited for.
	s.loopsMu.Lock()
	first := s.closed.CompareAndSwap(false, true)
	s.loopsMu.Unlock()
	if !first {
		return nil
	}
	// Start runs whole under appsMu, or sees closed and does nothing: from here what it
	// started is known, and no more is added to bg.
	s.appsMu.Lock()
	unsub, started := s.unsub, s.started.Load()
	s.appsMu.Unlock()
	if unsub != nil {
		unsub()
	}
	// A reload that passed its closed check before ours is still closing the connections
	// of the apps it removed and stopping their hubs: wait, so none outlives Close.
	s.reloads.Wait()
	var conns []*conn
	for _, h := range s.hubList() {
		conns = h.snapshot(conns)
	}
	for _, c := range conns {
		c.closeWith(CloseGoingAway, ReasonShutdown, false)
	}
	waitTimeout(&s.out.writers, s.opts.CloseGrace+time.Second)
	for _, c := range conns {
		_ = c.nc.Close()
	}
	waitTimeout(&s.loops, 5*time.Second)
	if started {
		s.stopCluster()
	} else if s.cluster.unsub != nil {
		s.cluster.unsub() // a Start that failed after subscribing
	}
	s.cancel()
	s.shutdownHubs()
	close(s.fan.ch) // no dispatcher is left to send
	s.bg.Wait()
	var err error
	if s.ownsBrk {
		err = s.broker.Close()
	}
	return err
}

// addLoop counts a new read loop, unless Close has begun (a WaitGroup's Add must not
// race its Wait).
func (s *Server) addLoop() bool {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.loops.Add(1)
	return true
}

func (s *Server) shutdownHubs() {
	s.appsMu.Lock()
	old := s.apps.Swap(&appTable{cancel: func() {}})
	s.appsMu.Unlock()
	if old == nil {
		return
	}
	for _, h := range old.hubs {
		h.stop()
	}
	old.cancel()
	old.closeVerifiers()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// newID returns 16 random hex characters, for connection and message ids.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
