package kete

import "errors"

// A failure is permanent when sending the same event to the same destination again cannot
// succeed: what failed is a function of the event and the route's configuration, not of
// the moment. Examples: a serializer or a URL template that fails on this event, a body
// that is not valid UTF-8 where text frames need it, a server that answers the handshake
// with 403 Forbidden, or closes the connection with 1009 (message too big) for this frame.
//
// Everything else is transient and worth retrying: a refused or lost connection, a
// timeout, a server that is busy or restarting (5xx, 429), a token it does not accept yet.
//
// Retrying a permanent failure does harm: the event holds its route's place while the
// retries run, and a durable queue behind it fills up until intake stops. So whoever
// retries (destination.WithRetry, the daemon) gives up on a permanent failure at once,
// and the daemon puts the event in its route's dead-letter file, with the reason, to be
// replayed once the cause is fixed.
type PermanentError struct{ Err error }

// Error is the wrapped error's text: marking an error permanent does not change its message.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap lets errors.Is and errors.As see the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as a failure that no retry can cure; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
