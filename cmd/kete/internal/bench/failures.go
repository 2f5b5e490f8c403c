package bench

import (
	"sync"
	"sync/atomic"
)

// failures counts the failed attempts of concurrent workers and keeps the first error,
// for the report.
type failures struct {
	n     atomic.Int64
	mu    sync.Mutex
	first error
}

// add counts err and keeps it when it is the first.
func (f *failures) add(err error) {
	f.n.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first == nil {
		f.first = err
	}
}

// firstErr is the first error added (nil: none).
func (f *failures) firstErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}
