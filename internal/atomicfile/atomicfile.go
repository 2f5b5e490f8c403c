// Package atomicfile replaces a file whole or not at all, so a crash mid-write leaves
// either the old content or the new, never a torn mix: the spool's cursors and dead
// letters and the poller's state depend on that.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to a temporary file beside path, syncs it when sync is set, and
// renames it over path. With sync, the directory is synced too, so the rename itself
// survives a power cut.
func WriteFile(path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
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
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if sync {
		SyncDir(filepath.Dir(path))
	}
	return nil
}

// SyncDir syncs a directory so that the entries created or renamed in it are durable.
// Errors are ignored: some file systems cannot sync a directory.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
