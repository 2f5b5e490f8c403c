package keycloak

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/atomicfile"
)

// PollerOptions configures the admin-events poller.
type PollerOptions struct {
	// Realms to poll; each needs "save events" (and "save admin events") on in Keycloak,
	// since the endpoints return stored events only.
	Realms []string
	// Interval between polls of a realm (default 5s).
	Interval time.Duration
	// PageSize is the max of each request (default 100).
	PageSize int
	// StateFile keeps the cursor across restarts, so a restart neither replays nor skips.
	// Required: without it a restart would start over.
	StateFile string
	// DatesOnly asks from the cursor's day rather than its millisecond (EventQuery.DatesOnly),
	// for Keycloak before 26.2; the events already taken are dropped here either way.
	DatesOnly bool
	// SkipUserEvents and SkipAdminEvents leave one endpoint out.
	SkipUserEvents, SkipAdminEvents bool
	Logger                          *slog.Logger
}

// Poller is the source for a Keycloak without a webhook extension: it reads
// GET /admin/realms/{realm}/events and /admin-events with the admin credentials and hands
// what is new to the sink.
//
// Its cursor per realm and endpoint is the newest event time seen plus the keys of the
// events at exactly that time: Keycloak's timestamps are milliseconds and several events
// can share one, so the next poll asks from that time again (dateFrom is inclusive) and
// drops the ones it already has. The cursor is saved only after the sink has made the
// events durable, so a crash in between delivers them again rather than losing them.
type Poller struct {
	admin *Admin
	sink  Sink
	opts  PollerOptions

	mu    sync.Mutex
	state pollState
}

// pollState is the StateFile's content: realm → endpoint ("events"/"admin-events") → cursor.
type pollState map[string]map[string]*pollCursor

type pollCursor struct {
	// Time is the newest event time taken, in epoch milliseconds.
	Time int64 `json:"time"`
	// Keys are the events taken whose time equals Time.
	Keys []string `json:"keys"`
}

// NewPoller loads the state file, if there is one, and returns a poller ready to Run.
func NewPoller(admin *Admin, sink Sink, o PollerOptions) (*Poller, error) {
	if len(o.Realms) == 0 {
		return nil, errors.New("keycloak poller: no realms to poll")
	}
	if o.StateFile == "" {
		return nil, errors.New("keycloak poller: no state file for the cursor")
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Poller{admin: admin, sink: sink, opts: o, state: pollState{}}
	b, err := os.ReadFile(o.StateFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("keycloak poller: state %s: %w", o.StateFile, err)
	default:
		if err := json.Unmarshal(b, &p.state); err != nil {
			return nil, fmt.Errorf("keycloak poller: state %s is corrupt: %w", o.StateFile, err)
		}
	}
	return p, nil
}

// Run polls every realm each interval until ctx ends. A failed poll is logged and tried
// again next interval; it does not end Run.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		for _, realm := range p.opts.Realms {
			if _, err := p.PollOnce(ctx, realm); err != nil && ctx.Err() == nil {
				p.opts.Logger.Warn("keycloak poll failed", "realm", realm, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce fetches what is new in realm from both endpoints, hands it to the sink, and
// saves the cursor. It reports how many events it handed over.
func (p *Poller) PollOnce(ctx context.Context, realm string) (int, error) {
	total := 0
	if !p.opts.SkipUserEvents {
		n, err := p.poll(ctx, realm, "events", p.admin.Events)
		total += n
		if err != nil {
			return total, err
		}
	}
	if !p.opts.SkipAdminEvents {
		n, err := p.poll(ctx, realm, "admin-events", p.admin.AdminEvents)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

type fetchFunc func(ctx context.Context, realm string, q EventQuery) ([]kete.Event, error)

func (p *Poller) poll(ctx context.Context, realm, endpoint string, fetch fetchFunc) (int, error) {
	p.mu.Lock()
	cur := p.cursor(realm, endpoint)
	from, seen := cur.Time, slices.Clone(cur.Keys)
	p.mu.Unlock()

	// Keycloak lists newest first; an event stored while we page pushes older ones to
	// later pages, which gives duplicates (dropped below), never gaps.
	var all []kete.Event
	for first := 0; ; first += p.opts.PageSize {
		q := EventQuery{First: first, Max: p.opts.PageSize, DatesOnly: p.opts.DatesOnly}
		if from > 0 {
			q.DateFrom = time.UnixMilli(from)
		}
		page, err := fetch(ctx, realm, q)
		var apiErr *APIError
		if err != nil && !q.DatesOnly && !q.DateFrom.IsZero() && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
			return 0, fmt.Errorf("%s of realm %s: %w (Keycloak before 26.2 takes dateFrom as a day only: set dates-only)", endpoint, realm, err)
		}
		if err != nil {
			return 0, fmt.Errorf("%s of realm %s: %w", endpoint, realm, err)
		}
		all = append(all, page...)
		if len(page) < p.opts.PageSize {
			break
		}
	}
	slices.SortStableFunc(all, func(a, b kete.Event) int { return cmp.Compare(a.Time, b.Time) })
	var fresh []kete.Event
	taken := map[string]bool{}
	for _, key := range seen {
		taken[key] = true
	}
	for _, e := range all {
		key := EventKey(&e)
		if e.Time < from || taken[key] {
			continue
		}
		taken[key] = true
		if e.ID == "" {
			e.ID = key
		}
		fresh = append(fresh, e)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if err := p.sink.Ingest(ctx, "keycloak", fresh); err != nil {
		return 0, fmt.Errorf("%s of realm %s: %w", endpoint, realm, err)
	}
	next := &pollCursor{Time: fresh[len(fresh)-1].Time}
	if next.Time == from {
		next.Keys = seen
	}
	for _, e := range fresh {
		if e.Time == next.Time {
			next.Keys = append(next.Keys, EventKey(&e))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state[realm][endpoint] = next
	return len(fresh), p.saveLocked()
}

func (p *Poller) cursor(realm, endpoint string) *pollCursor {
	if p.state[realm] == nil {
		p.state[realm] = map[string]*pollCursor{}
	}
	c := p.state[realm][endpoint]
	if c == nil {
		c = &pollCursor{}
		p.state[realm][endpoint] = c
	}
	return c
}

func (p *Poller) saveLocked() error {
	b, err := json.Marshal(p.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.opts.StateFile), 0o750); err != nil {
		return fmt.Errorf("keycloak poller: state: %w", err)
	}
	if err := atomicfile.WriteFile(p.opts.StateFile, b, true); err != nil {
		return fmt.Errorf("keycloak poller: state %s: %w", p.opts.StateFile, err)
	}
	return nil
}

// EventKey is e.Key(), the event's identity; kept for the poller's callers.
func EventKey(e *kete.Event) string { return e.Key() }
