package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kete-dev/kete/server"
)

// HistoryOptions turn on topic history kept by NATS JetStream, so that every node numbers
// the messages of history-enabled apps (server.Message.History) alike: they are published
// into one stream and every node reads them back, in stream order, through an ordered
// consumer. Message.Offset is the stream sequence and Message.Epoch names the stream
// (its creation time): a client can recover its gap on any node.
//
// Such a publish waits for the stream's acknowledgement, so it fails (and the publisher is
// told) while NATS is unreachable instead of being buffered; after a reconnect each node's
// consumer resumes where it stopped, so a node that lost NATS catches up on what the
// others published meanwhile.
type HistoryOptions struct {
	// Stream is the JetStream stream's name (default "KETE"); nodes of one cluster share it.
	Stream string
	// Memory keeps the stream in memory instead of files (lost when NATS restarts).
	Memory bool
	// Replicas is the stream's replica count in a JetStream cluster (default 1).
	Replicas int
	// MaxAge bounds how long NATS keeps a message (default 24h); it must be at least the
	// longest historyTtl of any app. Apps' own limits are applied by each node.
	MaxAge time.Duration
	// MaxMsgsPerTopic bounds the messages NATS keeps per topic (default 1000); at least
	// the largest historySize of any app.
	MaxMsgsPerTopic int64
	// Heartbeat is the consumer's idle heartbeat (default 1s): after a reconnect a node
	// resumes reading within about two heartbeats.
	Heartbeat time.Duration
	// GroupAckWait is how long a consumer group member may hold a message unacknowledged
	// before JetStream hands it to another member (default 30s): how soon the share of a
	// member whose node died goes on (groups.go).
	GroupAckWait time.Duration
}

// startHistory creates (or updates) the stream and subscribes this node to it.
func (b *Broker) startHistory(ctx context.Context, h HistoryOptions, timeout time.Duration) error {
	if h.Stream == "" {
		h.Stream = "KETE"
	}
	if h.Replicas <= 0 {
		h.Replicas = 1
	}
	if h.MaxAge <= 0 {
		h.MaxAge = 24 * time.Hour
	}
	if h.MaxMsgsPerTopic <= 0 {
		h.MaxMsgsPerTopic = 1000
	}
	if h.Heartbeat <= 0 {
		h.Heartbeat = time.Second
	}
	if h.GroupAckWait <= 0 {
		h.GroupAckWait = 30 * time.Second
	}
	b.groupAckWait = h.GroupAckWait
	js, err := b.nc.JetStream()
	if err != nil {
		return fmt.Errorf("natsbroker: JetStream: %w", err)
	}
	b.js = js
	storage := nats.FileStorage
	if h.Memory {
		storage = nats.MemoryStorage
	}
	b.streamCfg = &nats.StreamConfig{
		Name:              h.Stream,
		Subjects:          []string{b.histPrefix + ">"},
		Storage:           storage,
		Replicas:          h.Replicas,
		MaxAge:            h.MaxAge,
		MaxMsgsPerSubject: h.MaxMsgsPerTopic,
		Discard:           nats.DiscardOld,
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last, err := b.ensureStream(cctx)
	if err != nil {
		return err
	}
	// Start right after the stream's last message, by number rather than DeliverNew, so
	// that this node knows exactly which messages it will receive itself (liveFrom) and
	// which it can only read back (ReadHistory).
	// liveFrom is set first: the consumer's first message may come before Subscribe
	// returns, and onHistoryMsg may move liveFrom past it.
	b.liveFrom.Store(last + 1)
	sub, err := js.Subscribe(b.histPrefix+">", b.onHistoryMsg,
		nats.OrderedConsumer(), nats.StartSequence(last+1), nats.IdleHeartbeat(h.Heartbeat), nats.BindStream(h.Stream))
	if err != nil {
		return fmt.Errorf("natsbroker: consume stream %s: %w", h.Stream, err)
	}
	b.histSub = sub
	b.historyOn.Store(true)
	return nil
}

// ensureStream creates the stream or applies the configuration to the existing one, and
// takes its epoch; it returns the stream's last sequence number.
func (b *Broker) ensureStream(ctx context.Context) (uint64, error) {
	info, err := b.js.AddStream(b.streamCfg, nats.Context(ctx))
	if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		info, err = b.js.UpdateStream(b.streamCfg, nats.Context(ctx))
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrJetStreamNotEnabled) {
		return 0, fmt.Errorf("natsbroker: stream %s: JetStream is not enabled on the NATS server (history needs it): %w", b.streamCfg.Name, err)
	}
	if err != nil {
		return 0, fmt.Errorf("natsbroker: stream %s on subjects %s>: %w", b.streamCfg.Name, b.histPrefix, err)
	}
	b.epoch.Store(strconv.FormatInt(info.Created.UnixNano(), 36))
	return info.State.LastSeq, nil
}

// refreshStream runs after a reconnect: the stream may be new (a NATS restarted without
// its store), and then so is the epoch.
func (b *Broker) refreshStream(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	old := b.epoch.Load()
	if _, err := b.ensureStream(ctx); err != nil {
		b.log.Warn("natsbroker: stream check after reconnect failed", slog.Any("error", err))
		return
	}
	if e := b.epoch.Load(); e != old {
		// Where the consumer picks the new stream up is nats.go's business: stop reading
		// history back, since a replay could then repeat a live message.
		b.liveFrom.Store(0)
		b.log.Warn("natsbroker: history stream was recreated: new epoch, earlier history lost", slog.String("stream", b.streamCfg.Name), slog.String("epoch", e))
	}
}

