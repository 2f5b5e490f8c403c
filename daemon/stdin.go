package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
)

// ReadLines is the stdin source (`kete run --stdin`): one event, or an array of events, per
// line, in any shape keycloak.DecodeEvents knows, handed to sink in batches of up to
// batch lines. It stops at EOF or at the first bad line, naming its number, so that a
// replay never silently skips an event. While the spool pushes back (full, or unable to
// write), it waits and tries the batch again rather than stopping: a pipe can wait, and
// the lines behind it stay unread until there is room.
func ReadLines(ctx context.Context, r io.Reader, sink keycloak.Sink, batch int) (int, error) {
	if batch <= 0 {
		batch = 100
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var pending []kete.Event
	total := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := ingestWaiting(ctx, sink, pending); err != nil {
			return err
		}
		total += len(pending)
		pending = pending[:0]
		return nil
	}
	lines := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		if len(text) == 0 {
			continue
		}
		events, bad, err := keycloak.DecodeEvents(text)
		if err != nil {
			return total, fmt.Errorf("stdin line %d: %w", line, err)
		}
		if len(bad) > 0 {
			return total, fmt.Errorf("stdin line %d: %s", line, bad[0].Error())
		}
		pending = append(pending, events...)
		if lines++; lines%batch == 0 {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return total, fmt.Errorf("stdin: %w", err)
	}
	return total, flush()
}

// ingestWaiting hands events to sink, waiting with the retry policy's backoff for as long
// as the spool pushes back and ctx lasts; any other error is returned at once.
func ingestWaiting(ctx context.Context, sink keycloak.Sink, events []kete.Event) error {
	var wait *kete.Backoff
	for {
		err := sink.Ingest(ctx, "stdin", events)
		if err == nil || !IsBackPressure(err) {
			return err
		}
		if wait == nil {
			wait = kete.Retry{}.Backoff()
		}
		t := time.NewTimer(wait.Next())
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stdin: %w (while the spool pushed back: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
