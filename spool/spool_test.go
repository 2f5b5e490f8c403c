package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	o.Dir = dir
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := s.Append(ctxT(t), fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func readN(t *testing.T, r *Reader, n int, ack bool) []string {
	t.Helper()
	var got []string
	for range n {
		rec, err := r.Next(ctxT(t))
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, string(rec.Data))
		if ack {
			r.Ack(rec.Offset)
		}
	}
	return got
}

func want(from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf(`{"n":%d}`, i))
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestRoutesReadIndependentlyInOrder(t *testing.T) {
	s := open(t, t.TempDir(), Options{Routes: []string{"a", "b"}})
	a, _ := s.Reader("a")
	b, _ := s.Reader("b")
	appendN(t, s, 0, 10)
	equal(t, readN(t, a, 10, true), want(0, 10))
	equal(t, readN(t, b, 3, true), want(0, 3))
	st := s.Stats()
	if st.Backlog["a"] != 0 || st.Backlog["b"] != 7 {
		t.Fatalf("backlog = %v, want a:0 b:7", st.Backlog)
	}
	if _, err := s.Reader("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Reader(nope) error = %v, want one naming the route", err)
	}
}

func TestNextWaitsForAppend(t *testing.T) {
	s := open(t, t.TempDir(), Options{Routes: []string{"a"}})
	r, _ := s.Reader("a")
	got := make(chan string, 1)
	go func() {
		rec, err := r.Next(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(rec.Data)
	}()
	appendN(t, s, 0, 1)
	select {
	case g := <-got:
		equal(t, []string{g}, want(0, 1))
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after Append")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next on cancelled ctx = %v", err)
	}
}

func TestRestartResumesEachRouteAtItsCursor(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Routes: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Reader("a")
	b, _ := s.Reader("b")
	appendN(t, s, 0, 20)
	readN(t, a, 15, true)
	readN(t, b, 5, true)
	readN(t, b, 2, false) // handed out, never acked: must come again
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir, Options{Routes: []string{"a", "b", "c"}})
	a2, _ := s2.Reader("a")
	b2, _ := s2.Reader("b")
	c2, _ := s2.Reader("c")
	equal(t, readN(t, a2, 5, true), want(15, 5))
	equal(t, readN(t, b2, 15, true), want(5, 15))
	appendN(t, s2, 20, 1)
	// A route new to the spool starts at the oldest record kept: it skips nothing.
	equal(t, readN(t, c2, 21, true), want(0, 21))
}

func TestOutOfOrderAcksSaveTheLowestUnacked(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(Options{Dir: dir, Routes: []string{"a"}})
	r, _ := s.Reader("a")
	appendN(t, s, 0, 5)
	var recs []Record
	for range 5 {
		rec, _ := r.Next(ctxT(t))
		recs = append(recs, rec)
	}
	r.Ack(recs[0].Offset)
	r.Ack(recs[2].Offset)
	r.Ack(recs[3].Offset)
	if p := r.Position(); p != 1 {
		t.Fatalf("Position = %d, want 1", p)
	}
	s.Close()
	s2 := open(t, dir, Options{Routes: []string{"a"}})
	r2, _ := s2.Reader("a")
	// Offsets 2 and 3 come again: at-least-once, never a skip.
	equal(t, readN(t, r2, 4, true), want(1, 4))
}

func TestTornTailIsRepaired(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(Options{Dir: dir, Routes: []string{"a"}})
	appendN(t, s, 0, 3)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A header promising 200 bytes, then a crash.
	f.Write(appendFrame(nil, 3, make([]byte, 200))[:frameHeader+5])
	f.Close()
	s2 := open(t, dir, Options{Routes: []string{"a"}})
	if d := s2.Damaged(); len(d) != 1 || !d[0].Torn || d[0].Bytes != frameHeader+5 || d[0].FirstLost != 3 {
		t.Fatalf("after repair Damaged = %+v, want the torn tail of %d bytes from offset 3", d, frameHeader+5)
	}
	appendN(t, s2, 3, 2)
	s2.Close()
	s3 := open(t, dir, Options{Routes: []string{"a"}})
	r, _ := s3.Reader("a")
	equal(t, readN(t, r, 5, true), want(0, 5))
	if d := s3.Damaged(); len(d) != 0 {
		t.Fatalf("the cut tail was reported again: %+v", d)
	}
}

func TestSegmentsRotateAndAreDeletedOncePassed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Routes: []string{"a", "b"}, SegmentBytes: 100, MaxBytes: 1 << 20, CursorSyncInterval: 10 * time.Millisecond})
	a, _ := s.Reader("a")
	b, _ := s.Reader("b")
	appendN(t, s, 0, 40) // ~16 bytes each: several segments
	if n := s.Stats().Segments; n < 4 {
		t.Fatalf("segments = %d, want rotation into several", n)
	}
	equal(t, readN(t, a, 40, true), want(0, 40))
	equal(t, readN(t, b, 10, true), want(0, 10))
	// Segments b still needs stay; the rest go once b passes them.
	all := s.Stats().Segments
	waitFor(t, func() bool { return s.Stats().Segments < all })
	keptFor := s.Stats().Segments
	equal(t, readN(t, b, 30, true), want(10, 30))
	waitFor(t, func() bool { return s.Stats().Segments == 1 })
	if keptFor <= 1 {
		t.Fatalf("segments while b lagged = %d, want > 1", keptFor)
	}
}

