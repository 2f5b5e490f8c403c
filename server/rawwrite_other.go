//go:build !unix

package server

import (
	"net"
	"sync"
)

// rawWriter is unavailable off unix: every connection uses its writer goroutine.
type rawWriter struct{}

func newRawWriter(net.Conn) rawWriter { return rawWriter{} }

func (rawWriter) ok() bool { return false }

func newRawWriteOp() any { return nil }

func (rawWriter) write(*sync.Pool, []byte) (int, error) { return 0, nil }
