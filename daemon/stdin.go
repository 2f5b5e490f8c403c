package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
)

// ReadLines is the stdin source (`kete run --stdin`): one event, or an array of events, per
// line, in any shape keycloak.DecodeEvents knows, handed to sink in batches of up to
// batch lines. It stops at EOF or at the first bad line, naming its number, so that a
// replay never silently skips an event.
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
		if err := sink.Ingest(ctx, "stdin", pending); err != nil {
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
