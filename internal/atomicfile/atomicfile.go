// Package atomicfile replaces a file whole or not at all, so a crash mid-write leaves
// either the old content or the new, never a torn mix: the spool's cursors and dead
// letters and the poller's state depend on that.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// FS is what WriteFileFS needs of a file system. The spool passes its own (which tests
// replace with one that fails a write part-way or fills the disk), so that its atomic
// writes meet the same faults as the rest of it.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
}

// File is what WriteFileFS needs of an open file; *os.File has it.
type File interface {
	io.WriteCloser
	Sync() error
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File inside a File would not compare equal to nil
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func (osFS) Remove(name string) error { return os.Remove(name) }

// WriteFile is WriteFileFS on the operating system's file system.
func WriteFile(path string, data []byte, sync bool) error {
	return WriteFileFS(osFS{}, path, data, sync)
}

// WriteFileFS writes data to a temporary file beside path, syncs it when sync is set, and
// renames it over path. With sync, the directory is synced too, so the rename itself
// survives a power cut. On failure the temporary file is removed and path is untouched.
func WriteFileFS(fsys FS, path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		fsys.Remove(tmp)
		return err
	}
	if sync {
		SyncDirFS(fsys, filepath.Dir(path))
	}
	return nil
}

// SyncDirFS syncs a directory so that the entries created or renamed in it are durable.
// Errors are ignored: some file systems cannot sync a directory.
func SyncDirFS(fsys FS, dir string) {
	if d, err := fsys.OpenFile(dir, os.O_RDONLY, 0); err == nil {
		d.Sync()
		d.Close()
	}
}
