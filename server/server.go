// Package server is kete's pub/sub server: apps (isolated namespaces with their own keys),
// topics, a WebSocket protocol compatible with the Realtime Pub/Sub clients, an ingest
// WebSocket for destinations, an HTTP API, Prometheus metrics and the dashboard.
//
// Fan-out is built for speed: a message is encoded into its WebSocket frame once and that
// frame is shared by every subscriber; consecutive messages of one topic are written as one
// buffer; a write goes straight from the app's dispatcher to a socket that has room, and a
// connection gets a writer goroutine only while its socket is full, with a bounded backlog
// (over it the subscriber is closed as a slow consumer).
//
// # Wire protocol (beyond DESIGN.md)
//
//   - Refusals before the upgrade are JSON {"error":{"code","message"}}: 404 app_not_found,
//     403 app_disabled / source_denied / origin_denied, 401 token_missing / token_invalid /
//     token_expired / token_malformed / apikey_invalid, 503 too_many_connections,
//     409 already_connected (oneConnectionPerUser "reject", on any node of a cluster).
//   - A successful subscribe is confirmed with {"topic":T,"messageType":"welcome","data":{"topic":T}};
//     a subscribe or publish the token does not allow closes the connection with the
//     platform's reason (ReasonSubscribeSecureForbidden, …; App.OnForbidden "errorFrame"
//     answers {"topic":T,"messageType":"error","data":{"code":"forbidden","message","id"?}}
//     instead); too_many_subscriptions and publish_failed are always error frames.
//     compat.go holds every policy where the platform and kete's extensions differ.
//   - Acks (clientInboundAckEnabled): {"topic":"priv/acks","messageType":"ack","data":{"data":id}}.
//   - A publish over WebSocket delivers data {"payload","id","client":{"connectionId","subject","permissions"}};
//     an HTTP API publish delivers data = message; compress:true delivers a binary frame.
//   - Token refresh ({"RefreshAccessToken":t} or {"type":"refresh","data":{"token":t}}) is
//     confirmed with {"topic":"priv/{connectionId}","messageType":"refreshed","data":{"expiresAt"}}.
//   - Close codes: 1008 with ReasonInvalidFormat, ReasonSlowConsumer, ReasonTokenExpired,
//     ReasonTokenInvalid, ReasonReplaced, ReasonConnectedElsewhere, ReasonIdle,
//     ReasonRateLimited (limits.publishRate); 1009 for
//     an oversized frame; 1000 ReasonClosedByAdmin; 1001 on shutdown.
//   - Ingest acks: see handleIngest ({"type":"ack","seq","id","status"} / {"type":"nack",…}).
//   - History (apps with historySize > 0): delivered frames carry "offset"; the subscribe
//     welcome carries {"topic","offset","epoch"}; a subscribe with "since":{"offset","epoch"}
//     is answered with "recovered":true and "replayed":n followed by the n missed frames, or
//     "recovered":false (see StreamPosition, history.go).
//   - GET /readyz: 200 {"ready":true}; 503 {"ready":false,"reason"} while shutting down or
//     while the broker (NATS) is disconnected.
//   - In a cluster (a broker other than the memory broker) HTTP API actions reach every
//     node: unsubscribe and close-all answer with this node's count and "forwarded":true;
//     closing a connection that is not on this node answers 202 {"closed":0,"forwarded":true}.
//     /api/health/status and the telemetry answer add "node", "nodes" and "cluster".
//     See cluster.go and roster.go.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/server/dashboard"
)

