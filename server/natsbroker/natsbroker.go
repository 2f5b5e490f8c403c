// Package natsbroker is the server.Broker that makes many kete server nodes act as one:
// every node publishes to and subscribes from one NATS subject space, so a publication on
// any node reaches the hubs of every node.
//
// # Lifetime
//
// New checks the options and builds a Broker without touching the network; Start
// connects, subscribes and from then on nats.go's goroutines read, reconnect and call the
// handlers; Close stops them. A server takes a started broker (server.Options.Broker).
//
// # Subjects
//
// A publication for topic T of app A travels on the subject
//
//	{SubjectPrefix}.pub.{A}.{T}
//
// where A and T are escaped into single subject tokens ('.', '*', '>', '%', spaces,
// control bytes and non-ASCII bytes become %XX). Each broker holds one NATS subscription,
// {SubjectPrefix}.pub.>, and hands every publication to its handlers.
//
// # Guarantees
//
// Delivery is NATS core delivery: at most once, to every node connected when the
// publication reaches the NATS server. The publishing node's own handlers are called by
// Publish itself (the NATS connection is NoEcho), so a node serves its local subscribers
// whether or not NATS is there. Every node receives the publications of one publishing
// node for one topic in the order that node published them; publications of different
// nodes may interleave differently on different nodes. Messages from NATS reach a node's
// handlers one at a time, in arrival order.
//
// While the connection to NATS is lost, Publish keeps accepting messages into nats.go's
// reconnect buffer (ReconnectBufSize, default 8 MiB) and fails with a back-pressure error
// once it is full; Ready reports false, and OnReadyChange is called, until the connection
// is back. Publications of other nodes made during the outage do not reach this node.
//
// # Control
//
// The broker is a server.Controller: the servers' node-to-node messages (cluster commands,
// the roster) travel on a subject of their own, {SubjectPrefix}.pub.control — one token
// after "pub", where every publication has two, so no app's publication and no control
// message share a subject. It sits under the one subscription on purpose: nats.go runs
// each subscription on its own goroutine, and a second one would let a publication
// overtake the control message sent before it (an admin's unsubscribe or disconnect, then
// a publish that the removed connection must not get). One node's control messages and
// publications reach the others in the order it sent them.
//
// # History
//
// With Options.History, messages of apps that keep history (server.Message.History) go
// through a JetStream stream instead ({SubjectPrefix}.hist.{app}.{topic}): the publish
// waits for the stream's acknowledgement (and fails at once while NATS is unreachable, so
// the publisher is told), and every node, the publishing one included, receives them
// through an ordered consumer, in stream order, stamped with the stream sequence as
// Message.Offset and the stream's epoch. All nodes see history topics in one order with
// the same offsets, so a client recovers its gap on any node; after a reconnect a node's
// consumer resumes where it stopped and catches up.
//
// # Consumer groups
//
// With History the broker is a server.GroupBroker: a durable consumer group of the Drogue
// endpoint is one JetStream durable consumer on the history stream, pulled by its members
// on every node, so each message goes to one member of the cluster and the group's
// position is kept by JetStream (groups.go).
package natsbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/server"
)

