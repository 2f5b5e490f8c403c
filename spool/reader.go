package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	file     File
	sc       *scanner
	fileBase uint64 // base offset of the open segment
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

// positionLocked is where route resumes: its live reader or its cursor.
func (s *Spool) positionLocked(route string) uint64 {
	if r := s.readers[route]; r != nil {
		return r.ackBase
	}
	return s.cursors[route]
}

// Next returns the next record, waiting until one is durable or ctx ends. Records lost to
// damage are stepped over (and reported, see Damaged): they count as acknowledged. An
// error other than ErrClosed or ctx's means the spool cannot be read now (an I/O error);
// Next may be called again.
func (r *Reader) Next(ctx context.Context) (Record, error) {
	s := r.s
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			r.closeFile()
			return Record{}, ErrClosed
		}
		if r.next >= s.durable {
			changed := s.changed
			s.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				return Record{}, ctx.Err()
			}
			continue
		}
		off, durable := r.next, s.durable
		i, found := s.segmentForLocked(off)
		if !found {
			gap := r.skipGapLocked(i, off, durable)
			s.mu.Unlock()
			s.damage.report(s, gap, nil)
			continue
		}
		seg := *s.segments[i]
		last := i == len(s.segments)-1
		limit := seg.size
		if last {
			limit = s.durableSize
		}
		s.mu.Unlock()

		end := seg.next // the offset after the last record the reader may find in seg
		if last {
			end = durable
		}
		rec, at, err := r.read(&seg, off, limit, end)
		if err != nil {
			if err := r.recoverRead(&seg, off, last, err); err != nil {
				return Record{}, err
			}
			continue
		}
		if rec == nil && at == off {
			at = end // this file holds nothing more: on to the next
			if at > off {
				s.damage.report(s, Damage{Segment: filepath.Base(seg.path), Byte: limit, FirstLost: off, NextGood: at, Missing: true}, nil)
			}
		}
		s.mu.Lock()
		r.skipLocked(at)
		if rec == nil {
			s.mu.Unlock()
			continue
		}
		r.next++
		r.acked = append(r.acked, false)
		s.mu.Unlock()
		return Record{Offset: at, Data: rec}, nil
	}
}

// skipGapLocked steps the reader over offsets from off that no segment holds (between
// segments, or before the first: the file that held them is gone) and returns the damage
// to report once the lock is released. i is where segmentForLocked would have found off.
func (r *Reader) skipGapLocked(i int, off, durable uint64) Damage {
	s := r.s
	gap := Damage{FirstLost: off, NextGood: durable, Missing: true}
	if i > 0 {
		prev := s.segments[i-1]
		gap.Segment, gap.Byte, gap.FirstLost = filepath.Base(prev.path), prev.size, prev.next
	}
	if i < len(s.segments) {
		gap.NextGood = s.segments[i].base
	}
	r.skipLocked(gap.NextGood)
	return gap
}

// recoverRead handles err from reading seg at off. A segment file that is gone is stepped
// over and nil returned, so that Next goes on; when it was the active segment, a new one
// starts first, so that new records go to a file that exists. Any other error is
// returned, naming the route, the offset and the file.
func (r *Reader) recoverRead(seg *segment, off uint64, last bool, err error) error {
	s := r.s
	switch {
	case errors.Is(err, os.ErrNotExist) && last:
		// Once replaced, this one is an old segment lost, like any other.
		if err := s.replaceLostSegment(seg.base); err != nil {
			return fmt.Errorf("spool: route %s: %s is gone and no new segment can start: %w", r.route, seg.path, err)
		}
		return nil
	case errors.Is(err, os.ErrNotExist):
		s.damage.report(s, Damage{Segment: filepath.Base(seg.path), FirstLost: off, NextGood: seg.next, Missing: true}, nil)
		s.mu.Lock()
		r.skipLocked(seg.next)
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("spool: route %s: reading offset %d in %s: %w", r.route, off, seg.path, err)
}

// skipLocked steps the reader over offsets up to to, which hold no record it can read:
// they count as acknowledged.
func (r *Reader) skipLocked(to uint64) {
	if len(r.acked) == 0 && r.next < to {
		r.next, r.ackBase = to, to
		return
	}
	for ; r.next < to; r.next++ {
		r.acked = append(r.acked, true)
	}
	r.compactLocked()
}

// read returns a copy of the first intact record at or after off in seg, reading no
// further than limit (the bytes of the records below end), and its offset. Damage passed
// over is reported. At limit it returns nil data and, if damage ran up to it, end (every
// record below end was in those bytes); else off.
func (r *Reader) read(seg *segment, off uint64, limit int64, end uint64) ([]byte, uint64, error) {
	if r.sc == nil || r.fileBase != seg.base || r.sc.next > off {
		if err := r.open(seg, limit); err != nil {
			return nil, 0, err
		}
	}
	r.sc.limit = limit
	for {
		pos := r.sc.pos
		res, err := r.sc.scan()
		if err != nil {
			r.closeFile()
			return nil, 0, err
		}
		if res.bad() {
			d := damageAt(seg, res)
			if res.eof {
				d.NextGood = max(d.FirstLost, end)
			}
			r.s.damage.report(r.s, d, r.file)
			if res.eof {
				r.sc.pos, r.sc.next = res.badTo, d.NextGood
				return nil, max(off, d.NextGood), nil
			}
		}
		if res.eof {
			r.sc.pos = pos
			return nil, off, nil
		}
		if res.off < off {
			continue // before where the route resumes
		}
		return slices.Clone(res.data), res.off, nil
	}
}

// open starts reading seg from its beginning.
func (r *Reader) open(seg *segment, limit int64) error {
	r.closeFile()
	f, err := r.s.fs.OpenFile(seg.path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	r.file, r.fileBase = f, seg.base
	r.sc = newScanner(f, seg.v1, seg.base, limit)
	return nil
}

func (r *Reader) closeFile() {
	if r.file != nil {
		r.file.Close()
		r.file, r.sc = nil, nil
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
	r.compactLocked()
}

func (r *Reader) compactLocked() {
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
