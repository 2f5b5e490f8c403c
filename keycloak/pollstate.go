package keycloak

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kete-dev/kete/internal/atomicfile"
)

// pollState is the poller's state file: realm → endpoint ("events"/"admin-events") →
// cursor, as JSON, written whole and atomically after every page taken:
//
//	{"acme":{"events":{"time":1764770000123,"taken":{"<key>":1764770000123,…}}}}
//
// The first version of the file had "keys" (the events taken at exactly "time") instead
// of "taken"; it is read as "taken" with each of those keys at "time" and a "floor" at
// "time" (that version took everything before it, but kept no keys to tell which, so no
// poll may look back past it), and written in the current form from the next save on.
type pollState map[string]map[string]*pollCursor

// pollCursor is where one endpoint of one realm stands.
type pollCursor struct {
	// Time is the newest event time taken, in epoch milliseconds.
	Time int64 `json:"time"`
	// Taken holds the key (kete.Event.Key) and time of each event taken at or after Time minus
	// the look-back, the ones a poll may see again.
	Taken map[string]int64 `json:"taken"`
	// Floor, when set, is a time no poll looks back past: everything before it was taken
	// by the first version of the file, which kept no keys for it.
	Floor int64 `json:"floor,omitempty"`
	// Keys is the first version's field, read only to migrate it into Taken.
	Keys []string `json:"keys,omitempty"`
}

func loadPollState(path string) (pollState, error) {
	state := pollState{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return state, nil
	case err != nil:
		return nil, fmt.Errorf("keycloak poller: state %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &state); err != nil {
		return nil, fmt.Errorf("keycloak poller: state %s is corrupt: %w", path, err)
	}
	for _, endpoints := range state {
		for _, c := range endpoints {
			if c == nil {
				continue
			}
			if c.Taken != nil {
				continue
			}
			// The first version: no "taken", and "keys" possibly null.
			c.Taken = map[string]int64{}
			for _, k := range c.Keys {
				c.Taken[k] = c.Time
			}
			c.Floor, c.Keys = c.Time, nil
		}
	}
	return state, nil
}

func (s pollState) cursor(realm, endpoint string) *pollCursor {
	if s[realm] == nil {
		s[realm] = map[string]*pollCursor{}
	}
	c := s[realm][endpoint]
	if c == nil {
		c = &pollCursor{Taken: map[string]int64{}}
		s[realm][endpoint] = c
	}
	return c
}

func (s pollState) save(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("keycloak poller: state: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, true); err != nil {
		return fmt.Errorf("keycloak poller: state %s: %w", path, err)
	}
	return nil
}

func (c *pollCursor) taken(key string) bool {
	_, ok := c.Taken[key]
	return ok
}

// prune forgets the events older than from: no poll asks for them again.
func (c *pollCursor) prune(from int64) {
	for k, t := range c.Taken {
		if t < from {
			delete(c.Taken, k)
		}
	}
}