// Options configure a Server. Zero values take the defaults in the comments.
type Options struct {
	// Apps are the apps to serve when AppsFile is empty.
	Apps []App
	// AppsFile (kete.server.apps-file) is a JSON or YAML list of apps, reloaded when its
	// modification time changes, on Reload, and on SIGHUP when ReloadOnSignal is set.
	AppsFile string
	// ReloadInterval is how often AppsFile's modification time is checked (2s); negative
	// turns polling off.
	ReloadInterval time.Duration
	// ReloadOnSignal reloads AppsFile on SIGHUP (for the kete binary; off in libraries
	// and tests so that the signal stays the caller's).
	ReloadOnSignal bool
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
	// spans nodes (one that implements ReadyReporter: natsbroker); negative: never, and
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

// Server is the pub/sub server; it is an http.Handler. Close stops it.
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
	nodeID   string  // this node among the broker's nodes
	roster   *roster // the other nodes; nil unless the broker spans nodes
	events   *wsEvents

	ctx    context.Context
	cancel context.CancelFunc

	appsMu  sync.Mutex // serialises reloads
	apps    atomic.Pointer[appTable]
	hubsMu  sync.RWMutex
	hubs    map[string]*hub
	appsMod time.Time

	upMu      sync.Mutex
	upgraders map[upgraderKey]*gws.Upgrader

	now         atomic.Int64 // coarse clock, unix ns, advanced by the sweeper
	memRet      memoryReturn // owned by the sweeper
	backlogPeak highWater    // the largest outbound queue of one connection
	rawOps      sync.Pool    // *rawWriteOp, for every connection's rawWriter
	fanCh       chan fanoutTask
	loops       sync.WaitGroup // read loops
	loopsMu     sync.Mutex     // orders loops.Add against Close's Wait
	writers     sync.WaitGroup // writer goroutines
	bg          sync.WaitGroup // watcher, sweeper, fan-out workers
	closed      atomic.Bool
}

// appTable is one generation of compiled apps, swapped whole on reload.
type appTable struct {
	apps   map[string]*appRuntime
	cancel context.CancelFunc // stops the verifiers' JWKS refresh
}

// appRuntime is an App ready to serve: verifiers built, policies parsed, defaults applied.
type appRuntime struct {
	app       App
	limits    Limits
	authV     *auth.Verifier
	adminV    *auth.Verifier
	apiKeys   *auth.APIKeys
	clientSrc *auth.SourcePolicy
	adminSrc  *auth.SourcePolicy
	origins   map[string]bool
	anyOrigin bool
}

