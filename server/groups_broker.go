package server

import (
	"errors"
	"log/slog"
)

// Consumer groups kept by the broker (a GroupBroker: natsbroker with JetStream history).
//
// A durable group of an app that keeps history lives in the broker rather than on this
// node: each member joins it with JoinGroup and the broker hands it its share. With NATS
// that is one JetStream durable consumer per group, pulled by every member on every node,
// so each message goes to one live member of the whole cluster, the group's position is
// the consumer's acknowledged floor (durable in JetStream), and a member that reconnects
// on any node resumes where the group left off. Such a member is not in the node's group
// table at all, so the dispatcher (deliverToGroups) never hands it a message twice.

// closeGroupUnavailable is WebSocket's 1011 (internal error): the broker could not
// take the member into its group.
const closeGroupUnavailable = 1011

// errConsumerGone refuses a message for a member that was closed: the broker hands it on.
var errConsumerGone = errors.New("server: consumer closed")

// joinBrokerGroup makes c a member of its group in the broker. It reports false when the
// broker keeps no groups for c (not a GroupBroker, no group_id, an app without history),
// and then the node keeps the group (joinGroup).
func (h *hub) joinBrokerGroup(c *conn, rt *appRuntime) bool {
	cs := c.consumer()
	gb, ok := h.deps.broker.(GroupBroker)
	if !ok || cs.groupID == "" || rt.app.HistorySize <= 0 {
		return false
	}
	appID := h.appID
	leave, err := gb.JoinGroup(h.deps.ctx, appID, cs.channel, cs.groupID, func(topic string, msg Message) error {
		return h.handBrokerMessage(c, topic, &msg)
	})
	if errors.Is(err, ErrNoGroups) {
		return false
	}
	if err != nil {
		// The group lives in the broker; a node-local group would break its promise
		// (one member per message across nodes), so the member is refused instead.
		h.deps.log.Warn("consumer group not joined", slog.String("app", appID), slog.String("group", cs.groupID), slog.String("error", err.Error()))
		c.closeWith(closeGroupUnavailable, "consumer group unavailable", false)
		return true
	}
	h.consumers.mu.Lock()
	cs.leave = leave
	h.consumers.mu.Unlock()
	return true
}

// handBrokerMessage sends one message the broker handed member c. It refuses (so that the
// broker hands it to another member) when c is closed or was closed by this send (it fell
// behind its backlog); a topic c may not read is taken and skipped.
func (h *hub) handBrokerMessage(c *conn, topic string, msg *Message) error {
	if _, closed := c.outbound(); closed {
		return errConsumerGone
	}
	if !consumerMayRead(c.session(), topic) {
		return nil
	}
	id := msg.DedupID
	if msg.Offset != 0 {
		id = historyEventID(msg.Epoch, msg.Offset)
	} else if id == "" {
		id = newID()
	}
	frame := encodeCloudEvent(h.appID, topic, msg, id, h.deps.clock.now())
	m := h.deps.metrics
	m.framesOut.Inc()
	m.bytesOut.Add(float64(len(frame)))
	c.send(frame)
	if _, closed := c.outbound(); closed {
		return errConsumerGone
	}
	return nil
}

// leaveBrokerGroup ends c's membership in the broker, if it has one.
func (h *hub) leaveBrokerGroup(c *conn) bool {
	h.consumers.mu.Lock()
	leave := c.consumer().leave
	c.consumer().leave = nil
	h.consumers.mu.Unlock()
	if leave == nil {
		return false
	}
	leave()
	return true
}
