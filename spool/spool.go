// Package spool is kete's durable queue: events that a source has acknowledged live here
// until every route has delivered them, so that neither a dead destination nor a killed
// daemon loses one.
//
// Records are appended to segment files, each record framed as
//
//	uint32 length | uint32 CRC-32C of the data | data
//
// Append returns only once its records are fsync'd; concurrent appenders share one fsync
// (group commit). Each route reads with its own cursor, stored in cursors/<route> and
// written atomically, so a restart resumes where each route left off. A cursor is saved
// after the records before it were acknowledged, which makes delivery at-least-once: a
// crash can replay the last few records of a route, never skip one. A segment is deleted
// once every route's cursor has passed it. When the segments on disk would exceed
// MaxBytes, Append fails with ErrFull and the source pushes back; nothing is dropped.
package spool

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kete-dev/kete/internal/atomicfile"
)

// ErrFull means the spool holds MaxBytes already: the caller should push back (HTTP 503)
// and try again once routes have caught up.
var ErrFull = errors.New("spool: full")

// ErrClosed is returned by every call on a closed spool.
var ErrClosed = errors.New("spool: closed")

// ErrCorrupt marks a record whose checksum does not match: a disk fault, not a torn write
// (torn tails are repaired when the spool opens).
var ErrCorrupt = errors.New("spool: corrupt record")

const (
	headerSize    = 8
	segmentPrefix = "seg-"
	segmentSuffix = ".log"
	// MaxRecordBytes bounds one record so a corrupt length cannot make a reader allocate
	// gigabytes.
	MaxRecordBytes = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configures a spool. The zero value of every field but Dir has a default.
type Options struct {
	// Dir holds segments, cursors and dead letters; created if missing.
	Dir string
	// MaxBytes bounds the segments on disk (default 1 GiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment starts (default 64 MiB, at most
	// MaxBytes/4 so that deleting passed segments frees room in steps).
	SegmentBytes int64
	// Routes names every route that reads the spool. A segment is kept until all of them
	// have passed it. A route seen for the first time starts at the end: it gets events
	// appended from now on, not the history.
	Routes []string
	// CursorSyncInterval bounds how long an acknowledged position may stay unsaved
	// (default 100ms): after a crash at most that much is delivered again.
	CursorSyncInterval time.Duration
	// NoSync skips fsync, for benchmarks that measure everything but the disk.
	NoSync bool
	Logger *slog.Logger
}

func (o *Options) withDefaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.SegmentBytes > o.MaxBytes/4 && o.MaxBytes >= 4*headerSize {
		o.SegmentBytes = max(o.MaxBytes/4, 1)
	}
	if o.CursorSyncInterval <= 0 {
		o.CursorSyncInterval = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Record is one spooled event as a reader sees it.
type Record struct {
	// Offset is the record's position in the spool, counting from 0 over its lifetime.
	Offset uint64
	Data   []byte
}

type segment struct {
	base uint64 // offset of its first record
	path string
	size int64
	next uint64 // offset after its last record
}

// Spool is a durable, multi-reader queue on disk. It is safe for concurrent use.
type Spool struct {
	opts Options

	mu       sync.Mutex
	dlMu     sync.Mutex // serialises dead-letter writes without holding up appends
	closed   bool
	segments []*segment // oldest first; the last is active
	active   *os.File
	written  uint64 // next offset to write
	durable  uint64 // records below this are fsync'd
	bytes    int64  // sum of segment sizes
	syncErr  error
	changed  chan struct{} // closed and replaced whenever durable grows
	readers  map[string]*Reader
	cursors  map[string]uint64 // saved position per route
	syncWake chan struct{}

	stop chan struct{}
	done sync.WaitGroup
}

// Open opens or creates the spool in o.Dir, repairs a torn tail left by a crash, and
// loads each route's cursor.
func Open(o Options) (*Spool, error) {
	o.withDefaults()
	if o.Dir == "" {
		return nil, errors.New("spool: dir is empty")
	}
	for _, name := range []string{o.Dir, filepath.Join(o.Dir, "cursors"), filepath.Join(o.Dir, "deadletters")} {
		if err := os.MkdirAll(name, 0o750); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	s := &Spool{
		opts:     o,
		changed:  make(chan struct{}),
		readers:  map[string]*Reader{},
		cursors:  map[string]uint64{},
		syncWake: make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	if err := s.loadSegments(); err != nil {
		return nil, err
	}
	if err := s.loadCursors(); err != nil {
		s.active.Close()
		return nil, err
	}
	s.done.Add(2)
	go s.syncLoop()
	go s.cursorLoop()
	return s, nil
}

func segmentName(base uint64) string {
	return fmt.Sprintf("%s%020d%s", segmentPrefix, base, segmentSuffix)
}

func (s *Spool) loadSegments() error {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		base, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segmentPrefix), segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		s.segments = append(s.segments, &segment{base: base, path: filepath.Join(s.opts.Dir, name)})
	}
	slices.SortFunc(s.segments, func(a, b *segment) int { return cmp.Compare(a.base, b.base) })
	for i, seg := range s.segments {
		last := i == len(s.segments)-1
		n, size, err := scanSegment(seg.path, last)
		if err != nil {
			return err
		}
		seg.next, seg.size = seg.base+n, size
		s.bytes += size
	}
	if len(s.segments) == 0 {
		return s.startSegment(0)
	}
	last := s.segments[len(s.segments)-1]
	f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.active, s.written, s.durable = f, last.next, last.next
	return nil
}

// scanSegment counts a segment's records. In the last segment a torn or corrupt tail
// (what a crash mid-write leaves) is cut off; in an older one it is an error.
func scanSegment(path string, repair bool) (records uint64, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var good int64
	var buf []byte
	for {
		data, n, rerr := readRecord(r, buf)
		buf = data[:0]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if !repair {
				return 0, 0, fmt.Errorf("spool: %s at byte %d: %w", path, good, rerr)
			}
			if err := os.Truncate(path, good); err != nil {
				return 0, 0, fmt.Errorf("spool: repair %s: %w", path, err)
			}
			break
		}
		good += n
		records++
	}
	return records, good, nil
}

// readRecord reads one record into buf's storage. It returns io.EOF only at a clean
// record boundary; a partial record is io.ErrUnexpectedEOF.
func readRecord(r *bufio.Reader, buf []byte) ([]byte, int64, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF {
			return buf, 0, io.EOF
		}
		return buf, 0, io.ErrUnexpectedEOF
	}
	n := binary.LittleEndian.Uint32(h[0:4])
	sum := binary.LittleEndian.Uint32(h[4:8])
	if n > MaxRecordBytes {
		return buf, 0, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, 0, io.ErrUnexpectedEOF
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		return buf, 0, ErrCorrupt
	}
	return buf, headerSize + int64(n), nil
}

