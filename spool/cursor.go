package spool

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func cursorPath(dir, route string) string {
	return filepath.Join(dir, "cursors", url.PathEscape(route))
}

func (s *Spool) readSmallFile(path string) ([]byte, error) {
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 64)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// loadCursors sets where each route resumes. A route without a cursor file starts at the
// oldest record kept (a lost cursor must not skip the backlog); a cursor past the end is
// an error (the spool is not the one the cursor was written for, or lost its newest
// records); a cursor below the oldest record kept means records the route never
// acknowledged are gone, which is reported.
func (s *Spool) loadCursors() error {
	oldest := s.segments[0].base
	for _, route := range s.opts.Routes {
		path := cursorPath(s.opts.Dir, route)
		b, err := s.readSmallFile(path)
		if errors.Is(err, os.ErrNotExist) {
			if s.written > oldest {
				s.opts.Logger.Warn("spool: route has no cursor; it starts at the oldest record kept so that nothing waiting is skipped (records other routes delivered may come again)",
					"route", route, "cursor", path, "from", oldest, "records", s.written-oldest)
			}
			s.cursors[route] = oldest
			continue
		}
		if err != nil {
			return fmt.Errorf("spool: cursor of route %s: %w", route, err)
		}
		pos, ok := parseCursor(b)
		if !ok {
			// A damaged cursor cannot be trusted either way; from the oldest record nothing
			// is skipped.
			s.opts.Logger.Warn("spool: route's cursor is damaged; it starts at the oldest record kept so that nothing waiting is skipped",
				"route", route, "cursor", path, "content", fmt.Sprintf("%q", b), "from", oldest)
			s.cursors[route] = oldest
			continue
		}
		if pos > s.written {
			return fmt.Errorf("spool: cursor of route %s in %s is %d, past the end of the spool (%d): the spool lost its newest records or the cursor belongs to another spool; remove the file to start the route at the oldest record kept (%d)",
				route, path, pos, s.written, oldest)
		}
		if pos < oldest {
			s.damage.report(s, Damage{FirstLost: pos, NextGood: oldest, Missing: true}, nil)
			s.opts.Logger.Warn("spool: route's cursor is below the oldest record kept; it resumes there", "route", route, "cursor", path, "at", pos, "oldest", oldest)
			pos = oldest
		}
		s.cursors[route] = pos
	}
	return nil
}

// A cursor file holds the offset in decimal and its CRC-32C, "1234 5f3a0c21\n", so that
// a flipped digit is not taken for a position. Files without the CRC (written before) are
// read as the bare offset.
func formatCursor(pos uint64) []byte {
	digits := strconv.FormatUint(pos, 10)
	return fmt.Appendf(nil, "%s %08x\n", digits, crc32.Checksum([]byte(digits), castagnoli))
}

func parseCursor(b []byte) (uint64, bool) {
	fields := strings.Fields(string(b))
	if len(fields) == 0 || len(fields) > 2 {
		return 0, false
	}
	pos, err := strconv.ParseUint(fields[0], 10, 64)
	if err != nil {
		return 0, false
	}
	if len(fields) == 2 && fields[1] != fmt.Sprintf("%08x", crc32.Checksum([]byte(fields[0]), castagnoli)) {
		return 0, false
	}
	return pos, true
}

func (s *Spool) writeCursor(route string, pos uint64) error {
	if err := writeFileAtomic(s.fs, cursorPath(s.opts.Dir, route), formatCursor(pos), !s.opts.NoSync); err != nil {
		return fmt.Errorf("spool: cursor of route %s: %w", route, err)
	}
	return nil
}

