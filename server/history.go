package server

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// History and recovery.
//
// An app with historySize > 0 keeps, per topic, the last historySize messages (and only
// those younger than historyTtl, when set) in memory on every node, within the app's
// historyMaxBytes and historyMaxTopics (see historyStore: the app's oldest message goes
// first, and a topic left without messages that way is forgotten). Each delivered
// message of such a topic carries its offset in its frame:
//
//	{"topic":T,"messageType":M,"data":D,"offset":N}
//
// and a subscribe is confirmed with the topic's position:
//
//	{"topic":T,"messageType":"welcome","data":{"topic":T,"offset":N,"epoch":E}}
//
// A client that comes back subscribes with the last position it saw,
//
//	{"type":"subscribe","data":{"topic":T,"since":{"offset":N,"epoch":E}}}
//
// and gets the welcome with "recovered":true followed by every message it missed, in
// order, before any live message; or "recovered":false when the gap cannot be filled
// (another epoch, or messages after N already dropped from history), and then nothing is
// replayed: the client must reload its state. "since":{"offset":0} asks for everything
// still kept.
//
// Offsets grow by one per message of a topic when the hub numbers them itself (the
// memory broker, or a NATS broker without JetStream): the epoch is then the node's own,
// so recovery works only on the node that numbered the messages. A broker that orders
// history (NATS with JetStream) stamps Message.Offset and Epoch instead: offsets are
// the stream's sequence numbers, the same on every node, growing but not by one per
// topic, and recovery works on any node that received the messages. A node that did not
// receive them (it started later) reads them back from the broker when it can
// (HistoryReader), so recovery works on every node of the cluster.

// StreamPosition is a place in a topic's history: the offset of a message and the epoch
// of the stream that numbered it. Offsets of different epochs are not comparable.
type StreamPosition struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// HistoryReader is implemented by a HistoryBroker that can read a topic's kept messages
// back from where it keeps them (NATS JetStream), so that a node can replay messages it
// never received: they were published before it started.
type HistoryReader interface {
	HistoryBroker
	// ReadHistory reads the messages of topic published after offset `after`, oldest
	// first, at most limit of them.
	ReadHistory(ctx context.Context, appID, topic string, after uint64, limit int) (HistoryRead, error)
}

// HistoryRead is what ReadHistory found.
type HistoryRead struct {
	// Epoch is the stream's epoch the offsets belong to.
	Epoch string
	// Anchored is true when the message at `after` is still kept and of this topic:
	// nothing after it has been dropped, so Messages is the whole gap.
	Anchored bool
	// Truncated is true when more than limit messages follow `after` (Messages is empty).
	Truncated bool
	// Messages follow `after` in order, stamped with Offset and Epoch.
	Messages []Message
	// Oldest is when the first of Messages was kept.
	Oldest time.Time
	// LiveFrom is the first offset this node receives through the broker's subscription
	// (earlier ones it can only read back); 0 when unknown, and then nothing is replayed.
	LiveFrom uint64
}

// brokerHistoryTimeout bounds reading history back from the broker for one subscribe.
const brokerHistoryTimeout = 3 * time.Second

// histEntry is one kept message: its frame as delivered and where it sits.
type histEntry struct {
	offset    uint64
	prev      uint64 // offset of the topic's message before it
	prevKnown bool   // prev is certain (false for the first message a node saw of a broker-numbered topic)
	at        int64  // coarse clock when recorded, unix ns
	frame     []byte
}

// topicHistory is one topic's kept messages, oldest first from head.
type topicHistory struct {
	epoch   string
	last    uint64 // offset of the newest message ever recorded in this epoch
	entries []histEntry
	head    int
}

func (th *topicHistory) kept() []histEntry { return th.entries[th.head:] }

// hasHistory reports whether messages of topic are kept for rt's app: private topics
// (one connection's) and the control topic never are.
func hasHistory(rt *appRuntime, topic string) bool {
	return rt.app.HistorySize > 0 && !strings.HasPrefix(topic, "priv/")
}

