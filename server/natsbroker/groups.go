package natsbroker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kete-dev/kete/server"
)

// Consumer groups (server.GroupBroker).
//
// A consumer group of the Drogue endpoint, (app, channel, group_id), is one JetStream
// durable consumer on the history stream, named from a hash of the three (durable names
// allow few characters), filtered to the channel's subject ({SubjectPrefix}.hist.{app}.{channel})
// or to every topic of the app ({SubjectPrefix}.hist.{app}.*). Every member, on whichever
// node, pulls from that one consumer one message at a time, so JetStream hands each
// message to exactly one member of the whole cluster, and in stream order within a
// member. The member acknowledges a message once the server has queued its frame; the
// consumer's acknowledged floor is the group's position, kept by JetStream, so a member
// that joins on any node resumes where the group left off. A message handed to a member
// that then fails (closed, slow, its node died) is not acknowledged: a member that leaves
// refuses it at once (NAK) and JetStream hands it to another member; one whose node died
// holding it gets it redelivered after HistoryOptions.GroupAckWait. Hence the guarantee:
// at-least-once within what the stream keeps (a redelivered message keeps its CloudEvent
// id, the stream sequence), in order per member except after such a redelivery.
//
// A new group starts at the end of the stream (DeliverNew): it gets what is published
// after it was made. A group with no member for HistoryOptions.MaxAge is deleted by
// JetStream (InactiveThreshold), as its messages would be gone by then anyway.

// groupPullWait is how long one pull waits for a message; it bounds how long a member
// that left keeps its pull open.
const groupPullWait = time.Second

// groupConsumerName names the durable consumer of a group.
func (b *Broker) groupConsumerName(appID, channel, group string) string {
	h := sha256.New()
	for _, s := range []string{b.histPrefix, appID, channel, group} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "kete_group_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// JoinGroup implements server.GroupBroker with a JetStream durable consumer per group. It
// fails with server.ErrNoGroups without JetStream history (Options.History).
func (b *Broker) JoinGroup(ctx context.Context, appID, channel, group string, deliver func(topic string, msg server.Message) error) (func(), error) {
	if b.js == nil {
		return nil, server.ErrNoGroups
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	stream := b.streamCfg.Name
	filter := b.histPrefix + escapeToken(appID) + ".*"
	if channel != "" {
		filter = b.histSubject(appID, channel)
	}
	name := b.groupConsumerName(appID, channel, group)
	cfg := &nats.ConsumerConfig{
		Durable:           name,
		Description:       fmt.Sprintf("kete consumer group %q of app %q, channel %q", group, appID, channel),
		FilterSubject:     filter,
		DeliverPolicy:     nats.DeliverNewPolicy,
		AckPolicy:         nats.AckExplicitPolicy,
		AckWait:           b.groupAckWait,
		MaxAckPending:     1000,
		InactiveThreshold: b.streamCfg.MaxAge,
	}
	_, err := b.js.AddConsumer(stream, cfg, nats.Context(ctx))
	if errors.Is(err, nats.ErrConsumerNameAlreadyInUse) {
		// Made by an earlier kete with other settings: take ours (the position stays).
		_, err = b.js.UpdateConsumer(stream, cfg, nats.Context(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("natsbroker: consumer group %q of app %s (durable %s on stream %s): %w", group, appID, name, stream, err)
	}
	sub, err := b.js.PullSubscribe(filter, name, nats.Bind(stream, name))
	if err != nil {
		return nil, fmt.Errorf("natsbroker: consumer group %q of app %s: pull from durable %s: %w", group, appID, name, err)
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		_ = sub.Unsubscribe()
		return nil, server.ErrBrokerClosed
	}
	b.members.Add(1)
	b.mu.Unlock()
	m := &groupMember{b: b, sub: sub, deliver: deliver, group: group}
	go m.run()
	return func() { m.left.Store(true) }, nil
}

// groupMember is one member's pull loop; the broker owns it (Close waits for it).
type groupMember struct {
	b       *Broker
	sub     *nats.Subscription
	deliver func(topic string, msg server.Message) error
	group   string
	left    atomic.Bool
}

// run pulls and delivers until the member leaves or the broker closes, then refuses
// what it still holds and drops its pull subscription (not the durable consumer).
func (m *groupMember) run() {
	b := m.b
	defer b.members.Done()
	defer func() { _ = m.sub.Unsubscribe() }()
	for !m.left.Load() && b.ctx.Err() == nil {
		msgs, err := m.sub.Fetch(1, nats.MaxWait(groupPullWait))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			return
		}
		if err != nil {
			// Disconnected, or the stream is being recreated: try again after a pause.
			b.log.Debug("natsbroker: consumer group pull failed", slog.String("group", m.group), slog.Any("error", err))
			select {
			case <-b.ctx.Done():
			case <-time.After(groupPullWait):
			}
			continue
		}
		for _, msg := range msgs {
			m.handle(msg)
		}
	}
}

// handle delivers one message and acknowledges it, or refuses it so that another member
// gets it.
func (m *groupMember) handle(msg *nats.Msg) {
	b := m.b
	if m.left.Load() || b.ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	_, topic, sm, ok := b.parse(msg, b.histPrefix)
	meta, err := msg.Metadata()
	if !ok || err != nil {
		_ = msg.Term() // undecodable: no member could take it
		return
	}
	sm.Offset, sm.Epoch, sm.History = meta.Sequence.Stream, b.epoch.Load(), true
	if err := m.deliver(topic, sm); err != nil {
		_ = msg.Nak()
		return
	}
	if err := msg.Ack(); err != nil {
		b.log.Debug("natsbroker: consumer group ack failed (the message comes again)", slog.String("group", m.group), slog.Any("error", err))
	}
}

var _ server.GroupBroker = (*Broker)(nil)
