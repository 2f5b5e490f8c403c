// Package spool is kete's durable queue: events that a source has acknowledged live here
// until every route has delivered them, so that neither a dead destination, a killed
// daemon, a full disk nor a damaged record loses one without a word.
//
// # On disk
//
// The directory holds:
//
//	seg-<base>.v2.log   segments, <base> the offset of the first record (20 digits)
//	seg-<base>.log      segments written by kete before the v2 framing (read, never written)
//	cursors/<route>     each route's position: the lowest offset it has not acknowledged
//	damaged/<seg>@<byte> bytes found damaged, moved aside for inspection
//	deadletters/        records a route gave up on (<route>.jsonl)
//	lock                held (flock) by the process that has the spool open; holds its pid
//	reserve             a file of zeros freed when a full disk keeps cursors from being saved
//
// Offsets count records from 0 over the spool's lifetime. Each record in a v2 segment is
//
//	magic F5 6B 72 02 | uint64 offset | uint32 length | uint32 CRC-32C | data
//
// little-endian, the CRC covering the offset, the length and the data. The magic lets a
// reader find the next record after damaged bytes; the offset in the header lets it know
// exactly which records the damage took; the CRC over the length catches a corrupt length
// before it sends the reader astray. A v1 record is `uint32 length | uint32 CRC of the
// data | data`; a v1 segment is read as before, and a new spool segment starts in v2.
//
// # Guarantees
//
// Append returns only once its records are fsync'd; concurrent appenders share one fsync
// (group commit). A write or fsync that fails (a full disk) is undone, the file cut back to
// its last durable record, and Append fails with ErrUnavailable: the source pushes back
// and tries again, and nothing later lands behind a half-written record.
//
// Each route reads with its own cursor, written atomically, so a restart resumes where
// each route left off. A cursor is saved after the records before it were acknowledged,
// which makes delivery at-least-once: a crash can replay the last few records of a route,
// never skip one. A route without a cursor file starts at the oldest record kept; a
// cursor past the end is an error at Open. A segment is deleted once every route's saved
// cursor has passed it. When the segments on disk would exceed MaxBytes, Append fails
// with ErrFull; nothing is dropped. On a full disk a cursor is written over the old one in
// place, or into the room the reserve file gave up, so passed segments can still go and
// the spool recovers without a restart.
//
// Damage costs at most the records it touched. When the spool opens, every segment is
// read through: an unfinished record at the very end (a torn write) is cut off; a damaged
// stretch anywhere else is reported (Damaged, the log) and its bytes copied to damaged/,
// and reading resumes at the next intact record. A reader that meets damage at run time
// does the same. Records lost to damage or to a missing segment file are reported with
// their offsets, never silently skipped.
package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull means the spool holds MaxBytes already: the caller should push back (HTTP 503)
// and try again once routes have caught up.
var ErrFull = errors.New("spool: full")

// ErrUnavailable means the spool cannot store records now: its disk is full or failing.
// What the call wrote was undone. Push back (HTTP 503 with Retry-After) as for ErrFull;
// the spool recovers by itself once the disk takes writes again.
var ErrUnavailable = errors.New("spool: cannot store records now")

// ErrClosed is returned by every call on a closed spool.
var ErrClosed = errors.New("spool: closed")

// ErrLocked means another process has the spool directory open.
var ErrLocked = errors.New("spool: directory in use")

const (
	segmentPrefix   = "seg-"
	segmentSuffix   = ".v2.log"
	segmentSuffixV1 = ".log"
)

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
	// have passed it. A route without a cursor (new, or its file lost) starts at the
	// oldest record kept, so that nothing waiting is skipped; it may get records other
	// routes delivered long ago.
	Routes []string
	// CursorSyncInterval bounds how long an acknowledged position may stay unsaved
	// (default 100ms): after a crash at most that much is delivered again.
	CursorSyncInterval time.Duration
	// ReserveBytes is kept in a file of its own and freed when a full disk keeps the
	// cursors from being saved, so that passed segments can still be deleted and the spool
	// recovers by itself (default 1 MiB).
	ReserveBytes int64
	// FailureLogInterval bounds how often the same kind of failure (a full disk) is
	// logged (default 10s); the calls in between are counted, not logged.
	FailureLogInterval time.Duration
	// FS is where the files live (default OSFS).
	FS FS
	// NoSync skips fsync, for benchmarks that measure everything but the disk.
	NoSync bool
	// Logger hears of damage and of failures such as a full disk (default: discarded).
	Logger *slog.Logger
}