// Epoch implements server.HistoryBroker: the epoch of the history stream, or "" without
// JetStream history.
func (b *Broker) Epoch() string { return b.epoch.Load() }

// publishHistory publishes into the stream and waits for its acknowledgement.
func (b *Broker) publishHistory(ctx context.Context, subject string, data []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	m := nats.NewMsg(subject)
	m.Data = data
	if _, err := b.js.PublishMsg(m, nats.Context(ctx)); err != nil {
		return fmt.Errorf("natsbroker: publish to stream %s subject %s: %w", b.streamCfg.Name, subject, err)
	}
	return nil
}

// onHistoryMsg delivers one stream message with its offset and epoch.
func (b *Broker) onHistoryMsg(m *nats.Msg) {
	appID, topic, msg, ok := b.parse(m, b.histPrefix)
	if !ok {
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		b.drop("stream message without metadata", m.Subject, err)
		return
	}
	msg.Offset = meta.Sequence.Stream
	msg.Epoch = b.epoch.Load()
	msg.History = true
	if b.handlers.Load() == 0 {
		// No server subscribed yet (Start connects before the server's Start subscribes):
		// this message reaches no one live, so it must be read back. Moving liveFrom past
		// it makes ReadHistory cover it; a recovering client gets it from the replay
		// instead of being told it was recovered while it never came.
		if !b.raiseLiveFrom(msg.Offset + 1) {
			// The live start is unknown (the stream was recreated): nothing will read
			// this message back either, so say it was not delivered.
			b.drop("history message before any handler, not readable back", m.Subject, nil)
		}
		return
	}
	if err := b.local.Publish(b.ctx, appID, topic, msg); err != nil && !errors.Is(err, server.ErrBrokerClosed) {
		b.drop("handler refused message", m.Subject, err)
	}
}

// raiseLiveFrom moves liveFrom up to seq (never down, and not from 0: an unknown start
// stays unknown). It reports whether the messages before seq are now left to ReadHistory,
// false when the start is unknown and read-back is off.
func (b *Broker) raiseLiveFrom(seq uint64) bool {
	for {
		cur := b.liveFrom.Load()
		if cur == 0 {
			return false
		}
		if cur >= seq || b.liveFrom.CompareAndSwap(cur, seq) {
			return true
		}
	}
}

// ReadHistory implements server.HistoryReader: it reads the messages of topic after offset
// `after` back from the stream, so that a node can replay what was published before it
// started. It looks up the message at `after` first (one request; it must still be kept
// and be of this topic, or the gap cannot be proved complete), then reads what follows
// through a short-lived ordered consumer, at most limit messages.
func (b *Broker) ReadHistory(ctx context.Context, appID, topic string, after uint64, limit int) (server.HistoryRead, error) {
	read := server.HistoryRead{Epoch: b.epoch.Load(), LiveFrom: b.liveFrom.Load()}
	if b.js == nil {
		return read, errors.New("natsbroker: no JetStream history (Options.History is not set)")
	}
	if after == 0 || limit <= 0 {
		return read, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	subject := b.histSubject(appID, topic)
	anchor, err := b.js.GetMsg(b.streamCfg.Name, after, nats.Context(ctx))
	if errors.Is(err, nats.ErrMsgNotFound) {
		return read, nil
	}
	if err != nil {
		return read, fmt.Errorf("natsbroker: read message %d of stream %s: %w", after, b.streamCfg.Name, err)
	}
	if anchor.Subject != subject {
		return read, nil
	}
	read.Anchored = true
	sub, err := b.js.SubscribeSync(subject, nats.OrderedConsumer(), nats.StartSequence(after+1), nats.BindStream(b.streamCfg.Name), nats.Context(ctx))
	if err != nil {
		return read, fmt.Errorf("natsbroker: read %s back from stream %s: %w", subject, b.streamCfg.Name, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	info, err := sub.ConsumerInfo()
	if err != nil {
		return read, fmt.Errorf("natsbroker: read %s back from stream %s: %w", subject, b.streamCfg.Name, err)
	}
	// The consumer may have pushed some already: those count as delivered, not pending.
	if info.NumPending+info.Delivered.Consumer == 0 {
		return read, nil
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return read, fmt.Errorf("natsbroker: read %s back from stream %s: %w", subject, b.streamCfg.Name, err)
		}
		_, _, msg, ok := b.parse(m, b.histPrefix)
		meta, merr := m.Metadata()
		if !ok || merr != nil {
			return read, fmt.Errorf("natsbroker: stream %s message on %s cannot be read back", b.streamCfg.Name, subject)
		}
		if len(read.Messages) == limit {
			read.Truncated, read.Messages = true, nil
			return read, nil
		}
		if len(read.Messages) == 0 {
			read.Oldest = meta.Timestamp
		}
		msg.Offset, msg.Epoch, msg.History = meta.Sequence.Stream, read.Epoch, true
		read.Messages = append(read.Messages, msg)
		if meta.NumPending == 0 {
			break
		}
	}
	return read, nil
}
