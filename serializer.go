package kete

// Serializer turns an event into the bytes a destination sends. Implementations live in
// package serializer; the root only names the contract so routes can hold one.
type Serializer interface {
	// Serialize appends the encoded event to dst and returns the extended slice, so a
	// route can reuse one buffer per send.
	Serialize(dst []byte, e *Event) ([]byte, error)
	// ContentType is the media type of what Serialize writes, e.g. application/json.
	ContentType() string
}

// UTF8Serializer is a Serializer whose output is valid UTF-8 whatever the event holds
// (the JSON encoders write invalid bytes as U+FFFD). A destination that must send valid
// UTF-8, such as WebSocket text frames, can then skip checking every body.
type UTF8Serializer interface {
	Serializer
	// AlwaysUTF8 marks the promise; it does nothing.
	AlwaysUTF8()
}
