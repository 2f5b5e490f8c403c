package spool

import (
	"io"
	"os"

	"github.com/kete-dev/kete/internal/atomicfile"
)

// FS is the file system the spool keeps its segments and cursors in. The default is the
// operating system's; tests put a layer between that fails a write part-way, fills the
// disk or loses a file (spool/spooltest.FaultFS), the way testing/fstest stands in for a
// read-only fs.FS. Dead letters and the directory lock always use the OS.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	ReadDir(name string) ([]os.DirEntry, error)
	MkdirAll(name string, perm os.FileMode) error
	Rename(oldname, newname string) error
	Remove(name string) error
}

// File is what the spool needs of an open file; *os.File has it.
type File interface {
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// OSFS is the operating system's file system, the default FS.
type OSFS struct{}

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File inside a File would not compare equal to nil
	}
	return f, nil
}

// ReadDir lists name with os.ReadDir.
func (OSFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll creates name with os.MkdirAll.
func (OSFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }

// Rename renames with os.Rename.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Remove removes name with os.Remove.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// atomicFS lets internal/atomicfile write through the spool's FS, so that cursor and
// reserve writes meet the faults tests inject: the two FS interfaces differ only in the
// File interface OpenFile returns.
type atomicFS struct{ FS }

func (a atomicFS) OpenFile(name string, flag int, perm os.FileMode) (atomicfile.File, error) {
	f, err := a.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not f: an FS may return a typed nil File with its error
	}
	return f, nil
}

// writeFileAtomic replaces path whole or not at all (temporary file, sync, rename, sync
// of the directory), through fsys: the spool's cursors depend on it.
func writeFileAtomic(fsys FS, path string, data []byte, sync bool) error {
	return atomicfile.WriteFileFS(atomicFS{fsys}, path, data, sync)
}

// syncDir makes the entries created or renamed in dir durable, through fsys.
func syncDir(fsys FS, dir string) { atomicfile.SyncDirFS(atomicFS{fsys}, dir) }