// Options configure a Broker. Only URL is required; at most one of CredentialsFile,
// NKeySeedFile, User/Password and Token may be set.
type Options struct {
	// URL is one NATS URL or a comma-separated list (nats://host:4222, tls://…).
	URL string
	// CredentialsFile is a NATS .creds file (user JWT and NKey seed).
	CredentialsFile string
	// NKeySeedFile is a file holding an NKey user seed.
	NKeySeedFile string
	// User and Password authenticate with a user name and password.
	User, Password string
	// Token authenticates with a token.
	Token string
	// TLS, when set, is used for the connection (and required by tls:// URLs).
	TLS *tls.Config
	// Name is the connection name shown by NATS monitoring (default "kete").
	Name string
	// SubjectPrefix is the first subject token of everything this broker sends (default
	// "kete"); nodes of one cluster must share it, clusters sharing a NATS must not.
	SubjectPrefix string
	// ReconnectWait is the pause between reconnect attempts (default 2s).
	ReconnectWait time.Duration
	// ReconnectBufSize bounds what Publish buffers while disconnected (default 8 MiB;
	// negative disables buffering, so Publish fails at once while disconnected).
	ReconnectBufSize int
	// OnReadyChange, when set, is called with the new readiness each time the connection
	// to NATS is lost or regained, in order, from one goroutine of nats.go.
	OnReadyChange func(ready bool)
	// Logger receives connection events and dropped messages (default: discard).
	Logger *slog.Logger
	// History, when set, keeps the messages of history-enabled apps in a JetStream stream
	// so that offsets are the same on every node (see HistoryOptions). Without it a
	// history message travels like any other and each node numbers it itself.
	History *HistoryOptions
}

// Broker is a server.Broker over one NATS connection. Its zero value is not usable; call
// New, then Start.
type Broker struct {
	opts    Options
	auth    nats.Option   // nil: none
	timeout time.Duration // connect and flush; set by Start

	nc     *nats.Conn // nil until Start
	sub    *nats.Subscription
	prefix string // "{SubjectPrefix}.pub."

	ctlSubject string // "{SubjectPrefix}.pub.control", under the one subscription

	// JetStream history (nil js without Options.History).
	histPrefix   string // "{SubjectPrefix}.hist."
	js           nats.JetStreamContext
	streamCfg    *nats.StreamConfig
	histSub      *nats.Subscription
	groupAckWait time.Duration // consumer groups (groups.go)
	epoch        atomicString
	liveFrom     atomic.Uint64 // the first stream sequence this node's consumer delivers (0: unknown)
	handlers     atomic.Int32  // handlers subscribed (Subscribe): none yet, history is read back
	historyOn    atomic.Bool   // startHistory finished: js and streamCfg are set
	log          *slog.Logger
	ready        atomic.Bool
	notify       func(bool)

	ctx    context.Context // ends at Close; handed to handlers
	cancel context.CancelFunc

	// local holds this node's handlers and control handlers: a memory broker calls them
	// as the server expects, and its Close waits for the calls in progress.
	local   *server.MemoryBroker
	control *server.MemoryBroker
	closed  atomic.Bool
	mu      sync.Mutex     // orders closed against members.Add
	members sync.WaitGroup // consumer group members' pull loops (groups.go)

	dropped atomic.Uint64
	bufPool sync.Pool
}

var (
	_ server.Broker        = (*Broker)(nil)
	_ server.Controller    = (*Broker)(nil)
	_ server.ReadyReporter = (*Broker)(nil)
	_ server.HistoryReader = (*Broker)(nil) // recovery on a node that started late
)

