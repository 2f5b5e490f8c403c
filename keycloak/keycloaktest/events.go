package keycloaktest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kete-dev/kete"
)

// The stored-events endpoints, as each Keycloak version answers them. The sources copied:
//
//   - RealmAdminResource.getEvents and getAdminEvents (keycloak/keycloak,
//     services/.../resources/admin/RealmAdminResource.java): the query parameters, the
//     default max of 100 (Constants.DEFAULT_MAX_RESULTS), and how dateFrom is read: before
//     26.2 by new SimpleDateFormat("yyyy-MM-dd"), a day in the JVM's default time zone; from
//     26.2 by DateUtil.toStartOfDay/toEndOfDay, a day in UTC or epoch milliseconds. The
//     direction parameter exists from 26.2 only; before, JAX-RS binds no parameter of that
//     name and the request is answered as if it were absent.
//   - JpaEventQuery and JpaAdminEventQuery.getResultStream (model/jpa/.../events/jpa):
//     "order by time" and nothing else, then setFirstResult/setMaxResults. Rows that share a
//     millisecond come in whatever order the database's plan gives, which may differ from
//     one request to the next; the stand-in shuffles them on every request.
//   - EventBuilder.send and AdminEventBuilder.send (services/.../events): the event's time
//     is Time.currentTimeMillis() when it is built, and the row becomes visible only when
//     the request's transaction commits, later and in any order (BeginEvent).
//   - ModelToRepresentation.toRepresentation(Event): older versions carry no id
//     (EventBuilder.send set none); WithoutEventIDs.

// eventOptions are the options of the events endpoints.
type eventOptions struct {
	version    string
	datesOnly  bool
	zone       *time.Location
	noEventIDs bool
	seed       uint64
}

// eventsAPI is how the events endpoints of the configured version behave.
type eventsAPI struct {
	// before262 answers like Keycloak before 26.2: dateFrom/dateTo are days in zone, and
	// direction is ignored.
	before262  bool
	zone       *time.Location
	noEventIDs bool
	// rng orders ties; used under Server.mu.
	rng *rand.Rand
}

func newEventsAPI(o eventOptions) (eventsAPI, error) {
	api := eventsAPI{before262: o.datesOnly, zone: o.zone, noEventIDs: o.noEventIDs,
		rng: rand.New(rand.NewPCG(o.seed, 0x6b657465))}
	if api.zone == nil {
		api.zone = time.UTC
	}
	if o.version != "" {
		major, minor, err := parseVersion(o.version)
		if err != nil {
			return eventsAPI{}, err
		}
		if major < 26 || major == 26 && minor < 2 {
			api.before262 = true
		}
	}
	return api, nil
}

func parseVersion(v string) (major, minor int, err error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("keycloaktest: version %q: want major.minor[.patch]", v)
	}
	if major, err = strconv.Atoi(parts[0]); err == nil {
		minor, err = strconv.Atoi(parts[1])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("keycloaktest: version %q: %w", v, err)
	}
	return major, minor, nil
}

// WithVersion makes the events endpoints answer like that Keycloak version ("26.1.4",
// "25.0"); the default is the latest. Before 26.2, dateFrom and dateTo are days only,
// parsed in the JVM's time zone (WithTimeZone), epoch milliseconds get 400
// (keycloak#36600), and direction is ignored: events come newest first.
func WithVersion(v string) Option {
	return func(o *options) { o.events.version = v }
}

// WithDatesOnly is WithVersion("26.1"): the events endpoints of Keycloak before 26.2.
func WithDatesOnly() Option {
	return func(o *options) { o.events.datesOnly = true }
}

// WithTimeZone is the JVM's default time zone (default UTC), in which Keycloak before 26.2
// reads a dateFrom or dateTo day (SimpleDateFormat with no zone set).
func WithTimeZone(loc *time.Location) Option {
	return func(o *options) { o.events.zone = loc }
}

// WithoutEventIDs stores and returns events without an id, as older Keycloak versions did.
func WithoutEventIDs() Option {
	return func(o *options) { o.events.noEventIDs = true }
}

// WithTieSeed seeds the order in which events that share a millisecond are returned
// (default 0). Every request draws a new order from it, so a run is repeatable.
func WithTieSeed(seed uint64) Option {
	return func(o *options) { o.events.seed = seed }
}

// AddEvent stores e in realm as Keycloak's event store would, visible at once: an admin
// event (Kind ADMIN_EVENT) for the admin-events endpoint, otherwise a user event. A blank
// ID, RealmID or Time is filled (a new id unless WithoutEventIDs, the realm's id, now).
func (s *Server) AddEvent(realmName string, e kete.Event) {
	s.BeginEvent(realmName, e)()
}

