//go:build unix

package server

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// rawWriter writes to a TCP socket without blocking: one write(2) that takes what the
// kernel's send buffer has room for. It lets the fan-out write straight from the
// dispatcher, with no goroutine woken per delivery, and fall back to a writer goroutine
// only for a connection whose socket is full.
//
// Every connection keeps one, so it holds only the socket; the state of a write in
// progress is a rawWriteOp borrowed from the server's pool for the call.
type rawWriter struct {
	rc syscall.RawConn
}

// newRawWriter returns a writer that is not ok where the connection is not a plain TCP
// socket (TLS).
func newRawWriter(c net.Conn) rawWriter {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return rawWriter{}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return rawWriter{}
	}
	return rawWriter{rc: rc}
}

// ok reports whether w can write (the connection is a plain TCP socket).
func (w rawWriter) ok() bool { return w.rc != nil }

// rawWriteOp carries one write's buffer and result through syscall.RawConn.Write.
type rawWriteOp struct {
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool // built once so that a write allocates nothing
}

// newRawWriteOp is the New of the server's pool of rawWriteOps.
func newRawWriteOp() any {
	op := &rawWriteOp{}
	op.fn = func(fd uintptr) bool {
		for {
			n, err := syscall.Write(int(fd), op.buf)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if errors.Is(err, syscall.EAGAIN) {
				n, err = 0, nil
			}
			if n < 0 {
				n = 0
			}
			op.n, op.err = n, err
			return true
		}
	}
	return op
}

// write writes what fits of b now and returns how much; the caller serialises calls on
// one connection. ops is the server's pool of rawWriteOps.
func (w rawWriter) write(ops *sync.Pool, b []byte) (int, error) {
	op := ops.Get().(*rawWriteOp)
	op.buf = b
	err := w.rc.Write(op.fn)
	n, werr := op.n, op.err
	op.buf, op.n, op.err = nil, 0, nil
	ops.Put(op)
	if err != nil {
		return 0, err
	}
	return n, werr
}