// withDefaults returns o with its zero fields set: Name and SubjectPrefix "kete", a
// discarding Logger.
func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "kete"
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = "kete"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// New checks o and builds a Broker. It does not connect: Start does, so that building a
// server's parts has no side effects and a caller decides when the network is touched.
func New(o Options) (*Broker, error) {
	if strings.TrimSpace(o.URL) == "" {
		return nil, errors.New("natsbroker: URL is empty")
	}
	o = o.withDefaults()
	prefix := o.SubjectPrefix
	if strings.ContainsAny(prefix, " \t\r\n*>") || strings.HasPrefix(prefix, ".") || strings.HasSuffix(prefix, ".") || strings.Contains(prefix, "..") {
		return nil, fmt.Errorf("natsbroker: subject prefix %q is not a valid NATS subject", prefix)
	}
	auth, err := authOption(o)
	if err != nil {
		return nil, err
	}
	b := &Broker{
		opts:       o,
		auth:       auth,
		prefix:     prefix + ".pub.",
		histPrefix: prefix + ".hist.",
		ctlSubject: prefix + ".pub.control",
		log:        o.Logger,
		notify:     o.OnReadyChange,
		local:      server.NewMemoryBroker(),
		control:    server.NewMemoryBroker(),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// authOption is the nats.go option for the one way of authenticating o gives (nil: none).
func authOption(o Options) (nats.Option, error) {
	auths := 0
	for _, set := range []bool{o.CredentialsFile != "", o.NKeySeedFile != "", o.User != "" || o.Password != "", o.Token != ""} {
		if set {
			auths++
		}
	}
	switch {
	case auths > 1:
		return nil, fmt.Errorf("natsbroker: %s: give one of credentials file, NKey seed file, user/password or token", redact.Text(o.URL))
	case o.CredentialsFile != "":
		return nats.UserCredentials(o.CredentialsFile), nil
	case o.NKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("natsbroker: NKey seed file %s: %w", o.NKeySeedFile, err)
		}
		return opt, nil
	case o.User != "" || o.Password != "":
		return nats.UserInfo(o.User, o.Password), nil
	case o.Token != "":
		return nats.Token(o.Token), nil
	}
	return nil, nil
}

// Start connects to NATS and subscribes this node to the cluster's publications and
// control messages (and, with Options.History, to the stream). It fails when NATS cannot
// be reached before ctx ends (or within 5 s when ctx has no deadline); once connected,
// the broker reconnects by itself for ever. nats.go's goroutines (reading, flushing,
// reconnecting, calling the handlers) run from Start until Close. Call it once, before
// Publish; Subscribe may come before or after.
func (b *Broker) Start(ctx context.Context) error {
	if b.closed.Load() {
		return server.ErrBrokerClosed
	}
	if b.nc != nil {
		return errors.New("natsbroker: started twice")
	}
	url := redact.Text(b.opts.URL)
	b.timeout = 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if b.timeout = time.Until(dl); b.timeout <= 0 {
			return fmt.Errorf("natsbroker: connect to %s: %w", url, context.DeadlineExceeded)
		}
	}
	nc, err := nats.Connect(b.opts.URL, b.natsOptions()...)
	if err != nil {
		return fmt.Errorf("natsbroker: connect to %s: %w", url, err)
	}
	// Close may have run while Connect waited: it saw no connection to close, so this
	// one must not outlive it. Under mu, Close either sees nc or Start sees closed.
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		nc.Close()
		return server.ErrBrokerClosed
	}
	b.nc = nc
	b.mu.Unlock()
	if b.sub, err = nc.Subscribe(b.prefix+">", b.onMsg); err == nil {
		err = nc.FlushTimeout(b.timeout)
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("natsbroker: subscribe to %s> on %s: %w", b.prefix, url, err)
	}
	if b.opts.History != nil {
		if err := b.startHistory(ctx, *b.opts.History, b.timeout); err != nil {
			nc.Close()
			return err
		}
	}
	b.setReady(nc.IsConnected())
	return nil
}

// natsOptions are the connection's options: Options' settings and the handlers that
// follow the connection's state.
func (b *Broker) natsOptions() []nats.Option {
	o, log := b.opts, b.log
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.Timeout(b.timeout),
		nats.MaxReconnects(-1),
		nats.NoEcho(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", slog.String("url", redact.Text(o.URL)), slog.Any("error", err))
			b.setReady(false)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			// Ready only once the NATS server has our subscription again, so that a
			// publication made after Ready turns true reaches this node.
			if err := nc.FlushTimeout(b.timeout); err != nil {
				log.Warn("nats reconnected but flush failed", slog.Any("error", err))
				return
			}
			if b.historyOn.Load() { // not b.js: Start may be writing it on another goroutine
				b.refreshStream(b.timeout)
			}
			log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
			b.setReady(true)
		}),
		nats.ClosedHandler(func(*nats.Conn) { b.setReady(false) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				log.Error("nats subscription is a slow consumer: messages dropped", slog.Any("error", err))
				return
			}
			log.Warn("nats error", slog.Any("error", err))
		}),
	}
	if o.ReconnectWait > 0 {
		opts = append(opts, nats.ReconnectWait(o.ReconnectWait))
	}
	if o.ReconnectBufSize != 0 {
		opts = append(opts, nats.ReconnectBufSize(o.ReconnectBufSize))
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	if b.auth != nil {
		opts = append(opts, b.auth)
	}
	return opts
}