func TestFullSpoolPushesBackThenRecovers(t *testing.T) {
	s := open(t, t.TempDir(), Options{Routes: []string{"a"}, MaxBytes: 400, SegmentBytes: 100, CursorSyncInterval: 10 * time.Millisecond})
	r, _ := s.Reader("a")
	var accepted int
	for i := range 100 {
		_, err := s.Append(ctxT(t), fmt.Appendf(nil, `{"n":%d}`, i))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
	}
	if accepted == 0 || accepted == 100 {
		t.Fatalf("accepted %d of 100 records into a 400-byte spool", accepted)
	}
	equal(t, readN(t, r, accepted, true), want(0, accepted))
	waitFor(t, func() bool {
		_, err := s.Append(ctxT(t), []byte(`{"n":"again"}`))
		return err == nil
	})
}

func TestConcurrentAppendersAllDurable(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(Options{Dir: dir, Routes: []string{"a"}})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := s.Append(context.Background(), fmt.Appendf(nil, "%d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	s2 := open(t, dir, Options{Routes: []string{"a", "all"}})
	r, _ := s2.Reader("all") // new: starts at the oldest record
	seen := map[string]bool{}
	for range 400 {
		rec, err := r.Next(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		seen[string(rec.Data)] = true
	}
	if len(seen) != 400 {
		t.Fatalf("distinct records = %d, want 400", len(seen))
	}
}

func TestDeadLettersRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Routes: []string{"r/1"}})
	if err := s.DeadLetter("r/1", Record{Offset: 7, Data: []byte(`{"id":"e1"}`)}, "500 from server"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeadLetter("r/1", Record{Offset: 8, Data: []byte("not json")}, "bad"); err != nil {
		t.Fatal(err)
	}
	dls, err := DeadLetters(dir, "r/1")
	if err != nil || len(dls) != 2 {
		t.Fatalf("DeadLetters = %v, %v", dls, err)
	}
	if string(dls[0].Data) != `{"id":"e1"}` || dls[0].Reason != "500 from server" || string(dls[1].Raw) != "not json" {
		t.Fatalf("dead letters = %+v", dls)
	}
	if err := KeepDeadLetters(dir, "r/1", dls[1:]); err != nil {
		t.Fatal(err)
	}
	dls, _ = DeadLetters(dir, "r/1")
	if len(dls) != 1 || dls[0].Offset != 8 {
		t.Fatalf("after keep = %+v", dls)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKilledAppenderLosesNothingAcknowledged runs an appender in a child process, kills
// it with SIGKILL mid-stream several times, and checks that every record the child
// reported as appended (Append returned nil) is in the spool afterwards.
func TestKilledAppenderLosesNothingAcknowledged(t *testing.T) {
	if os.Getenv("KETE_SPOOL_CHILD") != "" {
		childAppender(os.Getenv("KETE_SPOOL_CHILD"))
		return
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledAppenderLosesNothingAcknowledged$")
		cmd.Env = append(os.Environ(), "KETE_SPOOL_CHILD="+dir, "KETE_SPOOL_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				acked[line] = true
				if n++; n == 300 {
					cmd.Process.Signal(syscall.SIGKILL)
				}
			}
		}
		cmd.Wait()
		if n < 300 {
			t.Fatalf("round %d: child acknowledged only %d records", round, n)
		}
	}
	s := open(t, dir, Options{Routes: []string{"a", "all"}})
	r, _ := s.Reader("all") // new: starts at the oldest record
	total := s.Stats().Written
	found := map[string]bool{}
	for range total {
		rec, err := r.Next(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		found[string(rec.Data)] = true
	}
	for k := range acked {
		if !found[k] {
			t.Fatalf("record %s was acknowledged to the child but is missing after SIGKILL", k)
		}
	}
	t.Logf("%d records acknowledged across 4 kills, %d on disk", len(acked), total)
}

func childAppender(dir string) {
	s, err := Open(Options{Dir: dir, Routes: []string{"a"}})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	round := os.Getenv("KETE_SPOOL_ROUND")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				rec := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				if _, err := s.Append(context.Background(), []byte(rec)); err != nil {
					return
				}
				mu.Lock()
				fmt.Println("acked", rec)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

func BenchmarkAppendGroupCommit(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), Routes: []string{"a"}, MaxBytes: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 300)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(context.Background(), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestDeadLetterWaitsForAReplayHoldingTheLock(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Routes: []string{"r"}})
	if err := s.DeadLetter("r", Record{Offset: 1, Data: []byte(`{"id":"old"}`)}, "x"); err != nil {
		t.Fatal(err)
	}
	unlock, err := LockDeadLetters(dir, "r")
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- s.DeadLetter("r", Record{Offset: 2, Data: []byte(`{"id":"new"}`)}, "y") }()
	// The replay reads, sends and rewrites while the daemon's append waits.
	letters, _ := DeadLetters(dir, "r")
	select {
	case err := <-written:
		t.Fatalf("dead letter written while the replay held the lock (%v)", err)
	default:
	}
	if err := KeepDeadLetters(dir, "r", letters[:0]); err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	left, _ := DeadLetters(dir, "r")
	if len(left) != 1 || string(left[0].Data) != `{"id":"new"}` {
		t.Fatalf("after replay and a concurrent dead letter: %+v, want only the new one", left)
	}
}

// BenchmarkAppendNoSync is the group-commit benchmark without the disk: what framing and
// bookkeeping cost per record.
func BenchmarkAppendNoSync(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), Routes: []string{"a"}, MaxBytes: 8 << 30, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 300)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(context.Background(), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
