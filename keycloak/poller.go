package keycloak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/outage"
)

// PollerOptions configures the events poller. Zero fields take the documented defaults.
type PollerOptions struct {
	// Realms to poll; each needs "save events" (and "save admin events") on in Keycloak,
	// since the endpoints return stored events only.
	Realms []string
	// Interval between polls of a realm (default 5s).
	Interval time.Duration
	// PageSize is the max of each request (default 100).
	PageSize int
	// Lookback is how far behind the newest event taken each poll asks again (default
	// 60s), for events that become visible late: Keycloak stamps an event's time before its
	// transaction commits, and the nodes of a cluster stamp it with their own clocks. An
	// event that commits later than Lookback after a newer one was taken is missed.
	Lookback time.Duration
	// StateFile keeps the cursor across restarts, so a restart neither replays nor skips.
	// Required: without it a restart would start over.
	StateFile string
	// DatesOnly is for Keycloak before 26.2, whose endpoints take dateFrom as a day only
	// and have no direction: the poller asks from the day before the cursor's (the day is
	// read in Keycloak's time zone, which kete does not know), pages newest first by offset,
	// and stops once a page is older than the cursor.
	DatesOnly bool
	// SkipUserEvents and SkipAdminEvents leave one endpoint out.
	SkipUserEvents, SkipAdminEvents bool
	// ConfigureRealms turns on saving user events, admin events and admin details in each
	// realm before its first poll (Admin.EnableRealmEvents; needs manage-events), retrying
	// each interval until it succeeds (realmevents.go).
	ConfigureRealms bool
	// OnPoll, if set, is told the outcome of each poll of a realm: nil when both endpoints
	// were read and everything new was handed to the sink. The daemon's readiness and
	// metrics hang on it.
	OnPoll func(realm string, err error)
	Logger *slog.Logger
}

