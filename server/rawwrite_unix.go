//go:build unix

package server

import (
	"errors"
	"net"
	"syscall"
)

// rawWriter writes to a TCP socket without blocking: one write(2) that takes what the
// kernel's send buffer has room for. It lets the fan-out write straight from the
// dispatcher, with no goroutine woken per delivery, and fall back to a writer goroutine
// only for a connection whose socket is full.
type rawWriter struct {
	rc  syscall.RawConn
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool // built once so that a write allocates nothing
}

// newRawWriter returns nil where the connection is not a plain TCP socket (TLS).
func newRawWriter(c net.Conn) *rawWriter {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.fn = func(fd uintptr) bool {
		for {
			n, err := syscall.Write(int(fd), w.buf)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if errors.Is(err, syscall.EAGAIN) {
				n, err = 0, nil
			}
			if n < 0 {
				n = 0
			}
			w.n, w.err = n, err
			return true
		}
	}
	return w
}

// write writes what fits of b now and returns how much; the caller serialises calls.
func (w *rawWriter) write(b []byte) (int, error) {
	w.buf = b
	err := w.rc.Write(w.fn)
	w.buf = nil
	if err != nil {
		return 0, err
	}
	return w.n, w.err
}