// BeginEvent stamps e as AddEvent does (its Time, if blank, is now) but keeps it out of
// the events endpoints until commit is called, as Keycloak's EventBuilder.send and
// AdminEventBuilder.send stamp the time when the event is built and the row becomes
// visible when the request's transaction commits: a slow request, or another node, makes
// an event visible after newer ones. commit may be called once; later calls do nothing.
func (s *Server) BeginEvent(realmName string, e kete.Event) (commit func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		r = s.addRealm(realmName)
	}
	switch {
	case s.events.noEventIDs:
		e.ID = ""
	case e.ID == "":
		e.ID = newUUID()
	}
	if e.RealmID == "" {
		e.RealmID = r.id
	}
	if e.Time == 0 {
		e.Time = time.Now().UnixMilli()
	}
	if e.Kind != kete.KindAdminEvent {
		e.Kind = kete.KindEvent
	}
	done := false
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if done {
			return
		}
		done = true
		if e.Kind == kete.KindAdminEvent {
			r.adminEvents = append(r.adminEvents, e)
		} else {
			r.events = append(r.events, e)
		}
	}
}

// query answers what both stored-event endpoints share: it reads first and max (default
// 100), then dateFrom and dateTo, then direction, and returns the events in that range
// that keep accepts, sorted and paged. On a bad parameter it has answered 400 and
// reports false.
func (api *eventsAPI) query(w http.ResponseWriter, q url.Values, events []kete.Event, keep func(*kete.Event) bool) ([]kete.Event, bool) {
	first, max, ok := paging(w, q, 100)
	if !ok {
		return nil, false
	}
	from, to, ok := api.timeRange(w, q)
	if !ok {
		return nil, false
	}
	asc, ok := api.direction(w, q)
	if !ok {
		return nil, false
	}
	inRange := func(e *kete.Event) bool { return e.Time >= from && e.Time <= to && keep(e) }
	return api.sorted(events, inRange, asc, first, max), true
}

// sorted returns the events keep accepts, ordered by time (newest first unless asc) with
// ties in a new random order, then paged, as JpaEventQuery does with no tiebreaker.
func (api *eventsAPI) sorted(events []kete.Event, keep func(*kete.Event) bool, asc bool, first, max int) []kete.Event {
	var out []kete.Event
	for i := range events {
		if keep(&events[i]) {
			out = append(out, events[i])
		}
	}
	api.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	slices.SortStableFunc(out, func(a, b kete.Event) int {
		if asc {
			return compareInt(a.Time, b.Time)
		}
		return compareInt(b.Time, a.Time)
	})
	if first >= len(out) {
		return nil
	}
	out = out[first:]
	if max >= 0 && max < len(out) {
		out = out[:max]
	}
	return out
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// timeRange reads dateFrom and dateTo as the version does; both bounds are inclusive.
//
// From 26.2 (DateUtil): a value with a '-' is a yyyy-MM-dd day in UTC (dateFrom its first
// millisecond, dateTo its last), anything else epoch milliseconds; a bad value is 400
// "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp".
// Before 26.2 (SimpleDateFormat("yyyy-MM-dd").parse): a day in the JVM's zone, both
// bounds at its first millisecond; epoch milliseconds do not parse and get 400.
func (api *eventsAPI) timeRange(w http.ResponseWriter, q url.Values) (from, to int64, ok bool) {
	parse := func(name string, end bool) (int64, bool) {
		v, present := q[name]
		if !present {
			if end {
				return 1 << 62, true
			}
			return 0, true
		}
		s := v[0]
		if api.before262 {
			d, err := time.ParseInLocation("2006-01-02", s, api.zone)
			if err != nil {
				label := map[string]string{"dateFrom": "Date(From)", "dateTo": "Date(To)"}[name]
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for '" + label + "', expected format is yyyy-MM-dd"})
				return 0, false
			}
			return d.UnixMilli(), true
		}
		if !strings.Contains(s, "-") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, true
			}
		} else if d, err := time.Parse("2006-01-02", s); err == nil {
			if end {
				return d.AddDate(0, 0, 1).UnixMilli() - 1, true
			}
			return d.UnixMilli(), true
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for '" + name + "', expected format is yyyy-MM-dd or an Epoch timestamp"})
		return 0, false
	}
	if from, ok = parse("dateFrom", false); !ok {
		return 0, 0, false
	}
	if to, ok = parse("dateTo", true); !ok {
		return 0, 0, false
	}
	return from, to, true
}

// direction reads the sort order: from 26.2 "asc" or "desc" exactly (anything else is
// 400 "Invalid value for sortDirection, expected value is asc or desc"); before 26.2 the
// parameter does not exist and events always come newest first.
func (api *eventsAPI) direction(w http.ResponseWriter, q url.Values) (asc, ok bool) {
	v, present := q["direction"]
	if api.before262 || !present {
		return false, true
	}
	switch v[0] {
	case "desc":
		return false, true
	case "asc":
		return true, true
	}
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for sortDirection, expected value is asc or desc"})
	return false, false
}
