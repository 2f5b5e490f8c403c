package spool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kete-dev/kete/spool"
	"github.com/kete-dev/kete/spool/spooltest"
)

// The fault-injection suite: a small stream of events goes through the spool while a
// fault strikes at each point of it in turn (a write stopped part-way, a full disk, a
// failing fsync, a flipped byte, a lost file); after a restart every event whose Append
// succeeded is either delivered or reported in Damaged, and nothing delivered is garbage.

const stream = 24

// streamOptions makes segments of about four records, so that faults land in old
// segments as well as the newest.
func streamOptions(dir string, fsys spool.FS) spool.Options {
	return spool.Options{Dir: dir, Routes: []string{"a"}, SegmentBytes: 110, MaxBytes: 1 << 20,
		CursorSyncInterval: time.Hour, ReserveBytes: 512, FS: fsys}
}

func event(n int) []byte { return fmt.Appendf(nil, `{"n":%02d}`, n) }

var eventShape = regexp.MustCompile(`^\{"n":([0-9]{2})\}$`)

// ledger is what the test knows: the offset of every event acknowledged to its source,
// and every event delivered.
type ledger struct {
	acked     map[int]uint64
	delivered map[int]bool
}

func newLedger() *ledger { return &ledger{acked: map[int]uint64{}, delivered: map[int]bool{}} }

func (l *ledger) take(t *testing.T, rec spool.Record) {
	t.Helper()
	m := eventShape.FindSubmatch(rec.Data)
	if m == nil {
		t.Fatalf("delivered garbage at offset %d: %q", rec.Offset, rec.Data)
	}
	n, _ := strconv.Atoi(string(m[1]))
	l.delivered[n] = true
}

// deliver reads what the route has up to Written and acknowledges it; lag records are
// left unread, so that faults find a backlog.
func deliver(t *testing.T, s *spool.Spool, r *spool.Reader, l *ledger, lag uint64) {
	t.Helper()
	for {
		written := s.Stats().Written
		if r.Position()+lag >= written {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rec, err := r.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Next at position %d of %d: %v", r.Position(), written, err)
		}
		l.take(t, rec)
		r.Ack(rec.Offset)
	}
}

// drain reads everything left after a restart: it appends an end marker and reads up to it.
func drain(t *testing.T, s *spool.Spool, l *ledger) {
	t.Helper()
	end, err := s.Append(context.Background(), []byte("end"))
	if err != nil {
		t.Fatalf("Append after restart: %v", err)
	}
	r, err := s.Reader("a")
	if err != nil {
		t.Fatal(err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rec, err := r.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Next after restart: %v", err)
		}
		r.Ack(rec.Offset)
		if rec.Offset == end {
			return
		}
		l.take(t, rec)
	}
}

// check asserts the promise: every acknowledged event delivered, or reported lost.
func (l *ledger) check(t *testing.T, damaged []spool.Damage) {
	t.Helper()
	for n, off := range l.acked {
		if l.delivered[n] {
			continue
		}
		if !slices.ContainsFunc(damaged, func(d spool.Damage) bool { return d.FirstLost <= off && off < d.NextGood }) {
			t.Fatalf("event %d (offset %d) was acknowledged, is not delivered and not reported; damage reported: %+v", n, off, damaged)
		}
	}
}

// appendStream appends events from..to, recording the acknowledged ones; fault runs
// before the append of event at. It returns how many appends failed.
func appendStream(t *testing.T, s *spool.Spool, r *spool.Reader, l *ledger, from, to, at int, fault func(), lag uint64) int {
	t.Helper()
	failed := 0
	for n := from; n < to; n++ {
		if n == at && fault != nil {
			fault()
		}
		off, err := s.Append(context.Background(), event(n))
		switch {
		case err == nil:
			l.acked[n] = off
		case errors.Is(err, spool.ErrUnavailable):
			failed++
		default:
			t.Fatalf("Append %d: %v, want nil or ErrUnavailable", n, err)
		}
		deliver(t, s, r, l, lag)
	}
	return failed
}

