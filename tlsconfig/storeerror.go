package tlsconfig

// StoreError is a failure to read one store: Store is its Name (for configuration, the
// store's key, e.g. "kete.routes.ws.destination.tls.trust-store"), so that a caller can
// point at the setting to fix without reading the message. Err says what went wrong and
// may wrap ErrWrongPassword.
type StoreError struct {
	Store string
	Err   error
}

func (e *StoreError) Error() string { return e.Store + ": " + e.Err.Error() }

func (e *StoreError) Unwrap() error { return e.Err }