// withDefaults returns o with every zero field but Dir set to the default its comment names.
func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.SegmentBytes > o.MaxBytes/4 && o.MaxBytes >= 4*frameHeader {
		o.SegmentBytes = max(o.MaxBytes/4, 1)
	}
	if o.CursorSyncInterval <= 0 {
		o.CursorSyncInterval = 100 * time.Millisecond
	}
	if o.ReserveBytes <= 0 {
		o.ReserveBytes = 1 << 20
	}
	if o.FailureLogInterval <= 0 {
		o.FailureLogInterval = 10 * time.Second
	}
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Record is one spooled event as a reader sees it.
type Record struct {
	// Offset is the record's position in the spool, counting from 0 over its lifetime.
	Offset uint64
	Data   []byte
}

// commit is one group commit: the appenders whose records one fsync covers wait on done.
type commit struct {
	done chan struct{}
	err  error
}

func newCommit() *commit { return &commit{done: make(chan struct{})} }

func (c *commit) complete(err error) {
	c.err = err
	close(c.done)
}

// Spool is a durable, multi-reader queue on disk. It is safe for concurrent use.
type Spool struct {
	opts   Options
	fs     FS
	unlock func()

	mu          sync.Mutex
	dlMu        sync.Mutex // serialises dead-letter writes without holding up appends
	closed      bool
	segments    []*segment // oldest first; the last is active
	active      File
	written     uint64 // next offset to write
	durable     uint64 // records below this are fsync'd
	durableSize int64  // bytes of the active segment that are fsync'd
	cutTo       int64  // >= 0: the active segment must be cut back to this size before the next write
	bytes       int64  // sum of segment sizes
	group       *commit
	rollbacks   uint64        // counts rollbackLocked, so that an fsync in flight learns its records were cut
	changed     chan struct{} // closed and replaced whenever durable grows
	readers     map[string]*Reader
	cursors     map[string]uint64 // saved position per route
	reserved    bool
	syncWake    chan struct{}

	failing  atomic.Bool // the last write failed
	failures failureLog
	damage   damageLog

	stop chan struct{}
	done sync.WaitGroup
}

