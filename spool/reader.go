package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kete-dev/kete/internal/atomicfile"
)

// Reader is one route's cursor. Next hands out records in order; Ack marks one delivered.
// Acks may come out of order (a route may deliver several records at once): the saved
// position is the lowest record not yet acknowledged. A Reader is used by one goroutine
// for Next; Ack may be called from others.
type Reader struct {
	s     *Spool
	route string

	// Guarded by s.mu.
	next    uint64 // offset Next returns next
	ackBase uint64 // lowest unacknowledged offset
	acked   []bool // acked[i] is offset ackBase+i, for offsets handed out
	saved   uint64 // position last written to disk

	// Owned by the goroutine calling Next.
	file     *os.File
	buf      *bufio.Reader
	fileBase uint64 // base offset of the open segment
	filePos  uint64 // offset of the record the file is positioned at
	scratch  []byte
}

// Reader returns the cursor of route, which must be one of Options.Routes. Calling it
// twice for a route returns the same Reader.
func (s *Spool) Reader(route string) (*Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !slices.Contains(s.opts.Routes, route) {
		return nil, fmt.Errorf("spool: route %q is not one of the spool's routes %v", route, s.opts.Routes)
	}
	if r := s.readers[route]; r != nil {
		return r, nil
	}
	pos := s.positionLocked(route)
	r := &Reader{s: s, route: route, next: pos, ackBase: pos, saved: pos}
	s.readers[route] = r
	return r, nil
}

// positionLocked is where route resumes: its live reader, its saved cursor, or the end.
func (s *Spool) positionLocked(route string) uint64 {
	if r := s.readers[route]; r != nil {
		return r.ackBase
	}
	if pos, ok := s.cursors[route]; ok {
		return max(pos, s.segments[0].base)
	}
	return s.written
}

// Next returns the next record, waiting until one is durable or ctx ends.
func (r *Reader) Next(ctx context.Context) (Record, error) {
	s := r.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			r.closeFile()
			return Record{}, ErrClosed
		}
		if r.next < s.durable {
			off := r.next
			seg := s.segmentForLocked(off)
			s.mu.Unlock()
			if seg == nil {
				return Record{}, fmt.Errorf("spool: route %s: offset %d is no longer on disk", r.route, off)
			}
			data, err := r.read(seg, off)
			if err != nil {
				return Record{}, fmt.Errorf("spool: route %s: offset %d: %w", r.route, off, err)
			}
			s.mu.Lock()
			r.next++
			r.acked = append(r.acked, false)
			s.mu.Unlock()
			return Record{Offset: off, Data: data}, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
}

func (s *Spool) segmentForLocked(off uint64) *segment {
	i, found := slices.BinarySearchFunc(s.segments, off, func(seg *segment, off uint64) int {
		switch {
		case off < seg.base:
			return 1
		case off >= seg.next && seg != s.segments[len(s.segments)-1]:
			return -1
		}
		return 0
	})
	if !found {
		return nil
	}
	return s.segments[i]
}

// read returns a copy of the record at off, which lies in seg.
func (r *Reader) read(seg *segment, off uint64) ([]byte, error) {
	if r.file == nil || r.fileBase != seg.base || r.filePos != off {
		if err := r.open(seg, off); err != nil {
			return nil, err
		}
	}
	data, _, err := readRecord(r.buf, r.scratch)
	r.scratch = data[:0]
	if err != nil {
		r.closeFile()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.filePos++
	return slices.Clone(data), nil
}

// open positions the reader's file at off within seg, skipping earlier records.
func (r *Reader) open(seg *segment, off uint64) error {
	r.closeFile()
	f, err := os.Open(seg.path)
	if err != nil {
		return err
	}
	r.file, r.buf, r.fileBase, r.filePos = f, bufio.NewReaderSize(f, 64<<10), seg.base, seg.base
	for r.filePos < off {
		data, _, err := readRecord(r.buf, r.scratch)
		r.scratch = data[:0]
		if err != nil {
			r.closeFile()
			return err
		}
		r.filePos++
	}
	return nil
}

func (r *Reader) closeFile() {
	if r.file != nil {
		r.file.Close()
		r.file, r.buf = nil, nil
	}
}

// Ack marks the record at offset delivered (or dead-lettered). Acking an offset that
// Next has not returned, or twice, does nothing.
func (r *Reader) Ack(offset uint64) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset < r.ackBase || offset >= r.next {
		return
	}
	r.acked[offset-r.ackBase] = true
	n := 0
	for n < len(r.acked) && r.acked[n] {
		n++
	}
	if n > 0 {
		r.acked = append(r.acked[:0], r.acked[n:]...)
		r.ackBase += uint64(n)
	}
}

// Position is the lowest offset not yet acknowledged: where the route resumes after a
// restart.
func (r *Reader) Position() uint64 {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.ackBase
}

// Rewind makes Next hand out again every record from the lowest unacknowledged one, for
// a route whose in-flight sends were lost (a destination that reconnected).
func (r *Reader) Rewind() {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.next = r.ackBase
	r.acked = r.acked[:0]
}

func cursorPath(dir, route string) string {
	return filepath.Join(dir, "cursors", url.PathEscape(route))
}

func (s *Spool) loadCursors() error {
	for _, route := range s.opts.Routes {
		b, err := os.ReadFile(cursorPath(s.opts.Dir, route))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("spool: cursor of route %s: %w", route, err)
		}
		pos, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return fmt.Errorf("spool: cursor of route %s: %q is not an offset", route, b)
		}
		s.cursors[route] = min(pos, s.written)
	}
	// A route whose cursor file is missing starts at the end; save that now so a crash
	// before its first ack does not make it skip what arrives meanwhile.
	for _, route := range s.opts.Routes {
		if _, ok := s.cursors[route]; !ok {
			s.cursors[route] = s.written
			if err := writeCursor(s.opts.Dir, route, s.written, !s.opts.NoSync); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeCursor(dir, route string, pos uint64, sync bool) error {
	if err := atomicfile.WriteFile(cursorPath(dir, route), []byte(strconv.FormatUint(pos, 10)+"\n"), sync); err != nil {
		return fmt.Errorf("spool: cursor of route %s: %w", route, err)
	}
	return nil
}

// saveCursors writes every cursor that moved, then deletes the segments all routes have
// passed. The files are written outside the lock, so appends never wait for them.
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
		if err := writeCursor(s.opts.Dir, m.route, m.pos, !s.opts.NoSync); err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		m.r.saved = m.pos
		s.cursors[m.route] = m.pos
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	low := s.written
	for _, route := range s.opts.Routes {
		low = min(low, s.cursors[route])
	}
	for len(s.segments) > 1 && s.segments[0].next <= low {
		seg := s.segments[0]
		if err := os.Remove(seg.path); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("spool: remove %s: %w", seg.path, err))
			break
		}
		s.bytes -= seg.size
		s.segments = s.segments[1:]
		s.signalLocked()
	}
	return errors.Join(errs...)
}

func (s *Spool) cursorLoop() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.CursorSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.saveCursors(); err != nil {
			s.opts.Logger.Error("spool: saving cursors", "err", err)
		}
	}
}
