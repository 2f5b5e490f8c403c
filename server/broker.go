package server

import (
	"context"
	"errors"
	"sync"
)

// Message is one publication as it travels through a Broker. It is plain data with JSON
// tags so that a broker spanning nodes (NATS) can carry it as it is.
type Message struct {
	// MessageType is the frame's messageType ("broadcast" when empty).
	MessageType string `json:"messageType,omitempty"`
	// Data is the frame's data value, valid JSON, delivered as it is.
	Data []byte `json:"data"`
	// Binary delivers the frame as a binary WebSocket frame (the protocol's compress:true).
	Binary bool `json:"binary,omitempty"`
	// Origin names who published (connection id, "api", "ingest"), for audit lines only.
	Origin string `json:"origin,omitempty"`
	// Node is the id of the server node that published, so that a node can tell its own
	// messages from others' (cluster commands, ingest de-duplication).
	Node string `json:"node,omitempty"`
	// History asks the broker to keep the message in its topic's history (the app has
	// historySize > 0). A broker that orders history itself stamps Offset and Epoch.
	History bool `json:"history,omitempty"`
	// DedupID is an ingest frame's id: every node drops a message whose DedupID it has
	// seen within the app's dedupWindow, so a resend to another node is not delivered twice.
	DedupID string `json:"dedupId,omitempty"`
	// Offset and Epoch place the message in its topic's history when the broker numbers
	// history for every node (NATS JetStream); zero otherwise, and the hub numbers it.
	Offset uint64 `json:"offset,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
}

// Handler receives every message published through a Broker, on any node. It may block
// for back-pressure until ctx is done, and returns an error when it could not take it.
type Handler func(ctx context.Context, appID, topic string, msg Message) error

// Broker carries publications between publishers and the hubs that fan them out. The hub
// subscribes once and never learns which broker it runs on; the memory broker serves one
// node, a NATS broker (natsbroker) many. What else a broker can do it says through
// optional capabilities, one small interface each: Controller (it spans nodes),
// ReadyReporter, HistoryBroker, HistoryReader, GroupBroker.
type Broker interface {
	// Publish hands msg to every subscribed Handler (here or on other nodes). It returns
	// once the broker has taken it, or with ctx's error or a handler's back-pressure error.
	Publish(ctx context.Context, appID, topic string, msg Message) error
	// Subscribe registers h for every message published from now on, and returns a
	// function that removes it.
	Subscribe(h Handler) (unsubscribe func(), err error)
	// Close stops the broker; Publish fails with ErrBrokerClosed afterwards.
	Close() error
}

// Controller is the optional capability of a Broker that spans nodes: it carries the
// servers' node-to-node messages (cluster commands, the roster's heartbeats and holders)
// on a channel of their own, apart from every app's publications, as centrifuge's
// PublishControl does. A Broker that reaches other nodes implements it; one that serves a
// single node (the memory broker) does not, and the server then runs no cluster parts.
//
// Control messages of one node reach every other node in the order that node sent them;
// they are not ordered with publications. A node does not receive its own.
type Controller interface {
	// PublishControl hands data to the ControlHandlers of every other node. It returns
	// once the broker has taken it, or with ctx's error, or ErrBrokerClosed.
	PublishControl(ctx context.Context, data []byte) error
	// SubscribeControl registers h for every control message of another node from now
	// on, and returns a function that removes it.
	SubscribeControl(h ControlHandler) (unsubscribe func(), err error)
}

// ControlHandler receives one control message of another node, from the broker's delivery
// goroutine (one at a time, in arrival order). data is the handler's to keep; ctx ends
// when the broker closes.
type ControlHandler func(ctx context.Context, data []byte)

// ReadyReporter is the optional capability of a Broker that can lose its connection
// (natsbroker): while Ready is false the server reports not-ready on /readyz, and the
// roster announces this node again when it turns true. A Broker without it is always ready.
type ReadyReporter interface {
	Ready() bool
}

// ErrBrokerClosed is returned by Publish and Subscribe on a closed broker.
var ErrBrokerClosed = errors.New("server: broker closed")

// MemoryBroker is the single-node Broker: Publish calls every handler in the caller's
// goroutine, so a message is in the hub's queue when Publish returns.
type MemoryBroker struct {
	mu       sync.RWMutex
	handlers map[int]Handler
	next     int
	closed   bool
}

// NewMemoryBroker returns an empty, open MemoryBroker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{handlers: make(map[int]Handler)}
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, appID, topic string, msg Message) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBrokerClosed
	}
	var first error
	for _, h := range b.handlers {
		if err := h(ctx, appID, topic, msg); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(h Handler) (func(), error) {
	if h == nil {
		return nil, errors.New("server: nil broker handler")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBrokerClosed
	}
	id := b.next
	b.next++
	b.handlers[id] = h
	return func() {
		b.mu.Lock()
		delete(b.handlers, id)
		b.mu.Unlock()
	}, nil
}

// Close implements Broker.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	b.closed = true
	clear(b.handlers)
	b.mu.Unlock()
	return nil
}

// GroupBroker is an optional capability of a Broker that spans nodes: it keeps the durable
// consumer groups of the Drogue endpoint (groups.go) itself, so that the members of one
// group on every node share its messages and its position outlives every node. A hub
// whose broker has it uses it for groups with a group_id of apps that keep history; other
// groups stay on the node (memory).
type GroupBroker interface {
	// JoinGroup makes one member of the group (appID, channel — "" for every topic —,
	// group). The broker calls deliver from one goroutine, in order, with each message it
	// hands this member alone; a message is taken when deliver returns nil, and handed to
	// another member when it returns an error. leave ends the membership (without waiting);
	// what the member was handed and did not take goes to the other members. JoinGroup
	// fails with ErrNoGroups when the broker cannot keep groups (then the node keeps them).
	JoinGroup(ctx context.Context, appID, channel, group string, deliver func(topic string, msg Message) error) (leave func(), err error)
}

// ErrNoGroups is JoinGroup's answer when the broker keeps no consumer groups.
var ErrNoGroups = errors.New("server: broker keeps no consumer groups")
