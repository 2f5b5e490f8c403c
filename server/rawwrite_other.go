//go:build !unix

package server

import "net"

// rawWriter is unavailable off unix: every connection uses its writer goroutine.
type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (w *rawWriter) write(b []byte) (int, error) { return 0, nil }