// recordLocked numbers q (unless the broker did), encodes its frame with the offset and
// keeps it; it reports false for a message already kept (a broker redelivery), which must
// not be delivered again. Only the dispatcher calls it, holding h.mu for writing (so that
// subscribeFrom, which holds it too, sees the message either here or live) and
// h.history.mu.
func (h *hub) recordLocked(rt *appRuntime, q *queued, now int64) bool {
	hs := h.history
	epoch := q.msg.Epoch
	if epoch == "" {
		epoch = h.epoch
	}
	l := historyLimitsOf(&rt.app)
	th := hs.topicLocked(q.topic, epoch, l)
	e := histEntry{at: now}
	if q.msg.Offset == 0 {
		e.offset = th.last + 1
		e.prev, e.prevKnown = th.last, true
	} else {
		e.offset = q.msg.Offset
		e.prev, e.prevKnown = th.last, th.last != 0
	}
	if e.offset <= th.last {
		return false // a broker redelivery: already kept and delivered
	}
	th.last = e.offset
	q.offset = e.offset
	mt := q.msg.MessageType
	if mt == "" {
		mt = "broadcast"
	}
	q.frame = encodeServerFrameAt(q.topic, mt, q.msg.Data, q.msg.Binary, e.offset)
	e.frame = q.frame
	hs.addLocked(q.topic, th, e, now, l)
	return true
}

// localReplay decides from this node's own history th whether the gap after since can be
// filled, and with which kept messages.
func localReplay(th *topicHistory, since *StreamPosition) (recovered bool, replay []histEntry) {
	var kept []histEntry
	if th != nil {
		kept = th.kept()
	}
	switch {
	case since.Offset == 0:
		// Everything kept, if nothing was dropped yet.
		if len(kept) == 0 {
			return th == nil || th.last == 0, nil
		}
		if kept[0].prevKnown && kept[0].prev == 0 {
			return true, kept
		}
	case th == nil || since.Epoch != th.epoch || since.Offset > th.last:
		// Another stream, a position this node never reached, or a topic it has not
		// seen since it started: the gap cannot be filled here.
	case since.Offset == th.last:
		return true, nil
	default:
		for i, e := range kept {
			if e.prevKnown && e.prev == since.Offset {
				return true, kept[i:]
			}
			if e.offset > since.Offset {
				break
			}
		}
	}
	return false, nil
}

// readBrokerHistory reads the gap after since back from the broker when this node's own
// history cannot fill it and the broker keeps history for every node; nil otherwise.
// It runs before subscribeFrom, outside the hub's lock.
func (h *hub) readBrokerHistory(rt *appRuntime, topic string, since *StreamPosition) *HistoryRead {
	hr, ok := h.deps.broker.(HistoryReader)
	if !ok || since == nil || since.Offset == 0 || since.Epoch == "" || since.Epoch != hr.Epoch() {
		return nil // the broker does not number history (each node does), or another stream
	}
	hs := h.history
	hs.mu.Lock()
	hs.expireLocked(h.deps.clock.now(), int64(rt.app.HistoryTTL))
	local, _ := localReplay(hs.topics[topic], since)
	hs.mu.Unlock()
	if local {
		return nil
	}
	ctx, cancel := context.WithTimeout(h.deps.ctx, brokerHistoryTimeout)
	defer cancel()
	read, err := hr.ReadHistory(ctx, h.appID, topic, since.Offset, rt.app.HistorySize)
	if err != nil {
		h.deps.log.Warn("history not read back from the broker", slog.String("app", h.appID), slog.String("topic", topic), slog.String("error", err.Error()))
		return nil
	}
	return &read
}