func (b *Broker) setReady(r bool) {
	if b.closed.Load() {
		r = false
	}
	if b.ready.Swap(r) != r && b.notify != nil {
		b.notify(r)
	}
}

// Ready reports whether the broker is connected to NATS, for /readyz.
func (b *Broker) Ready() bool { return b.ready.Load() }

// Dropped counts received publications that no handler took (a handler error, or a
// message this broker could not decode), since New.
func (b *Broker) Dropped() uint64 { return b.dropped.Load() }

// Subject returns the NATS subject that carries topic of appID, for operators and tests.
func (b *Broker) Subject(appID, topic string) string {
	return b.prefix + escapeToken(appID) + "." + escapeToken(topic)
}

// histSubject is the stream subject of a history message.
func (b *Broker) histSubject(appID, topic string) string {
	return b.histPrefix + escapeToken(appID) + "." + escapeToken(topic)
}

// atomicString is a string read and written from several goroutines.
type atomicString struct{ p atomic.Pointer[string] }

func (a *atomicString) Load() string {
	if s := a.p.Load(); s != nil {
		return *s
	}
	return ""
}

func (a *atomicString) Store(s string) { a.p.Store(&s) }

// Publish implements server.Broker: it hands msg to this node's handlers (returning the
// first one's error, as the memory broker does) and to NATS for the other nodes; it
// returns once nats.go has buffered msg for the NATS server (or, while disconnected, for
// the reconnect). Handlers' errors on the other nodes are not seen here.
func (b *Broker) Publish(ctx context.Context, appID, topic string, msg server.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.usable(); err != nil {
		return err
	}
	if msg.History && b.js != nil {
		if !b.nc.IsConnected() {
			return fmt.Errorf("natsbroker: history message for %s not published: NATS not connected", b.histSubject(appID, topic))
		}
		buf := appendMessage(nil, &msg)
		return b.publishHistory(ctx, b.histSubject(appID, topic), buf) // every node, this one too, gets it from the stream
	}
	// This node's handlers get msg here and now (the connection is NoEcho), so local
	// subscribers keep being served while NATS is away, and a full local hub is
	// back-pressure for the publisher, as with the memory broker.
	localErr := b.local.Publish(ctx, appID, topic, msg)
	if errors.Is(localErr, server.ErrBrokerClosed) {
		return localErr
	}
	bp, _ := b.bufPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := appendMessage((*bp)[:0], &msg)
	err := b.nc.Publish(b.Subject(appID, topic), buf) // copies buf into its write buffer
	*bp = buf
	if cap(buf) <= 64<<10 {
		b.bufPool.Put(bp)
	}
	if err != nil {
		return publishError(b.Subject(appID, topic), err)
	}
	return localErr
}

// errNotStarted is Publish's answer before Start.
var errNotStarted = errors.New("natsbroker: not started (call Start)")

// usable says why the broker cannot publish now, if it cannot.
func (b *Broker) usable() error {
	switch {
	case b.closed.Load():
		return server.ErrBrokerClosed
	case b.nc == nil:
		return errNotStarted
	}
	return nil
}

// publishError says why nats.go did not take a message for subject.
func publishError(subject string, err error) error {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed):
		return server.ErrBrokerClosed
	case errors.Is(err, nats.ErrReconnectBufExceeded):
		return fmt.Errorf("natsbroker: NATS unreachable and the reconnect buffer is full: %w", err)
	default:
		return fmt.Errorf("natsbroker: publish to %s: %w", subject, err)
	}
}