func (s *Spool) startSegment(base uint64) error {
	seg := &segment{base: base, next: base, path: filepath.Join(s.opts.Dir, segmentName(base))}
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.active != nil {
		// The old segment's records must be durable before the new file takes over.
		if !s.opts.NoSync {
			if err := s.active.Sync(); err != nil {
				f.Close()
				return fmt.Errorf("spool: sync: %w", err)
			}
		}
		s.active.Close()
	}
	if !s.opts.NoSync {
		atomicfile.SyncDir(s.opts.Dir)
	}
	s.segments = append(s.segments, seg)
	s.active = f
	return nil
}

// Append writes records and returns once they are on disk. It reports the offset of the
// first. Either all records are appended or, on ErrFull or an I/O error, none are
// acknowledged.
func (s *Spool) Append(ctx context.Context, records ...[]byte) (uint64, error) {
	var need int64
	for _, r := range records {
		if len(r) > MaxRecordBytes {
			return 0, fmt.Errorf("spool: record of %d bytes exceeds %d", len(r), MaxRecordBytes)
		}
		need += headerSize + int64(len(r))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if s.bytes+need > s.opts.MaxBytes {
		s.mu.Unlock()
		return 0, ErrFull
	}
	cur := s.segments[len(s.segments)-1]
	if cur.size > 0 && cur.size+need > s.opts.SegmentBytes {
		if err := s.startSegment(s.written); err != nil {
			s.mu.Unlock()
			return 0, err
		}
		cur = s.segments[len(s.segments)-1]
	}
	buf := make([]byte, 0, need)
	for _, r := range records {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(r)))
		buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(r, castagnoli))
		buf = append(buf, r...)
	}
	if _, err := s.active.Write(buf); err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("spool: write: %w", err)
	}
	first := s.written
	s.written += uint64(len(records))
	cur.next = s.written
	cur.size += need
	s.bytes += need
	target := s.written
	if s.opts.NoSync {
		s.durable = target
		s.signalLocked()
		s.mu.Unlock()
		return first, nil
	}
	s.mu.Unlock()
	select {
	case s.syncWake <- struct{}{}:
	default:
	}
	return first, s.waitDurable(ctx, target)
}

// waitDurable blocks until records below target are fsync'd.
func (s *Spool) waitDurable(ctx context.Context, target uint64) error {
	for {
		s.mu.Lock()
		durable, changed, err, closed := s.durable, s.changed, s.syncErr, s.closed
		s.mu.Unlock()
		if durable >= target {
			return nil
		}
		if err != nil {
			return err
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Spool) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// syncLoop is the group commit: one fsync covers every write made before it started.
func (s *Spool) syncLoop() {
	defer s.done.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.syncWake:
		}
		s.mu.Lock()
		target, f := s.written, s.active
		if target == s.durable {
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		if err != nil && !s.closed {
			s.syncErr = fmt.Errorf("spool: fsync: %w", err)
		} else if target > s.durable {
			s.durable = target
		}
		s.signalLocked()
		s.mu.Unlock()
	}
}

// Stats is a snapshot for metrics and `kete check`.
type Stats struct {
	Bytes    int64
	MaxBytes int64
	Segments int
	// Written is the offset the next record gets.
	Written uint64
	// Backlog per route: records appended that the route has not acknowledged.
	Backlog map[string]uint64
}

// Stats reports the spool's size and each route's backlog.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Bytes: s.bytes, MaxBytes: s.opts.MaxBytes, Segments: len(s.segments), Written: s.written, Backlog: map[string]uint64{}}
	for _, route := range s.opts.Routes {
		st.Backlog[route] = s.written - s.positionLocked(route)
	}
	return st
}

// Close saves every cursor and closes the files. Blocked readers and appenders return
// ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.signalLocked()
	s.mu.Unlock()
	close(s.stop)
	s.done.Wait()
	errs := []error{s.saveCursors()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.NoSync {
		errs = append(errs, s.active.Sync())
	}
	errs = append(errs, s.active.Close())
	return errors.Join(errs...)
}