// withDefaults returns o with each zero field set to the default its comment names; a nil
// Logger discards.
func (o PollerOptions) withDefaults() PollerOptions {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultPollLookback
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// DefaultPollLookback is PollerOptions.Lookback's default.
const DefaultPollLookback = 60 * time.Second

// Poller is the source for a Keycloak without a webhook extension: it reads
// GET /admin/realms/{realm}/events and /admin-events with the admin credentials and hands
// what is new to the sink.
//
// Keycloak's events come in the order of their time and nothing else (JpaEventQuery,
// JpaAdminEventQuery): events that share a millisecond may come in a different order on
// each request, and an event may become visible after newer ones (its time is stamped
// before its transaction commits). So the poller never trusts a position, only times and
// identities: each poll asks again from Lookback before the newest event taken, and the
// cursor keeps the key (kete.Event.Key) of every event taken within that window, so what comes
// again is dropped and what came late is taken.
//
// On Keycloak 26.2+ it reads oldest first (direction=asc) and pages by keyset: the next
// page starts at the last row's time (dateFrom is inclusive), so ties split by a page
// boundary come again whole; a page that is all one millisecond is asked again with a
// doubled max until the millisecond fits. Each page is handed to the sink and the cursor
// saved before the next is asked, so a first poll of a long history holds one page in
// memory and resumes after a crash from the last page saved. Before 26.2 (DatesOnly) see
// PollerOptions.DatesOnly.
//
// The cursor is saved only after the sink has made the events durable, so a crash in
// between delivers them again rather than losing them.
type Poller struct {
	admin *Admin
	sink  Sink
	opts  PollerOptions

	// outages logs each realm's spells of failed polls: a line when polls start failing,
	// then at growing intervals with a count, and one when a poll works again, rather than
	// a warning every interval for as long as Keycloak is away.
	outages map[string]*outage.Log
	// configOutages does the same for ConfigureRealms, which is tried each interval until
	// it works.
	configOutages map[string]*outage.Log

	// mu serialises polls and guards state.
	mu    sync.Mutex
	state pollState
}

// NewPoller loads the state file, if there is one, and returns a poller ready to Run.
func NewPoller(admin *Admin, sink Sink, o PollerOptions) (*Poller, error) {
	if len(o.Realms) == 0 {
		return nil, errors.New("keycloak poller: no realms to poll")
	}
	if o.StateFile == "" {
		return nil, errors.New("keycloak poller: no state file for the cursor")
	}
	o = o.withDefaults()
	state, err := loadPollState(o.StateFile)
	if err != nil {
		return nil, err
	}
	outages := make(map[string]*outage.Log, len(o.Realms))
	for _, realm := range o.Realms {
		outages[realm] = outage.New(o.Logger.With("realm", realm), outage.Options{
			Down:      "keycloak poll failed; retrying each interval",
			StillDown: "keycloak poll still failing",
			Up:        "keycloak poll works again",
		})
	}
	configOutages := make(map[string]*outage.Log, len(o.Realms))
	if o.ConfigureRealms {
		for _, realm := range o.Realms {
			configOutages[realm] = outage.New(o.Logger.With("realm", realm), outage.Options{
				Down:      "could not turn on saving events in the realm; will try again",
				StillDown: "still cannot turn on saving events in the realm",
				Up:        "saving events in the realm is checked again",
			})
		}
	}
	return &Poller{admin: admin, sink: sink, opts: o, state: state, outages: outages, configOutages: configOutages}, nil
}

// Run polls every realm each interval until ctx ends. A failed poll is reported to OnPoll
// and tried again next interval; it does not end Run. Failures are logged per realm as
// outages (internal/outage): one warning when a realm's polls start failing, a count at
// growing intervals while they go on, and an info line when one works again.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	configured := map[string]bool{}
	for {
		for _, realm := range p.opts.Realms {
			if p.opts.ConfigureRealms && !configured[realm] {
				configured[realm] = p.configureRealm(ctx, realm)
			}
			_, err := p.PollOnce(ctx, realm)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				p.outages[realm].Failed(err)
			} else {
				p.outages[realm].Succeeded()
			}
			if p.opts.OnPoll != nil {
				p.opts.OnPoll(realm, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce fetches what is new in realm from both endpoints, hands it to the sink page by
// page, and saves the cursor after each page. It reports how many events it handed over.
// Calls are serialised.
func (p *Poller) PollOnce(ctx context.Context, realm string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	cur := p.state.cursor(realm, endpoint)
	var n int
	var err error
	if p.opts.DatesOnly {
		n, err = p.pollNewestFirst(ctx, realm, cur, fetch)
	} else {
		n, err = p.pollOldestFirst(ctx, realm, cur, fetch)
	}
	var fetchErr fetchError
	if err != nil && !errors.As(err, &fetchErr) {
		return n, fmt.Errorf("keycloak: %s of realm %q: %w", endpoint, realm, err)
	}
	return n, err
}

// fetchError is a failed request for a page of events. The admin client's error names
// the endpoint and the realm already (Admin.Events, Admin.AdminEvents), so poll does not
// wrap it in them again; what else fails (the sink, the cursor file) it does.
type fetchError struct{ error }

func (e fetchError) Unwrap() error { return e.error }

// from is the oldest time a poll asks for: Lookback before the newest event taken (not
// past the cursor's floor), or the beginning on a first poll.
func (p *Poller) from(cur *pollCursor) int64 {
	if cur.Time == 0 {
		return 0
	}
	return max(cur.Time-p.opts.Lookback.Milliseconds(), cur.Floor, 0)
}

// pollOldestFirst reads with direction=asc and keyset paging (Keycloak 26.2+).
func (p *Poller) pollOldestFirst(ctx context.Context, realm string, cur *pollCursor, fetch fetchFunc) (int, error) {
	pageFrom, size, total := p.from(cur), p.opts.PageSize, 0
	for {
		q := EventQuery{Max: size, Direction: "asc"}
		if pageFrom > 0 {
			q.DateFrom = time.UnixMilli(pageFrom)
		}
		page, err := fetch(ctx, realm, q)
		if err != nil {
			return total, explainFetchError(err, q)
		}
		for i := 1; i < len(page); i++ {
			if page[i].Time < page[i-1].Time {
				return total, errors.New("asked for direction=asc, got newest first: Keycloak before 26.2 has no direction parameter; set dates-only")
			}
		}
		n, err := p.take(ctx, cur, page, pageFrom, true)
		total += n
		if err != nil || len(page) < size {
			return total, err
		}
		if last := page[len(page)-1].Time; last != pageFrom {
			pageFrom, size = last, p.opts.PageSize
		} else {
			// A whole page of one millisecond: asking from it again would return the same
			// page, so ask for more rows at once until the millisecond fits.
			size *= 2
		}
	}
}

// pollNewestFirst reads newest first by offset, asking from the day before the cursor's
// (Keycloak before 26.2).
func (p *Poller) pollNewestFirst(ctx context.Context, realm string, cur *pollCursor, fetch fetchFunc) (int, error) {
	from := p.from(cur)
	var day time.Time
	if from > 0 {
		// Keycloak reads the day in its JVM's zone, from UTC-12 to UTC+14: the UTC day
		// before starts no later than from in any of them.
		day = time.UnixMilli(from).UTC().AddDate(0, 0, -1)
	}
	first, size, total := 0, p.opts.PageSize, 0
	newest := cur.Time
	for {
		q := EventQuery{First: first, Max: size, DateFrom: day, DatesOnly: true}
		page, err := fetch(ctx, realm, q)
		if err != nil {
			return total, explainFetchError(err, q)
		}
		n, err := p.take(ctx, cur, page, from, false)
		total += n
		if err != nil {
			return total, err
		}
		for _, e := range page {
			newest = max(newest, e.Time)
		}
		if len(page) < size || page[len(page)-1].Time < from {
			break
		}
		// The next page starts where this page's last millisecond starts, so that its ties,
		// which the next request may order differently, all come again in one answer; a page
		// that is all one millisecond is asked again with a doubled max until it fits.
		// Events stored meanwhile push rows down, giving repeats (dropped), never gaps.
		last := page[len(page)-1].Time
		j := slices.IndexFunc(page, func(e kete.Event) bool { return e.Time == last })
		if j == 0 {
			size *= 2
		} else {
			first, size = first+j, p.opts.PageSize
		}
	}
	// Only now is every event up to newest taken: a crash before this point starts the
	// pass again, and the keys saved page by page drop what was taken.
	if newest != cur.Time {
		cur.Time = newest
		cur.prune(p.from(cur))
		return total, p.state.save(p.opts.StateFile)
	}
	return total, nil
}

// take hands the events of page at or after from that the cursor has not taken to the
// sink, then records them in the cursor and saves it; advance moves the cursor's time to
// the newest of them (oldest-first paging, where everything before is taken).
func (p *Poller) take(ctx context.Context, cur *pollCursor, page []kete.Event, from int64, advance bool) (int, error) {
	var fresh []kete.Event
	for _, e := range page {
		key := e.Key()
		if e.Time < from || cur.taken(key) {
			continue
		}
		if e.ID == "" {
			e.ID = key
		}
		cur.Taken[key] = e.Time // also drops a repeat within the page
		fresh = append(fresh, e)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if err := p.sink.Ingest(ctx, "keycloak", fresh); err != nil {
		for _, e := range fresh {
			delete(cur.Taken, e.ID)
		}
		return 0, err
	}
	if advance {
		for _, e := range fresh {
			cur.Time = max(cur.Time, e.Time)
		}
		cur.prune(p.from(cur))
	}
	return len(fresh), p.state.save(p.opts.StateFile)
}

// explainFetchError marks err as a fetchError, and adds the setting to change when
// Keycloak refuses epoch milliseconds.
func explainFetchError(err error, q EventQuery) error {
	var apiErr *APIError
	if !q.DatesOnly && !q.DateFrom.IsZero() && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
		return fetchError{fmt.Errorf("%w (Keycloak before 26.2 takes dateFrom as a day only: set dates-only)", err)}
	}
	return fetchError{err}
}
