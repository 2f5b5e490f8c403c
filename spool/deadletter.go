package spool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/kete-dev/kete/internal/atomicfile"
)

// DeadLetter is a record a route gave up on after its retries, kept so an operator can
// see why and send it again (`kete deadletters list|replay ROUTE`).
type DeadLetter struct {
	Offset uint64          `json:"offset"`
	Time   time.Time       `json:"time"`
	Reason string          `json:"reason"`
	Data   json.RawMessage `json:"data,omitempty"`
	// Raw carries a record that is not JSON, base64-encoded by encoding/json.
	Raw []byte `json:"raw,omitempty"`
}

func deadLetterPath(dir, route string) string {
	return filepath.Join(dir, "deadletters", url.PathEscape(route)+".jsonl")
}

// DeadLetter appends rec to route's dead-letter file and syncs it; the caller acks the
// record only after this returns nil, so a failure here keeps the record in the spool.
func (s *Spool) DeadLetter(route string, rec Record, reason string) error {
	dl := DeadLetter{Offset: rec.Offset, Time: time.Now().UTC(), Reason: reason}
	if json.Valid(rec.Data) {
		dl.Data = rec.Data
	} else {
		dl.Raw = rec.Data
	}
	line, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("spool: dead letter for route %s: %w", route, err)
	}
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	unlock, err := LockDeadLetters(s.opts.Dir, route)
	if err != nil {
		return fmt.Errorf("spool: dead letter for route %s: %w", route, err)
	}
	defer unlock()
	f, err := os.OpenFile(deadLetterPath(s.opts.Dir, route), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: dead letter for route %s: %w", route, err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil && !s.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: dead letter for route %s: %w", route, err)
	}
	return nil
}

// DeadLetters reads route's dead letters from the spool in dir; the spool need not be
// open, so `kete deadletters list` works beside a running daemon.
func DeadLetters(dir, route string) ([]DeadLetter, error) {
	f, err := os.Open(deadLetterPath(dir, route))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: dead letters of route %s: %w", route, err)
	}
	defer f.Close()
	var out []DeadLetter
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxRecordBytes*2)
	for line := 1; sc.Scan(); line++ {
		var dl DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil {
			return out, fmt.Errorf("spool: dead letters of route %s, line %d: %w", route, line, err)
		}
		out = append(out, dl)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("spool: dead letters of route %s: %w", route, err)
	}
	return out, nil
}

// LockDeadLetters locks route's dead-letter file against the daemon's appends (across
// processes) until the returned function is called. A replay holds it from reading the
// letters to writing back the ones that failed again, so that a letter the daemon adds
// meanwhile waits instead of being lost in the rewrite.
func LockDeadLetters(dir, route string) (unlock func(), err error) {
	return lockFile(deadLetterPath(dir, route) + ".lock")
}

// KeepDeadLetters replaces route's dead-letter file with keep, atomically: a replay
// calls it, holding LockDeadLetters, with the letters that failed again.
func KeepDeadLetters(dir, route string, keep []DeadLetter) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, dl := range keep {
		if err := enc.Encode(dl); err != nil {
			return fmt.Errorf("spool: dead letters of route %s: %w", route, err)
		}
	}
	if err := atomicfile.WriteFile(deadLetterPath(dir, route), buf.Bytes(), true); err != nil {
		return fmt.Errorf("spool: dead letters of route %s: %w", route, err)
	}
	return nil
}