// New builds a Server from opts: it loads the apps, subscribes to the broker and starts
// the sweeper, the fan-out workers and (with AppsFile) the reload watcher.
func New(opts Options) (*Server, error) {
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = 2 * time.Second
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.CloseGrace <= 0 {
		opts.CloseGrace = 2 * time.Second
	}
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = DefaultReadBufferSize
	}
	if opts.FanoutWorkers <= 0 {
		opts.FanoutWorkers = runtime.GOMAXPROCS(0)
	}
	if opts.TokenLeeway == 0 {
		opts.TokenLeeway = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.ReturnMemoryAfter == 0 {
		opts.ReturnMemoryAfter = DefaultReturnMemoryAfter
	}
	if opts.ReturnMemoryInterval <= 0 {
		opts.ReturnMemoryInterval = DefaultReturnMemoryInterval
	}
	if opts.freeOSMemory == nil {
		opts.freeOSMemory = debug.FreeOSMemory
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		reg:       opts.Registry,
		hubs:      make(map[string]*hub),
		upgraders: make(map[upgraderKey]*gws.Upgrader),
		fanCh:     make(chan fanoutTask, 64),
		nodeID:    newID(),
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.reg)
	s.refusals = newRefusals(s.reg, s.metrics.authFailures, s.log, opts.Now)
	s.registerBacklogMetrics()
	s.reg.MustRegister(newHistoryCollector(s))
	s.now.Store(opts.Now().UnixNano())
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.events = &wsEvents{s: s}
	s.rawOps.New = newRawWriteOp
	s.memRet = memoryReturn{minGrowth: opts.ReturnMemoryAfter, minInterval: int64(opts.ReturnMemoryInterval)}

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

	s.broker, s.ownsBrk = opts.Broker, opts.CloseBroker
	if s.broker == nil {
		s.broker = NewMemoryBroker()
		s.ownsBrk = true
	}
	if s.spansNodes() && opts.HeartbeatInterval > 0 {
		s.roster = newRoster(s, opts.HeartbeatInterval) // before Subscribe: handlers read it
	}
	unsub, err := s.broker.Subscribe(s.onBrokerMessage)
	if err != nil {
		s.shutdownHubs()
		s.cancel()
		return nil, fmt.Errorf("server: subscribe to broker: %w", err)
	}
	s.unsub = unsub

	s.routes()
	for range opts.FanoutWorkers {
		s.bg.Add(1)
		go s.fanoutWorker()
	}
	s.bg.Add(1)
	go s.sweeper()
	if s.roster != nil {
		s.bg.Add(1)
		go s.roster.run()
	}
	if opts.AppsFile != "" && (opts.ReloadInterval > 0 || opts.ReloadOnSignal) {
		var hup chan os.Signal
		if opts.ReloadOnSignal {
			// Registered before New returns, so that a SIGHUP right after never hits the
			// default action (exit).
			hup = make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
		}
		s.bg.Add(1)
		go s.watch(hup)
	}
	return s, nil
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
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Registry returns the Prometheus registry the server's metrics are on.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// SetApps replaces the served apps (what a reload does). Connections of an app that is
// gone are closed; those of a kept app stay, and new tokens and API keys apply at once.
func (s *Server) SetApps(apps []App) error {
	if err := ValidateApps(apps); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	t := &appTable{apps: make(map[string]*appRuntime, len(apps)), cancel: cancel}
	var errs []error
	for _, a := range apps {
		rt, err := s.compile(ctx, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %q: %w", a.AppID, err))
			continue
		}
		t.apps[a.AppID] = rt
	}
	if err := errors.Join(errs...); err != nil {
		cancel()
		return err
	}
	s.appsMu.Lock()
	old := s.apps.Swap(t)
	s.hubsMu.Lock()
	var gone []*hub
	for id, h := range s.hubs {
		if rt := t.apps[id]; rt != nil {
			h.cfg.Store(rt)
			h.history.apply(historyLimitsOf(&rt.app), s.coarseNow()) // new bounds, or none kept
		} else {
			gone = append(gone, h)
			delete(s.hubs, id)
		}
	}
	for id, rt := range t.apps {
		if s.hubs[id] == nil {
			s.hubs[id] = newHub(s, id, rt)
		}
	}
	s.hubsMu.Unlock()
	s.appsMu.Unlock()
	if old != nil {
		old.cancel()
	}
	for _, h := range gone {
		for _, c := range h.snapshot(nil) {
			c.closeWith(CloseGoingAway, "app removed", false)
		}
		h.stop()
	}
	return nil
}

// compile builds an appRuntime; errors name the key at fault.
func (s *Server) compile(ctx context.Context, a App) (*appRuntime, error) {
	a.OneConnectionPerUser = a.OneConnectionPerUser.orDefault()
	rt := &appRuntime{app: a, limits: a.Limits.withDefaults(), origins: map[string]bool{}}
	ao := auth.Options{HTTPClient: s.opts.HTTPClient, Leeway: s.opts.TokenLeeway, Now: s.opts.Now}
	var err error
	if keySet(a.AuthKey) {
		if rt.authV, err = auth.NewVerifier(ctx, a.AuthKey, ao); err != nil {
			return nil, fmt.Errorf("authKey: %w", err)
		}
	}
	if keySet(a.AdminKey) {
		if rt.adminV, err = auth.NewVerifier(ctx, a.AdminKey, ao); err != nil {
			return nil, fmt.Errorf("adminKey: %w", err)
		}
	}
	if rt.apiKeys, err = auth.NewAPIKeys(a.APIKeys); err != nil {
		return nil, fmt.Errorf("apiKeys: %w", err)
	}
	if rt.clientSrc, err = auth.ParseSourcePolicy(a.ClientSourceAddress); err != nil {
		return nil, fmt.Errorf("clientSourceAddress: %w", err)
	}
	if rt.adminSrc, err = auth.ParseSourcePolicy(a.AdminSourceAddress); err != nil {
		return nil, fmt.Errorf("adminSourceAddress: %w", err)
	}
	for _, o := range a.AllowedOrigins {
		if o == "*" {
			rt.anyOrigin = true
		}
		rt.origins[o] = true
	}
	return rt, nil
}

func keySet(k auth.Key) bool { return k.Source != "" || k.Key != "" || k.JWKSURI != "" }

// Reload reads AppsFile again and applies it; on error the apps in force stay.
func (s *Server) Reload() error {
	if s.opts.AppsFile == "" {
		return errors.New("server: no apps file to reload")
	}
	st, err := os.Stat(s.opts.AppsFile)
	if err != nil {
		return fmt.Errorf("apps file %s: %w", s.opts.AppsFile, err)
	}
	apps, err := LoadApps(s.opts.AppsFile)
	if err != nil {
		return err
	}
	if err := s.SetApps(apps); err != nil {
		return fmt.Errorf("apps file %s: %w", s.opts.AppsFile, err)
	}
	s.appsMu.Lock()
	s.appsMod = st.ModTime()
	s.appsMu.Unlock()
	s.log.Info("apps reloaded", slog.String("file", s.opts.AppsFile), slog.Int("apps", len(apps)))
	return nil
}

// watch reloads AppsFile when its modification time changes or on SIGHUP.
func (s *Server) watch(hup chan os.Signal) {
	defer s.bg.Done()
	var tick <-chan time.Time
	if s.opts.ReloadInterval > 0 {
		t := time.NewTicker(s.opts.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	if hup != nil {
		defer signal.Stop(hup)
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-hup:
			if err := s.Reload(); err != nil {
				s.log.Error("apps reload failed", slog.String("error", err.Error()))
			}
		case <-tick:
			st, err := os.Stat(s.opts.AppsFile)
			if err != nil {
				continue
			}
			s.appsMu.Lock()
			changed := !st.ModTime().Equal(s.appsMod)
			s.appsMu.Unlock()
			if changed {
				if err := s.Reload(); err != nil {
					s.log.Error("apps reload failed", slog.String("error", err.Error()))
					s.appsMu.Lock()
					s.appsMod = st.ModTime() // do not retry a broken file until it changes again
					s.appsMu.Unlock()
				}
			}
		}
	}
}

// app returns the runtime and hub of appID, or nils.
func (s *Server) app(appID string) (*appRuntime, *hub) {
	t := s.apps.Load()
	if t == nil {
		return nil, nil
	}
	rt := t.apps[appID]
	if rt == nil {
		return nil, nil
	}
	s.hubsMu.RLock()
	h := s.hubs[appID]
	s.hubsMu.RUnlock()
	if h == nil {
		return nil, nil
	}
	return rt, h
}

// onBrokerMessage is the server's one broker Handler: it hands msg to the app's hub.
func (s *Server) onBrokerMessage(ctx context.Context, appID, topic string, msg Message) error {
	if topic == controlTopic && appID == rosterApp {
		if s.roster != nil {
			s.roster.handle(msg)
		}
		return nil
	}
	s.hubsMu.RLock()
	h := s.hubs[appID]
	s.hubsMu.RUnlock()
	if h == nil {
		return nil // app not served on this node
	}
	if topic == controlTopic {
		s.applyControl(h, msg)
		return nil
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

// fanoutTask is one chunk of a large fan-out.
type fanoutTask struct {
	buf   []byte
	conns []*conn
	wg    *sync.WaitGroup
}

// fanout writes buf to every conn: small sets inline, large ones split across the
// fan-out workers, returning when all writes were made or queued.
func (s *Server) fanout(buf []byte, conns []*conn) {
	if len(conns) <= fanoutChunk || s.opts.FanoutWorkers <= 1 {
		for _, c := range conns {
			c.send(buf)
		}
		return
	}
	var wg sync.WaitGroup
	rest := conns[fanoutChunk:]
	for len(rest) > 0 {
		n := min(fanoutChunk, len(rest))
		wg.Add(1)
		s.fanCh <- fanoutTask{buf: buf, conns: rest[:n], wg: &wg}
		rest = rest[n:]
	}
	for _, c := range conns[:fanoutChunk] {
		c.send(buf)
	}
	wg.Wait()
}

// fanoutWorker runs until Close closes fanCh, after every dispatcher has stopped.
func (s *Server) fanoutWorker() {
	defer s.bg.Done()
	for t := range s.fanCh {
		for _, c := range t.conns {
			c.send(t.buf)
		}
		t.wg.Done()
	}
}

// coarseNow is the sweeper's clock: cheap to read on every frame.
func (s *Server) coarseNow() int64 { return s.now.Load() }

// sweeper advances the coarse clock and, per connection, closes expired tokens and idle
// sockets and sends pings.
func (s *Server) sweeper() {
	defer s.bg.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	var scratch []*conn
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			scratch = s.sweep(scratch[:0])
			clear(scratch)
		}
	}
}

var pingFrame = encodeFrame(opPing, nil)

// sweep runs one pass at the current time; tests call it after moving the clock.
func (s *Server) sweep(scratch []*conn) []*conn {
	now := s.opts.Now().UnixNano()
	s.now.Store(now)
	s.hubsMu.RLock()
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.hubsMu.RUnlock()
	conns := 0
	for _, h := range hubs {
		rt := h.cfg.Load()
		idle := int64(rt.limits.IdleTimeout)
		ping := int64(rt.limits.PingInterval)
		scratch = h.snapshot(scratch[:0])
		conns += len(scratch)
		h.sweepGroups() // groups.go
		for _, c := range scratch {
			if exp := c.session().expires; exp != 0 && now >= exp {
				s.metrics.closes.WithLabelValues("token_expired").Inc()
				c.closeWith(ClosePolicyViolation, ReasonTokenExpired, false)
				continue
			}
			seen := c.lastSeen.Load()
			if now-seen >= idle {
				s.metrics.closes.WithLabelValues("idle").Inc()
				c.closeWith(ClosePolicyViolation, ReasonIdle, false)
				continue
			}
			if now-seen >= ping && now-c.lastPing >= ping {
				c.lastPing = now
				c.send(pingFrame)
			}
		}
	}
	if s.memRet.due(now, conns) {
		s.opts.freeOSMemory()
	}
	return scratch
}

// DefaultReadBufferSize is a client connection's read buffer: every idle connection keeps
// one, and what clients send (subscribes, refreshes, pongs, small publishes) fits in it.
const DefaultReadBufferSize = 256

// IngestReadBufferSize is the least read buffer of an ingest connection: it carries a
// publisher's stream, where a larger buffer reads several frames per system call.
const IngestReadBufferSize = 4096

// upgraderKey tells gws upgraders apart: one per read limit, read buffer size and
// whether permessage-deflate is offered (client connections: deflate.go).
type upgraderKey struct {
	maxPayload, readBuffer int
	deflate                bool
}

// upgrader returns the gws upgrader for a read limit, a read buffer size and deflate.
func (s *Server) upgrader(maxPayload, readBuffer int, deflate bool) *gws.Upgrader {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	k := upgraderKey{maxPayload, readBuffer, deflate}
	u := s.upgraders[k]
	if u == nil {
		var pd gws.PermessageDeflate
		if deflate {
			pd = deflateOption
		}
		u = gws.NewUpgrader(s.events, &gws.ServerOption{
			PermessageDeflate:  pd,
			ReadBufferSize:     readBuffer,
			ReadMaxPayloadSize: maxPayload,
			CheckUtf8Enabled:   true,
			NewSession:         func() gws.SessionStorage { return &connSession{} },
			Logger:             gwsLogger{s.log},
		})
		s.upgraders[k] = u
	}
	return u
}

type gwsLogger struct{ l *slog.Logger }

func (g gwsLogger) Error(v ...any) { g.l.Error(fmt.Sprint(v...)) }

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
	if s.unsub != nil {
		s.unsub()
	}
	s.hubsMu.RLock()
	var conns []*conn
	for _, h := range s.hubs {
		conns = h.snapshot(conns)
	}
	s.hubsMu.RUnlock()
	for _, c := range conns {
		c.closeWith(CloseGoingAway, ReasonShutdown, false)
	}
	waitTimeout(&s.writers, s.opts.CloseGrace+time.Second)
	for _, c := range conns {
		_ = c.nc.Close()
	}
	waitTimeout(&s.loops, 5*time.Second)
	if s.roster != nil {
		s.roster.bye() // after the connections' releases: the others forget this node now
	}
	s.cancel()
	s.shutdownHubs()
	close(s.fanCh) // no dispatcher is left to send
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
	s.hubsMu.Lock()
	hubs := s.hubs
	s.hubs = map[string]*hub{}
	s.hubsMu.Unlock()
	for _, h := range hubs {
		h.stop()
	}
	if t := s.apps.Load(); t != nil {
		t.cancel()
	}
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

// remoteAddr returns the request's peer address.
func remoteAddr(r *http.Request) (netip.Addr, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host
	}
	return a.Unmap(), r.RemoteAddr
}
