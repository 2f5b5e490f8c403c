package server

import "hash/fnv"

// The roster's messages as they travel between nodes (inside a controlMsg, cluster.go),
// and the values they carry.

// Roster operations.
const (
	rosterHeartbeat = "heartbeat"
	rosterHeld      = "held"
	rosterReleased  = "released"
	rosterHolders   = "holders"
	rosterHello     = "hello"
	rosterBye       = "bye"
)

// rosterPartBytes bounds one holders message (NATS' default max payload is 1 MiB).
const rosterPartBytes = 256 << 10

// rosterMsg is one roster message.
type rosterMsg struct {
	Op       string               `json:"op"`
	To       string               `json:"to,omitempty"`
	Interval int64                `json:"intervalMs,omitempty"`
	First    bool                 `json:"first,omitempty"`
	Holders  []holder             `json:"holders,omitempty"`
	Apps     map[string]appCounts `json:"apps,omitempty"`
	Held     *digest              `json:"held,omitempty"`
}

// holder is a connection of an app with the reject policy.
type holder struct {
	App     string `json:"app"`
	Subject string `json:"subject"`
	Conn    string `json:"conn"`
	Opened  int64  `json:"opened"` // unix nanoseconds, on the holding node's clock
	Node    string `json:"-"`      // the holding node (the message's sender)
}

// later reports whether a was opened after b, in the order every node agrees on.
func later(a, b holder) bool {
	if a.Opened != b.Opened {
		return a.Opened > b.Opened
	}
	if a.Node != b.Node {
		return a.Node > b.Node
	}
	return a.Conn > b.Conn
}

// digest sums up a set of holders: how many, and the XOR of their hashes.
type digest struct {
	N int    `json:"n"`
	X uint64 `json:"x"`
}

func (d *digest) add(h holder, delta int) {
	f := fnv.New64a()
	_, _ = f.Write([]byte(h.App))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(h.Subject))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(h.Conn))
	d.N += delta
	d.X ^= f.Sum64()
}

// appCounts is one app's figures on one node, as a heartbeat carries them.
type appCounts struct {
	Connections   int             `json:"c,omitempty"`
	Subscriptions int             `json:"s,omitempty"`
	Telemetry     []telemetryWire `json:"t,omitempty"`
}

// telemetryWire is a telemetry bucket in a heartbeat.
type telemetryWire struct {
	Start       int64 `json:"at"`
	Ops         int64 `json:"o"`
	Bytes       int64 `json:"b"`
	Subscribers int64 `json:"s"`
}
