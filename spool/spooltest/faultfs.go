// Package spooltest holds a file system for testing the spool under faults: a disk that
// fills up, a write that stops part-way, an fsync that fails. Like testing/fstest, it
// stands in for the OS only where the OS cannot be made to fail on demand; everything it
// does not fail goes to real files.
package spooltest

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/kete-dev/kete/spool"
)

// FaultFS is the OS file system with faults switched on and off by a test. Its zero value
// fails nothing. It is safe for concurrent use.
type FaultFS struct {
	spool.OSFS

	mu        sync.Mutex
	root      string
	quota     int64 // 0: none
	failWrite int   // the failWrite-th write from now fails part-way (0: none)
	keep      int   // bytes that failing write keeps
	syncErr   error
	readErr   error
	writeErrs int
}

// SetQuota makes the files under root hold at most bytes: a write beyond it writes what
// fits and fails with ENOSPC, as a full disk does. 0 lifts the quota.
func (f *FaultFS) SetQuota(root string, bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root, f.quota = root, bytes
}

// FailWrite makes the n-th write from now (1: the next) write keep bytes and fail with
// ENOSPC.
func (f *FaultFS) FailWrite(n, keep int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWrite, f.keep = n, keep
}

// FailSyncs makes every fsync of a file fail with err until FailSyncs(nil).
func (f *FaultFS) FailSyncs(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncErr = err
}

// FailReads makes every read fail with err until FailReads(nil), as a failing disk does.
func (f *FaultFS) FailReads(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readErr = err
}

// WriteErrors counts the writes that failed.
func (f *FaultFS) WriteErrors() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeErrs
}

// Used is the bytes of regular files under root.
func Used(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// OpenFile opens name on the OS, with the faults in force.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (spool.File, error) {
	file, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	*os.File
	fs *FaultFS
}

// room is what a write of n bytes may put on disk, and whether it fails.
func (f *FaultFS) room(file *os.File, n int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWrite > 0 {
		if f.failWrite--; f.failWrite == 0 {
			f.writeErrs++
			return min(f.keep, n), true
		}
	}
	if f.quota > 0 {
		free := f.quota - Used(f.root)
		if int64(n) > free {
			f.writeErrs++
			return int(max(free, 0)), true
		}
	}
	return n, false
}

func (w *faultFile) Write(p []byte) (int, error) {
	n, fail := w.fs.room(w.File, len(p))
	if !fail {
		return w.File.Write(p)
	}
	if n > 0 {
		if m, err := w.File.Write(p[:n]); err != nil {
			return m, err
		}
	}
	return n, &os.PathError{Op: "write", Path: w.Name(), Err: syscall.ENOSPC}
}

func (w *faultFile) Sync() error {
	w.fs.mu.Lock()
	err := w.fs.syncErr
	w.fs.mu.Unlock()
	if err != nil {
		if info, serr := w.Stat(); serr == nil && !info.IsDir() {
			return &os.PathError{Op: "sync", Path: w.Name(), Err: err}
		}
	}
	return w.File.Sync()
}

func (w *faultFile) ReadAt(p []byte, off int64) (int, error) {
	w.fs.mu.Lock()
	err := w.fs.readErr
	w.fs.mu.Unlock()
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: w.Name(), Err: err}
	}
	return w.File.ReadAt(p, off)
}