// brokerReplay fills the gap after since from what the broker read back (read) and this
// node's history th: the read messages this node will not receive live (before LiveFrom)
// or has received already (up to th.last), then its own kept messages after the last read
// one. Later messages reach the subscriber live. It returns the frames to replay and the
// offset of the last one. The caller holds h.mu.
func brokerReplay(rt *appRuntime, topic string, th *topicHistory, since *StreamPosition, read *HistoryRead, now int64) (recovered bool, replay [][]byte, last uint64) {
	if read == nil || !read.Anchored || read.Truncated || read.LiveFrom == 0 || read.Epoch != since.Epoch ||
		len(read.Messages) > rt.app.HistorySize || (th != nil && th.epoch != read.Epoch) {
		return false, nil, 0
	}
	if ttl := int64(rt.app.HistoryTTL); ttl > 0 && len(read.Messages) > 0 && now-read.Oldest.UnixNano() >= ttl {
		return false, nil, 0 // this node would have dropped the oldest of them by now
	}
	limit := read.LiveFrom - 1
	if th != nil && th.last > limit {
		limit = th.last
	}
	last = since.Offset
	for _, m := range read.Messages {
		if m.Offset > limit {
			break // still on its way to this node: it arrives live
		}
		mt := m.MessageType
		if mt == "" {
			mt = "broadcast"
		}
		replay = append(replay, encodeServerFrameAt(topic, mt, m.Data, m.Binary, m.Offset))
		last = m.Offset
	}
	if th == nil || th.last <= last {
		return true, replay, last
	}
	// This node received messages after the last one read back (published while it was
	// being read): they are in its history right after it, unless dropped meanwhile.
	next := false
	for _, e := range th.kept() {
		if e.offset <= last {
			continue
		}
		if !next && e.prevKnown && e.prev > last {
			return false, nil, 0
		}
		next = true
		replay = append(replay, e.frame)
		last = e.offset
	}
	if !next {
		return false, nil, 0
	}
	if len(replay) > rt.app.HistorySize {
		return false, nil, 0
	}
	return true, replay, last
}

// subscribeFrom subscribes c to topic of an app with history and writes, in one send so
// that no live message can come between, the welcome with the topic's position and, when
// since is set and the gap can be filled, every message after since: from this node's
// history, or else from read, what readBrokerHistory read back.
func (h *hub) subscribeFrom(c *conn, rt *appRuntime, topic string, since *StreamPosition, read *HistoryRead) (added, full bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if added, full = h.addSubscriptionLocked(c, topic, rt.limits.MaxSubscriptions); !added {
		return added, full
	}

	pos := StreamPosition{Epoch: h.streamEpoch()}
	now := h.deps.clock.now()
	hs := h.history
	hs.mu.Lock()
	hs.expireLocked(now, int64(rt.app.HistoryTTL))
	th := hs.topics[topic]
	if th != nil {
		pos = StreamPosition{Offset: th.last, Epoch: th.epoch}
	}
	recovered := false
	var replay [][]byte
	if since != nil {
		var kept []histEntry
		recovered, kept = localReplay(th, since)
		if th == nil && since.Offset == 0 && hs.forgot {
			recovered = false // the topic may be one whose history was forgotten
		}
		for _, e := range kept {
			replay = append(replay, e.frame)
		}
		if !recovered && read != nil {
			var last uint64
			if recovered, replay, last = brokerReplay(rt, topic, th, since, read, now); recovered {
				pos = StreamPosition{Offset: max(pos.Offset, last), Epoch: read.Epoch}
			}
		}
	}
	hs.mu.Unlock()
	data := make([]byte, 0, 96+len(topic))
	data = append(data, `{"topic":`...)
	data = appendJSONString(data, topic)
	data = append(data, `,"offset":`...)
	data = strconv.AppendUint(data, pos.Offset, 10)
	data = append(data, `,"epoch":`...)
	data = appendJSONString(data, pos.Epoch)
	if since != nil {
		data = append(data, `,"recovered":`...)
		data = strconv.AppendBool(data, recovered)
		data = append(data, `,"replayed":`...)
		data = strconv.AppendInt(data, int64(len(replay)), 10)
	}
	data = append(data, '}')
	buf := encodeServerFrame(topic, "welcome", data, false)
	if len(replay) > 0 {
		n := len(buf)
		for _, f := range replay {
			n += len(f)
		}
		out := make([]byte, 0, n)
		out = append(out, buf...)
		for _, f := range replay {
			out = append(out, f...)
		}
		buf = out
	}
	c.send(buf)
	return true, false
}
