package spool

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A segment is one file of records, named for the offset of its first; the newest is
// the active one, which appends go to.
type segment struct {
	base uint64 // offset of its first record
	path string
	v1   bool
	size int64
	next uint64 // offset after its last record
}

func segmentName(base uint64) string {
	return fmt.Sprintf("%s%020d%s", segmentPrefix, base, segmentSuffix)
}

// parseSegmentName reads a segment's base offset and framing from its file name.
func parseSegmentName(name string) (base uint64, v1, ok bool) {
	rest, ok := strings.CutPrefix(name, segmentPrefix)
	if !ok {
		return 0, false, false
	}
	if digits, cut := strings.CutSuffix(rest, segmentSuffix); cut {
		rest = digits
	} else if digits, cut := strings.CutSuffix(rest, segmentSuffixV1); cut {
		rest, v1 = digits, true
	} else {
		return 0, false, false
	}
	base, err := strconv.ParseUint(rest, 10, 64)
	return base, v1, err == nil
}

func (s *Spool) loadSegments() error {
	entries, err := s.fs.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		base, v1, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		s.segments = append(s.segments, &segment{base: base, v1: v1, path: filepath.Join(s.opts.Dir, e.Name())})
	}
	slices.SortFunc(s.segments, func(a, b *segment) int { return cmp.Compare(a.base, b.base) })
	for i, seg := range s.segments {
		if i > 0 && s.segments[i-1].next < seg.base {
			prev := s.segments[i-1]
			s.damage.report(s, Damage{Segment: filepath.Base(prev.path), Byte: prev.size, FirstLost: prev.next, NextGood: seg.base, Missing: true}, nil)
		}
		var nextBase uint64
		if i+1 < len(s.segments) {
			nextBase = s.segments[i+1].base
		}
		if err := s.checkSegment(seg, i == len(s.segments)-1, nextBase); err != nil {
			return err
		}
		s.bytes += seg.size
	}
	if n := len(s.segments); n > 0 && s.segments[n-1].v1 && s.segments[n-1].size == 0 {
		// An empty old segment: the new one takes its place.
		s.fs.Remove(s.segments[n-1].path)
		s.segments = s.segments[:n-1]
	}
	if n := len(s.segments); n == 0 || s.segments[n-1].v1 {
		if n > 0 {
			s.written = s.segments[n-1].next
		}
		s.durable = s.written
		return s.startSegmentLocked(s.written)
	}
	last := s.segments[len(s.segments)-1]
	f, err := s.fs.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.active, s.written, s.durable, s.durableSize = f, last.next, last.next, last.size
	return nil
}

// checkSegment reads seg through, learning its size and the offset after its last
// record, and reports what it finds damaged. In the last segment a bad tail is cut (the
// bytes are kept in damaged/); in an older one the records from the damage to the next
// segment are reported lost.
func (s *Spool) checkSegment(seg *segment, last bool, nextBase uint64) error {
	f, err := s.fs.OpenFile(seg.path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	seg.size = st.Size()
	sc := newScanner(f, seg.v1, seg.base, seg.size)
	for {
		res, err := sc.scan()
		if err != nil {
			return fmt.Errorf("spool: reading %s at byte %d: %w", seg.path, sc.pos, err)
		}
		if res.bad() && !res.eof {
			s.damage.report(s, damageAt(seg, res), f)
		}
		if !res.eof {
			continue
		}
		seg.next = sc.next
		if !res.bad() {
			return nil
		}
		d := damageAt(seg, res)
		if !last {
			d.NextGood = max(nextBase, d.FirstLost)
			seg.next = d.NextGood
			s.damage.report(s, d, f)
			return nil
		}
		// The tail holds no intact record. What it held is unknown; every record takes
		// at least a header, which bounds the offsets it can have had, and the next
		// record written starts after them, so no offset ever names two records.
		header := int64(frameHeader)
		if seg.v1 {
			header = frameHeaderV1
		}
		d.NextGood = d.FirstLost + uint64(d.Bytes/header) + 1
		d.Torn = !res.complete
		s.damage.report(s, d, f)
		if err := truncate(s.fs, seg.path, res.badFrom); err != nil {
			return fmt.Errorf("spool: cutting the damaged tail of %s at byte %d: %w", seg.path, res.badFrom, err)
		}
		seg.size, seg.next = res.badFrom, d.NextGood
		return nil
	}
}

func truncate(fsys FS, path string, size int64) error {
	f, err := fsys.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// startSegmentLocked makes a new segment starting at base the active one. The old
// segment's records become durable first: the new file takes over only after them.
func (s *Spool) startSegmentLocked(base uint64) error {
	if s.active != nil && !s.opts.NoSync {
		if err := s.active.Sync(); err != nil {
			return s.rollbackLocked(fmt.Errorf("fsync %s: %w", s.activeSegment().path, err))
		}
		if s.written > s.durable {
			s.durable = s.written
			s.group.complete(nil)
			s.group = newCommit()
			s.signalLocked()
		}
	}
	seg := &segment{base: base, next: base, path: filepath.Join(s.opts.Dir, segmentName(base))}
	f, err := s.fs.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return s.failed(fmt.Errorf("create %s: %w", seg.path, err))
	}
	if s.active != nil {
		s.active.Close()
	}
	if !s.opts.NoSync {
		syncDir(s.fs, s.opts.Dir)
	}
	s.segments = append(s.segments, seg)
	s.active, s.durableSize, s.cutTo = f, 0, -1
	return nil
}

func (s *Spool) activeSegment() *segment { return s.segments[len(s.segments)-1] }

// replaceLostSegment starts a new segment if the one at base, the active one, has gone
// from the directory.
func (s *Spool) replaceLostSegment(base uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.activeSegment().base != base {
		return nil
	}
	s.opts.Logger.Error("spool: the segment being written is gone from the directory; starting a new one", "segment", s.activeSegment().path)
	return s.startSegmentLocked(s.written)
}

// keepActiveSegment starts a new segment when the one being written has gone from the
// directory (deleted by hand): records appended to a deleted file would vanish at the
// next start, and a cursor that had passed into them would stop that start.
func (s *Spool) keepActiveSegment() {
	s.mu.Lock()
	seg := s.activeSegment()
	s.mu.Unlock()
	f, err := s.fs.OpenFile(seg.path, os.O_RDONLY, 0)
	if err == nil {
		f.Close()
		return
	}
	if errors.Is(err, os.ErrNotExist) {
		if err := s.replaceLostSegment(seg.base); err != nil {
			s.opts.Logger.Error("spool: cannot start a new segment", "err", err)
		}
	}
}

// segmentForLocked finds the segment holding off: its index and true, or the index of
// the first segment after off and false.
func (s *Spool) segmentForLocked(off uint64) (int, bool) {
	last := len(s.segments) - 1
	return slices.BinarySearchFunc(s.segments, off, func(seg *segment, off uint64) int {
		switch {
		case off < seg.base:
			return 1
		case off >= seg.next && seg != s.segments[last]:
			return -1
		}
		return 0
	})
}