// overwriteCursor writes the cursor over the old one in place, for a full disk on which
// a new file cannot be made: the blocks are there already. A write torn by a crash fails
// the CRC and the route starts at the oldest record, which replays but skips nothing.
func (s *Spool) overwriteCursor(route string, pos uint64, cause error) error {
	path := cursorPath(s.opts.Dir, route)
	f, err := s.fs.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return cause
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return cause
	}
	b := formatCursor(pos)
	for int64(len(b)) < st.Size() {
		b = append(b, ' ') // cover what is left of a longer old content
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("%w (and in place: %w)", cause, err)
	}
	if !s.opts.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("%w (and in place: %w)", cause, err)
		}
	}
	return nil
}

// saveCursors writes every cursor that moved, then deletes the segments all routes have
// passed. The files are written outside the lock, so appends never wait for them. When a
// cursor cannot be written (a full disk), it is written over the old one in place, or
// else the reserve is freed for it: that lets passed segments go, which is how a spool on
// a full disk recovers.
func (s *Spool) saveCursors() error {
	type moved struct {
		route string
		r     *Reader
		pos   uint64
	}
	s.mu.Lock()
	var todo []moved
	for route, r := range s.readers {
		if r.ackBase != r.saved {
			todo = append(todo, moved{route, r, r.ackBase})
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, m := range todo {
		err := s.writeCursor(m.route, m.pos)
		if err != nil {
			err = s.overwriteCursor(m.route, m.pos, err)
		}
		if err != nil && s.releaseReserve() {
			err = s.writeCursor(m.route, m.pos)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		m.r.saved = m.pos
		s.cursors[m.route] = m.pos
		s.mu.Unlock()
	}
	s.mu.Lock()
	low := s.written
	for _, route := range s.opts.Routes {
		low = min(low, s.cursors[route])
	}
	freed := false
	for len(s.segments) > 1 && s.segments[0].next <= low {
		seg := s.segments[0]
		if err := s.fs.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("spool: remove %s: %w", seg.path, err))
			break
		}
		s.bytes -= seg.size
		s.segments = s.segments[1:]
		freed = true
		s.signalLocked()
	}
	s.mu.Unlock()
	if freed {
		s.keepReserve()
	}
	return errors.Join(errs...)
}

func (s *Spool) reservePath() string { return filepath.Join(s.opts.Dir, "reserve") }

// keepReserve makes sure the reserve file exists, if there is room for it.
func (s *Spool) keepReserve() {
	s.mu.Lock()
	have := s.reserved
	s.mu.Unlock()
	if have {
		return
	}
	path := s.reservePath()
	if f, err := s.fs.OpenFile(path, os.O_RDONLY, 0); err == nil {
		st, err := f.Stat()
		f.Close()
		if err == nil && st.Size() >= s.opts.ReserveBytes {
			s.setReserved(true)
			return
		}
	}
	if err := writeFileAtomic(s.fs, path, make([]byte, s.opts.ReserveBytes), !s.opts.NoSync); err != nil {
		s.opts.Logger.Warn("spool: cannot keep room in reserve for cursors", "path", path, "bytes", s.opts.ReserveBytes, "err", err)
		return
	}
	s.setReserved(true)
}

func (s *Spool) setReserved(v bool) {
	s.mu.Lock()
	s.reserved = v
	s.mu.Unlock()
}

// releaseReserve deletes the reserve and reports whether there was one to free.
func (s *Spool) releaseReserve() bool {
	s.mu.Lock()
	have := s.reserved
	s.reserved = false
	s.mu.Unlock()
	if !have {
		return false
	}
	if err := s.fs.Remove(s.reservePath()); err != nil {
		return false
	}
	s.opts.Logger.Warn("spool: the disk is full; freed the reserve to save cursors", "path", s.reservePath())
	return true
}

func (s *Spool) cursorLoop() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.CursorSyncInterval)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.keepActiveSegment()
		if err := s.saveCursors(); err != nil && time.Since(lastLog) >= s.opts.FailureLogInterval {
			lastLog = time.Now()
			s.opts.Logger.Error("spool: saving cursors", "err", err, "every", s.opts.FailureLogInterval)
		}
	}
}