// Subscribe implements server.Broker. Handlers get the broker's context, which ends at
// Close; a handler that blocks holds up this node's later messages (and, past nats.go's
// pending limits, makes NATS drop messages for this node).
func (b *Broker) Subscribe(h server.Handler) (func(), error) {
	if h == nil {
		return nil, errors.New("natsbroker: nil handler")
	}
	unsub, err := b.local.Subscribe(h)
	if err != nil {
		return nil, err
	}
	b.handlers.Add(1)
	var once sync.Once
	return func() { once.Do(func() { b.handlers.Add(-1); unsub() }) }, nil
}

// PublishControl implements server.Controller: it hands data to NATS for the other nodes
// (not this one: the connection is NoEcho), buffered like a publication while NATS is away.
func (b *Broker) PublishControl(ctx context.Context, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.usable(); err != nil {
		return err
	}
	if err := b.nc.Publish(b.ctlSubject, data); err != nil {
		return publishError(b.ctlSubject, err)
	}
	return nil
}

// SubscribeControl implements server.Controller. Handlers run on the subscription's one
// delivery goroutine, in order with publications, with the broker's context.
func (b *Broker) SubscribeControl(h server.ControlHandler) (func(), error) {
	if h == nil {
		return nil, errors.New("natsbroker: nil control handler")
	}
	return b.control.Subscribe(func(ctx context.Context, _, _ string, m server.Message) error {
		h(ctx, m.Data)
		return nil
	})
}

// onControl hands one control message of another node to this node's control handlers.
func (b *Broker) onControl(m *nats.Msg) {
	_ = b.control.Publish(b.ctx, "", "", server.Message{Data: m.Data})
}

// onMsg runs on the subscription's one delivery goroutine, so messages (publications and
// control messages alike) reach handlers in arrival order.
func (b *Broker) onMsg(m *nats.Msg) {
	if m.Subject == b.ctlSubject {
		b.onControl(m)
		return
	}
	appID, topic, msg, ok := b.parse(m, b.prefix)
	if !ok {
		return
	}
	if err := b.local.Publish(b.ctx, appID, topic, msg); err != nil && !errors.Is(err, server.ErrBrokerClosed) {
		b.drop("handler refused message", m.Subject, err)
	}
}

// parse decodes a message on prefix.{app}.{topic}; it counts and logs what it drops.
func (b *Broker) parse(m *nats.Msg, prefix string) (appID, topic string, msg server.Message, ok bool) {
	rest, ok := strings.CutPrefix(m.Subject, prefix)
	dot := strings.IndexByte(rest, '.')
	if !ok || dot < 0 || strings.IndexByte(rest[dot+1:], '.') >= 0 {
		b.drop("unexpected subject", m.Subject, nil)
		return "", "", msg, false
	}
	appID, err1 := unescapeToken(rest[:dot])
	topic, err2 := unescapeToken(rest[dot+1:])
	msg, err3 := decodeMessage(m.Data)
	if err := errors.Join(err1, err2, err3); err != nil {
		b.drop("undecodable message", m.Subject, err)
		return "", "", msg, false
	}
	return appID, topic, msg, true
}

func (b *Broker) drop(why, subject string, err error) {
	b.dropped.Add(1)
	b.log.Warn("natsbroker: "+why, slog.String("subject", subject), slog.Any("error", err))
}

// Close implements server.Broker: it ends the handlers' context, waits for a handler call
// in progress, flushes what was published (for up to 2 s) and closes the connection.
func (b *Broker) Close() error {
	b.mu.Lock()
	first := !b.closed.Swap(true)
	b.mu.Unlock()
	if !first {
		return nil
	}
	b.cancel()
	_ = b.local.Close()
	_ = b.control.Close()
	var err error
	if b.nc != nil && b.nc.IsConnected() {
		if ferr := b.nc.FlushTimeout(2 * time.Second); ferr != nil {
			err = fmt.Errorf("natsbroker: flush on close: %w", ferr)
		}
	}
	if b.nc != nil {
		b.nc.Close()
	}
	b.members.Wait()
	b.ready.Store(false)
	return err
}