// Open opens or creates the spool in o.Dir, locks it against a second process, reads
// every segment through (cutting a torn tail, reporting damage), and loads each route's
// cursor.
func Open(o Options) (*Spool, error) {
	o = o.withDefaults()
	if o.Dir == "" {
		return nil, errors.New("spool: dir is empty")
	}
	for _, name := range []string{o.Dir, filepath.Join(o.Dir, "cursors"), filepath.Join(o.Dir, "deadletters")} {
		if err := o.FS.MkdirAll(name, 0o750); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		opts:     o,
		fs:       o.FS,
		unlock:   unlock,
		cutTo:    -1,
		group:    newCommit(),
		changed:  make(chan struct{}),
		readers:  map[string]*Reader{},
		cursors:  map[string]uint64{},
		syncWake: make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	s.failures.interval = o.FailureLogInterval
	if err := s.loadSegments(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if err := s.loadCursors(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.keepReserve()
	s.done.Add(2)
	go s.syncLoop()
	go s.cursorLoop()
	return s, nil
}

func (s *Spool) closeFiles() {
	if s.active != nil {
		s.active.Close()
	}
	s.unlock()
}

// Append writes records and returns once they are on disk. It reports the offset of the
// first. Either all records are appended or, on ErrFull, ErrUnavailable or another error,
// none are acknowledged.
func (s *Spool) Append(ctx context.Context, records ...[]byte) (uint64, error) {
	var need int64
	for _, r := range records {
		if len(r) > MaxRecordBytes {
			return 0, fmt.Errorf("spool: record of %d bytes exceeds %d", len(r), MaxRecordBytes)
		}
		need += frameHeader + int64(len(r))
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
	if err := s.cutBackLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if cur := s.activeSegment(); cur.size > 0 && cur.size+need > s.opts.SegmentBytes {
		if err := s.startSegmentLocked(s.written); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	cur := s.activeSegment()
	first := s.written
	buf := make([]byte, 0, need)
	for i, r := range records {
		buf = appendFrame(buf, first+uint64(i), r)
	}
	if _, err := s.active.Write(buf); err != nil {
		// Part of buf may be on disk: cut it off, so that the next record does not land
		// behind a half-written one.
		s.cutTo = cur.size
		s.cutBackLocked()
		s.mu.Unlock()
		return 0, s.failed(fmt.Errorf("write %s: %w", cur.path, err))
	}
	s.written += uint64(len(records))
	cur.next = s.written
	cur.size += need
	s.bytes += need
	if s.opts.NoSync {
		s.durable, s.durableSize = s.written, cur.size
		s.signalLocked()
		s.mu.Unlock()
		s.recovered()
		return first, nil
	}
	g := s.group
	s.mu.Unlock()
	select {
	case s.syncWake <- struct{}{}:
	default:
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if g.err != nil {
		return 0, g.err
	}
	s.recovered()
	return first, nil
}

// cutBackLocked finishes undoing a failed write: the active segment is cut back to its
// last good record before anything else is written to it.
func (s *Spool) cutBackLocked() error {
	if s.cutTo < 0 {
		return nil
	}
	if err := s.active.Truncate(s.cutTo); err != nil {
		return s.failed(fmt.Errorf("cutting %s back to byte %d after a failed write: %w", s.activeSegment().path, s.cutTo, err))
	}
	s.cutTo = -1
	return nil
}

// rollbackLocked undoes every record written after the durable point, because the
// fsync meant to cover them failed (after a failed fsync the kernel may have dropped the
// pages). Their appenders are told; the offsets are written again by later appends.
func (s *Spool) rollbackLocked(cause error) error {
	err := s.failed(cause)
	s.rollbacks++
	cur := s.activeSegment()
	s.bytes -= cur.size - s.durableSize
	cur.size, cur.next, s.written = s.durableSize, s.durable, s.durable
	s.cutTo = s.durableSize
	s.cutBackLocked() // if this fails too, the next Append tries again first
	s.group.complete(err)
	s.group = newCommit()
	return err
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
		if s.written == s.durable {
			s.mu.Unlock()
			continue
		}
		g := s.group
		s.group = newCommit()
		target, size, f, path := s.written, s.activeSegment().size, s.active, s.activeSegment().path
		rollbacks := s.rollbacks
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		switch {
		case s.durable >= target:
			err = nil // a new segment started meanwhile, after syncing this one
		case s.rollbacks != rollbacks:
			// A failed fsync elsewhere (starting a new segment) cut these records off.
			err = fmt.Errorf("%w: records undone after a failed fsync of %s", ErrUnavailable, path)
		case err != nil:
			err = s.rollbackLocked(fmt.Errorf("fsync %s: %w", path, err))
		default:
			s.durable, s.durableSize = target, size
			s.signalLocked()
		}
		g.complete(err)
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
	// WriteError is the last write failure while writes keep failing; empty once one
	// succeeds again.
	WriteError string
	// Damaged counts the stretches reported damaged or missing since Open.
	Damaged int
}

// Stats reports the spool's size and each route's backlog.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	st := Stats{Bytes: s.bytes, MaxBytes: s.opts.MaxBytes, Segments: len(s.segments), Written: s.written, Backlog: map[string]uint64{}}
	for _, route := range s.opts.Routes {
		st.Backlog[route] = s.written - min(s.written, s.positionLocked(route))
	}
	s.mu.Unlock()
	if err := s.failures.last(); err != nil && s.failing.Load() {
		st.WriteError = err.Error()
	}
	st.Damaged = s.damage.count()
	return st
}

// Close saves every cursor, closes the files and releases the directory. Blocked readers
// and appenders return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		s.keepActiveSegment()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.group.complete(ErrClosed)
	s.group = newCommit()
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
	s.unlock()
	return errors.Join(errs...)
}
