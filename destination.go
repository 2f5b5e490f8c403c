package kete

import "context"

// Destination takes serialized events somewhere: a WebSocket server, a test sink.
//
// Send returns only when the destination has taken the event (a frame written, or an ack
// received where the destination waits for one); a nil error is what lets a durable
// source forget the event. Send must not keep body after it returns: callers reuse it.
type Destination interface {
	Send(ctx context.Context, e *Event, body []byte) error
	// Close releases connections; Send after Close fails.
	Close() error
}

// DestinationFunc adapts a function to Destination, for tests and small sinks.
type DestinationFunc func(ctx context.Context, e *Event, body []byte) error

// Send calls f.
func (f DestinationFunc) Send(ctx context.Context, e *Event, body []byte) error {
	return f(ctx, e, body)
}

// Close does nothing.
func (f DestinationFunc) Close() error { return nil }
