package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondOpenIsRefusedNamingTheDirectoryAndPid(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Routes: []string{"a"}})
	_, err := Open(Options{Dir: dir, Routes: []string{"a"}})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open = %v, want ErrLocked naming %s and pid %d", err, dir, os.Getpid())
	}
	s.Close()
	s2 := open(t, dir, Options{Routes: []string{"a"}}) // released by Close
	s2.Close()
}

func TestCursorPastTheEndIsAnErrorNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Routes: []string{"a"}})
	appendN(t, s, 0, 5)
	s.Close()
	path := filepath.Join(dir, "cursors", "a")
	os.WriteFile(path, formatCursor(500), 0o640)
	_, err := Open(Options{Dir: dir, Routes: []string{"a"}})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "past the end") {
		t.Fatalf("Open with a cursor past the end = %v, want an error naming %s", err, path)
	}
}

func TestLostOrDamagedCursorStartsAtTheOldestRecord(t *testing.T) {
	for _, damage := range []struct {
		name  string
		apply func(path string)
	}{
		{"lost", func(path string) { os.Remove(path) }},
		{"flipped digit", func(path string) {
			b, _ := os.ReadFile(path)
			b[0] = '9'
			os.WriteFile(path, b, 0o640)
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{Routes: []string{"a"}})
			r, _ := s.Reader("a")
			appendN(t, s, 0, 20)
			readN(t, r, 3, true)
			s.Close()
			damage.apply(filepath.Join(dir, "cursors", "a"))
			var logs bytes.Buffer
			s2 := open(t, dir, Options{Routes: []string{"a"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			r2, _ := s2.Reader("a")
			equal(t, readN(t, r2, 20, true), want(0, 20))
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "oldest record") {
				t.Fatalf("no warning logged:\n%s", logs.String())
			}
		})
	}
}

// writeV1 writes a segment in the framing kete used before v2.
func writeV1(t *testing.T, path string, records ...string) {
	t.Helper()
	var b []byte
	for _, r := range records {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum([]byte(r), castagnoli))
		b = append(b, r...)
	}
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestSegmentsOfTheOldFramingAreRead(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "cursors"), 0o750)
	writeV1(t, filepath.Join(dir, "seg-00000000000000000000.log"), want(0, 3)...)
	writeV1(t, filepath.Join(dir, "seg-00000000000000000003.log"), want(3, 3)...)
	os.WriteFile(filepath.Join(dir, "cursors", "a"), []byte("1\n"), 0o640) // the old cursor format
	s := open(t, dir, Options{Routes: []string{"a"}})
	r, _ := s.Reader("a")
	appendN(t, s, 6, 2)
	equal(t, readN(t, r, 7, true), want(1, 7))
	s.Close()
	if segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.v2.log")); len(segs) != 1 {
		t.Fatalf("v2 segments = %v, want the one new records went to", segs)
	}
	// Passed old segments are deleted like new ones; what is left reads after a restart.
	if segs, _ := filepath.Glob(filepath.Join(dir, "seg-*")); len(segs) != 1 {
		t.Fatalf("segments after every route passed the old ones: %v", segs)
	}
	s2 := open(t, dir, Options{Routes: []string{"a", "b"}})
	b, _ := s2.Reader("b")
	equal(t, readN(t, b, 2, true), want(6, 2))
}

// TestDamageInTheMiddleCostsOneRecord is the case that lost 50 of 100 events: one
// flipped bit in record 50 costs record 50, reported, and nothing else.
func TestDamageInTheMiddleCostsOneRecord(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Routes: []string{"a"}})
	appendN(t, s, 0, 100)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	b, _ := os.ReadFile(segs[0])
	at := bytes.Index(b, []byte(`{"n":50}`))
	b[at+3] ^= 0x01
	os.WriteFile(segs[0], b, 0o640)
	s2 := open(t, dir, Options{Routes: []string{"a"}})
	d := s2.Damaged()
	if len(d) != 1 || d[0].FirstLost != 50 || d[0].NextGood != 51 || d[0].Torn {
		t.Fatalf("Damaged = %+v, want record 50 alone", d)
	}
	saved, err := os.ReadFile(filepath.Join(dir, d[0].SavedAs))
	if err != nil || !bytes.Contains(saved, []byte(`:50}`)) {
		t.Fatalf("saved damaged bytes %q, %v; want record 50's", saved, err)
	}
	r, _ := s2.Reader("a")
	got := readN(t, r, 99, true)
	equal(t, got, append(want(0, 50), want(51, 49)...))
	if st := s2.Stats(); st.Backlog["a"] != 0 || st.Damaged != 1 {
		t.Fatalf("Stats = %+v, want backlog 0 and one damage", st)
	}
}