func reopen(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	s, err := spool.Open(streamOptions(dir, nil))
	if err != nil {
		t.Fatalf("Open after the fault: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFaultWriteStoppedPartWay(t *testing.T) {
	for at := range stream {
		for _, keep := range []int{1, 19} {
			t.Run(fmt.Sprintf("event%d/keep%d", at, keep), func(t *testing.T) {
				dir, fsys, l := t.TempDir(), &spooltest.FaultFS{}, newLedger()
				s, err := spool.Open(streamOptions(dir, fsys))
				if err != nil {
					t.Fatal(err)
				}
				r, _ := s.Reader("a")
				failed := appendStream(t, s, r, l, 0, stream, at, func() { fsys.FailWrite(1, keep) }, 3)
				if failed != 1 {
					t.Fatalf("%d appends failed, want exactly the one whose write stopped part-way", failed)
				}
				s.Close()
				s2 := reopen(t, dir)
				drain(t, s2, l)
				l.check(t, nil) // a failed write is undone: no damage at all
				if d := s2.Damaged(); len(d) != 0 {
					t.Fatalf("damage after an undone write: %+v", d)
				}
			})
		}
	}
}

func TestFaultFsyncFails(t *testing.T) {
	for at := range stream {
		t.Run(fmt.Sprintf("event%d", at), func(t *testing.T) {
			dir, fsys, l := t.TempDir(), &spooltest.FaultFS{}, newLedger()
			s, err := spool.Open(streamOptions(dir, fsys))
			if err != nil {
				t.Fatal(err)
			}
			r, _ := s.Reader("a")
			appendStream(t, s, r, l, 0, at, -1, nil, 3)
			fsys.FailSyncs(syscall.EIO)
			if _, err := s.Append(context.Background(), event(at)); !errors.Is(err, spool.ErrUnavailable) {
				t.Fatalf("Append with a failing fsync = %v, want ErrUnavailable", err)
			}
			fsys.FailSyncs(nil)
			appendStream(t, s, r, l, at+1, stream, -1, nil, 3)
			s.Close()
			s2 := reopen(t, dir)
			drain(t, s2, l)
			l.check(t, nil)
		})
	}
}

func TestFaultDiskFullThenRoom(t *testing.T) {
	for _, at := range []int{0, 5, 11, 17, 23} {
		t.Run(fmt.Sprintf("event%d", at), func(t *testing.T) {
			dir, fsys, l := t.TempDir(), &spooltest.FaultFS{}, newLedger()
			s, err := spool.Open(streamOptions(dir, fsys))
			if err != nil {
				t.Fatal(err)
			}
			r, _ := s.Reader("a")
			appendStream(t, s, r, l, 0, at, -1, nil, 3)
			// The disk fills: not one more byte.
			fsys.SetQuota(dir, spooltest.Used(dir))
			for n := at; n < at+3; n++ {
				if _, err := s.Append(context.Background(), event(n)); !errors.Is(err, spool.ErrUnavailable) {
					t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
				}
			}
			fsys.SetQuota(dir, 0)
			appendStream(t, s, r, l, at+3, stream, -1, nil, 3)
			s.Close()
			s2 := reopen(t, dir)
			drain(t, s2, l)
			l.check(t, nil)
		})
	}
}

// runClean appends the stream with a route that lags half of it behind, and closes the spool: the files a
// fault is then applied to.
func runClean(t *testing.T, dir string, l *ledger) {
	t.Helper()
	o := streamOptions(dir, nil)
	o.NoSync = true
	s, err := spool.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Reader("a")
	appendStream(t, s, r, l, 0, stream, -1, nil, stream/2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) < 4 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	return segs
}

func TestFaultFlippedByte(t *testing.T) {
	// Where the byte is: every other position of the first, a middle and the newest
	// segment, so that each field of each record's header is hit.
	probe := t.TempDir()
	runClean(t, probe, newLedger())
	segs := segments(t, probe)
	for _, si := range []int{0, len(segs) / 2, len(segs) - 1} {
		info, _ := os.Stat(segs[si])
		for pos := int64(0); pos < info.Size(); pos += 2 {
			t.Run(fmt.Sprintf("seg%d/byte%d", si, pos), func(t *testing.T) {
				dir, l := t.TempDir(), newLedger()
				runClean(t, dir, l)
				flip(t, segments(t, dir)[si], pos)
				s := reopen(t, dir)
				drain(t, s, l)
				l.check(t, s.Damaged())
			})
		}
	}
}

func flip(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x10
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestFaultLostFile(t *testing.T) {
	probe := t.TempDir()
	runClean(t, probe, newLedger())
	segs := segments(t, probe)
	// Every segment but the newest (whose loss shows only when a cursor had passed into
	// it: see TestCursorPastTheEndIsAnError), and the cursor.
	var lose []string
	for _, seg := range segs[:len(segs)-1] {
		lose = append(lose, filepath.Base(seg))
	}
	lose = append(lose, filepath.Join("cursors", "a"), "lock", "reserve")
	for _, name := range lose {
		t.Run(name, func(t *testing.T) {
			dir, l := t.TempDir(), newLedger()
			runClean(t, dir, l)
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			s := reopen(t, dir)
			drain(t, s, l)
			l.check(t, s.Damaged())
		})
	}
}

// TestFaultLostFileWhileOpen loses the newest segment, the oldest, or the cursor at each
// point of the stream while the spool is open.
func TestFaultLostFileWhileOpen(t *testing.T) {
	for _, which := range []string{"newest", "oldest", "cursor"} {
		for at := 1; at < stream; at++ {
			t.Run(fmt.Sprintf("%s/event%d", which, at), func(t *testing.T) {
				dir, l := t.TempDir(), newLedger()
				o := streamOptions(dir, nil)
				o.NoSync = true
				s, err := spool.Open(o)
				if err != nil {
					t.Fatal(err)
				}
				r, _ := s.Reader("a")
				lose := func() {
					segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
					name := filepath.Join(dir, "cursors", "a")
					switch which {
					case "newest":
						name = segs[len(segs)-1]
					case "oldest":
						name = segs[0]
					}
					os.Remove(name)
				}
				appendStream(t, s, r, l, 0, stream, at, lose, 3)
				damaged := s.Damaged()
				s.Close()
				s2 := reopen(t, dir)
				drain(t, s2, l)
				l.check(t, append(damaged, s2.Damaged()...))
			})
		}
	}
}

// TestFaultFlipWhileOpen damages a durable record the route has not read yet: the route
// reports it, skips it and goes on, rather than stopping.
func TestFaultFlipWhileOpen(t *testing.T) {
	dir, l := t.TempDir(), newLedger()
	o := streamOptions(dir, nil)
	o.NoSync = true
	s, err := spool.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for n := range stream {
		off, err := s.Append(context.Background(), event(n))
		if err != nil {
			t.Fatal(err)
		}
		l.acked[n] = off
	}
	segs := segments(t, dir)
	flip(t, segs[1], 30) // inside the second record of the second segment
	r, _ := s.Reader("a")
	deliver(t, s, r, l, 0)
	d := s.Damaged()
	if len(d) != 1 || d[0].NextGood-d[0].FirstLost != 1 || d[0].SavedAs == "" {
		t.Fatalf("Damaged = %+v, want one record reported and saved", d)
	}
	if _, err := os.Stat(filepath.Join(dir, d[0].SavedAs)); err != nil {
		t.Fatalf("damaged bytes not saved: %v", err)
	}
	if len(l.delivered) != stream-1 {
		t.Fatalf("delivered %d of %d, want all but the damaged one", len(l.delivered), stream)
	}
	l.check(t, d)
}

func openT(t *testing.T, o spool.Options) *spool.Spool {
	t.Helper()
	s, err := spool.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFullDiskRecoversByItself fills the disk while a route is behind: appends fail
// with spool.ErrUnavailable, the route catches up, and although no cursor could be written on
// the full disk, the reserve lets it be, the passed segments go, and appends succeed
// again, without a restart.
func TestFullDiskRecoversByItself(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	s := openT(t, spool.Options{Dir: dir, Routes: []string{"a"}, SegmentBytes: 200, MaxBytes: 1 << 20, ReserveBytes: 256,
		CursorSyncInterval: 5 * time.Millisecond, FS: fsys})
	r, _ := s.Reader("a")
	for n := range 40 {
		if _, err := s.Append(context.Background(), event(n)); err != nil {
			t.Fatal(err)
		}
	}
	fsys.SetQuota(dir, spooltest.Used(dir)+10) // room for no record, and no cursor file
	if _, err := s.Append(context.Background(), event(40)); !errors.Is(err, spool.ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want spool.ErrUnavailable", err)
	}
	if st := s.Stats(); st.WriteError == "" {
		t.Fatalf("Stats.WriteError empty while the disk is full")
	}
	l := newLedger()
	deliver(t, s, r, l, 0)
	if len(l.delivered) != 40 {
		t.Fatalf("delivered %d of 40", len(l.delivered))
	}
	waitUntil(t, func() bool {
		_, err := s.Append(context.Background(), event(40))
		return err == nil
	})
	if st := s.Stats(); st.WriteError != "" {
		t.Fatalf("Stats.WriteError = %q after recovery", st.WriteError)
	}
	deliver(t, s, r, l, 0)
	if !l.delivered[40] {
		t.Fatal("the event appended after recovery was not delivered")
	}
}

func TestWriteFailuresAreLoggedOncePerInterval(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	var logs bytes.Buffer
	s := openT(t, spool.Options{Dir: dir, Routes: []string{"a"}, FS: fsys, FailureLogInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := s.Append(context.Background(), event(0)); err != nil {
		t.Fatal(err)
	}
	fsys.SetQuota(dir, spooltest.Used(dir))
	for range 100 {
		if _, err := s.Append(context.Background(), event(1)); !errors.Is(err, spool.ErrUnavailable) {
			t.Fatalf("Append on a full disk = %v", err)
		}
	}
	if n := strings.Count(logs.String(), "cannot write"); n != 1 {
		t.Fatalf("%d log lines for 100 failed appends, want 1:\n%s", n, logs.String())
	}
}

// TestFaultFlipAtTheEndWhileOpen damages the newest durable record while the spool is
// open: the route reports it and goes on with what is appended after it.
func TestFaultFlipAtTheEndWhileOpen(t *testing.T) {
	dir, l := t.TempDir(), newLedger()
	o := streamOptions(dir, nil)
	o.NoSync = true
	s := openT(t, o)
	for n := range 5 {
		off, err := s.Append(context.Background(), event(n))
		if err != nil {
			t.Fatal(err)
		}
		l.acked[n] = off
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	newest := segs[len(segs)-1]
	info, _ := os.Stat(newest)
	flip(t, newest, info.Size()-2) // inside the last record's data
	r, _ := s.Reader("a")
	for range 4 {
		rec, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		l.take(t, rec)
		r.Ack(rec.Offset)
	}
	// The route meets the damaged record at the end, reports it, and waits for the next.
	next := make(chan spool.Record, 1)
	go func() {
		rec, _ := r.Next(context.Background())
		next <- rec
	}()
	waitUntil(t, func() bool { return len(s.Damaged()) == 1 })
	for n := 5; n < 8; n++ {
		off, err := s.Append(context.Background(), event(n))
		if err != nil {
			t.Fatal(err)
		}
		l.acked[n] = off
	}
	rec := <-next
	l.take(t, rec)
	r.Ack(rec.Offset)
	deliver(t, s, r, l, 0)
	d := s.Damaged()
	if len(d) != 1 || d[0].FirstLost != l.acked[4] || d[0].NextGood != l.acked[4]+1 {
		t.Fatalf("Damaged = %+v, want record %d alone", d, l.acked[4])
	}
	if len(l.delivered) != 7 || l.delivered[4] {
		t.Fatalf("delivered %v, want all but event 4", l.delivered)
	}
	l.check(t, d)
}

// TestFullDiskSavesCursorsInPlace: with no reserve left, a cursor that exists is written
// over in place (no new block needed), so the passed segments still go.
func TestFullDiskSavesCursorsInPlace(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	s := openT(t, spool.Options{Dir: dir, Routes: []string{"a"}, SegmentBytes: 200, MaxBytes: 1 << 20, ReserveBytes: 256,
		CursorSyncInterval: 5 * time.Millisecond, FS: fsys})
	r, _ := s.Reader("a")
	l := newLedger()
	for n := range 40 {
		if _, err := s.Append(context.Background(), event(n)); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.Ack(rec.Offset)
	cursor := filepath.Join(dir, "cursors", "a")
	waitUntil(t, func() bool { _, err := os.Stat(cursor); return err == nil })
	os.Remove(filepath.Join(dir, "reserve")) // spent
	fsys.SetQuota(dir, spooltest.Used(dir))  // and not a byte more
	deliver(t, s, r, l, 0)
	waitUntil(t, func() bool {
		_, err := s.Append(context.Background(), event(40))
		return err == nil
	})
}

// TestFullDiskRecoversAfterARestart: a daemon restarted on a disk that is still full
// opens its spool, delivers, and frees room by itself.
func TestFullDiskRecoversAfterARestart(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	o := spool.Options{Dir: dir, Routes: []string{"a"}, SegmentBytes: 200, MaxBytes: 1 << 20, ReserveBytes: 256,
		CursorSyncInterval: 5 * time.Millisecond, FS: fsys}
	s, err := spool.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for n := range 40 {
		if _, err := s.Append(context.Background(), event(n)); err != nil {
			t.Fatal(err)
		}
	}
	fsys.SetQuota(dir, spooltest.Used(dir))
	if _, err := s.Append(context.Background(), event(40)); !errors.Is(err, spool.ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	s.Close()
	s2 := openT(t, o) // the disk is still full
	r, _ := s2.Reader("a")
	l := newLedger()
	deliver(t, s2, r, l, 0)
	if len(l.delivered) != 40 {
		t.Fatalf("delivered %d of 40 after the restart", len(l.delivered))
	}
	waitUntil(t, func() bool {
		_, err := s2.Append(context.Background(), event(40))
		return err == nil
	})
}
