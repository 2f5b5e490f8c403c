package spool

import (
	"io"
	"os"
	"path/filepath"
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

// writeFileAtomic replaces path whole or not at all (temporary file, sync, rename, sync
// of the directory), through fsys: the spool's cursors depend on it.
func writeFileAtomic(fsys FS, path string, data []byte, sync bool) error {
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
		syncDir(fsys, filepath.Dir(path))
	}
	return nil
}

// syncDir makes the entries created or renamed in dir durable. Errors are ignored: some
// file systems cannot sync a directory.
func syncDir(fsys FS, dir string) {
	if d, err := fsys.OpenFile(dir, os.O_RDONLY, 0); err == nil {
		d.Sync()
		d.Close()
	}
}
