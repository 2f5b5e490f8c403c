package spool

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Damage is a stretch of the spool that could not be read: records lost to a damaged
// disk, a torn write or a lost file. Each is logged once, counted, and listed by
// Damaged; its bytes, if there are any, are copied to SavedAs for inspection.
type Damage struct {
	// Segment is the file the damage is in (for Missing, the last file before the gap).
	Segment string `json:"segment"`
	// Byte is where the bad bytes start in Segment; Bytes is how many there are.
	Byte  int64 `json:"byte"`
	Bytes int64 `json:"bytes"`
	// FirstLost is the offset of the first record lost; NextGood the offset after the
	// last. At the very end of the spool how many records the bad bytes held is not
	// known: NextGood is then an upper bound (each record takes at least a header).
	FirstLost uint64 `json:"firstLost"`
	NextGood  uint64 `json:"nextGood"`
	// Torn: the bad bytes end the spool and look like a write a crash left unfinished,
	// which no source was told had succeeded (unless the damage only looks so).
	Torn bool `json:"torn,omitempty"`
	// Missing: the records' segment file is gone (deleted by hand, or lost).
	Missing bool `json:"missing,omitempty"`
	// SavedAs is the copy of the bad bytes, relative to the spool's directory.
	SavedAs string    `json:"savedAs,omitempty"`
	Found   time.Time `json:"found"`
}

func damageAt(seg *segment, res found) Damage {
	return Damage{
		Segment: filepath.Base(seg.path), Byte: res.badFrom, Bytes: res.badTo - res.badFrom,
		FirstLost: res.lostFrom, NextGood: res.lostTo,
	}
}

func (d Damage) key() string {
	if d.Missing {
		return fmt.Sprintf("missing@%d", d.FirstLost)
	}
	return fmt.Sprintf("%s@%d", d.Segment, d.Byte)
}

// maxDamageListed bounds the list Damaged returns; the count goes on.
const maxDamageListed = 1000

// damageLog is every damage found since Open, each reported once however many routes
// meet it.
type damageLog struct {
	mu    sync.Mutex
	seen  map[string]bool
	list  []Damage
	total int
}

// report records d and, the first time, copies its bytes out of src (the open segment)
// into damaged/ and logs it.
func (l *damageLog) report(s *Spool, d Damage, src io.ReaderAt) {
	l.mu.Lock()
	if l.seen[d.key()] || d.Missing && l.coversLocked(d.FirstLost, d.NextGood) {
		l.mu.Unlock()
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[d.key()] = true
	l.mu.Unlock()

	d.Found = time.Now().UTC()
	var saveErr error
	if d.Bytes > 0 && src != nil {
		saveErr = s.saveDamaged(&d, src)
	}
	log := s.opts.Logger
	args := []any{"segment", d.Segment, "byte", d.Byte, "bytes", d.Bytes, "firstLost", d.FirstLost, "nextGood", d.NextGood}
	if d.SavedAs != "" {
		args = append(args, "savedAs", filepath.Join(s.opts.Dir, d.SavedAs))
	}
	if saveErr != nil {
		args = append(args, "saveErr", saveErr)
	}
	switch {
	case d.Missing:
		log.Error("spool: records are missing: their segment file is gone", args...)
	case d.Torn:
		log.Warn("spool: cut an unfinished record off the end of the spool (a crash mid-write)", args...)
	default:
		log.Error("spool: damaged records skipped; reading resumes at the next intact record", args...)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if len(l.list) < maxDamageListed {
		l.list = append(l.list, d)
	}
}

// coversLocked tells whether the offsets from..to were reported lost already (a reader
// that reaches a stretch found damaged at Open sees it as missing).
func (l *damageLog) coversLocked(from, to uint64) bool {
	for _, d := range l.list {
		if d.FirstLost <= from && to <= d.NextGood {
			return true
		}
	}
	return false
}

func (l *damageLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// saveDamaged copies d's bytes to damaged/<segment>@<byte>.
func (s *Spool) saveDamaged(d *Damage, src io.ReaderAt) error {
	b := make([]byte, d.Bytes)
	n, err := src.ReadAt(b, d.Byte)
	if n < len(b) && err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	dir := filepath.Join(s.opts.Dir, "damaged")
	if err := s.fs.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	name := filepath.Join("damaged", fmt.Sprintf("%s@%d", d.Segment, d.Byte))
	if err := writeFileAtomic(s.fs, filepath.Join(s.opts.Dir, name), b[:n], !s.opts.NoSync); err != nil {
		return err
	}
	d.SavedAs = name
	return nil
}

// Damaged lists the damaged or missing stretches found since Open (the first 1000).
func (s *Spool) Damaged() []Damage {
	s.damage.mu.Lock()
	defer s.damage.mu.Unlock()
	return slices.Clone(s.damage.list)
}
