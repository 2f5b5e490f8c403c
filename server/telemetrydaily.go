package server

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// telemetryDays is how many UTC days the per-key telemetry (top topics, the country
// heatmap) keeps: the 31 days that the aggregates answer can be asked for.
const telemetryDays = 31

// tally is a count that adds up: one day's counts of a key, or their sum over days.
type tally[T any] interface {
	plus(T) T
}

// dailyTally counts, per UTC day, a T for each of at most maxKeys keys a day; what
// comes for a key past that cap is summed under others, so that memory stays bounded
// whatever clients publish. Its zero value is ready.
type dailyTally[T tally[T]] struct {
	mu   sync.Mutex
	ring [telemetryDays]dayTally[T]
}

// dayTally is one day; byKey is nil for an unused slot.
type dayTally[T any] struct {
	day    int64 // days since 1970-01-01 UTC
	byKey  map[string]*T
	others T
}

// unixDay is the UTC day of now (unix ns).
func unixDay(now int64) int64 { return now / int64(24*time.Hour) }

// add adds delta to key's count of the day of now (unix ns).
func (d *dailyTally[T]) add(now int64, key string, maxKeys int, delta T) {
	day := unixDay(now)
	d.mu.Lock()
	defer d.mu.Unlock()
	slot := &d.ring[day%telemetryDays]
	if slot.byKey == nil || slot.day != day {
		*slot = dayTally[T]{day: day, byKey: make(map[string]*T)}
	}
	v := slot.byKey[key]
	if v == nil {
		if len(slot.byKey) >= maxKeys {
			slot.others = slot.others.plus(delta)
			return
		}
		v = new(T)
		// A clone: key may share its bytes with a frame that the map must not keep.
		slot.byKey[strings.Clone(key)] = v
	}
	*v = (*v).plus(delta)
}

// sum adds up the days from fromDay to toDay: per key, and what went to others.
func (d *dailyTally[T]) sum(fromDay, toDay int64) (map[string]T, T) {
	out := make(map[string]T)
	var others T
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.ring {
		slot := &d.ring[i]
		if slot.byKey == nil || slot.day < fromDay || slot.day > toDay {
			continue
		}
		for k, v := range slot.byKey {
			out[k] = out[k].plus(*v)
		}
		others = others.plus(slot.others)
	}
	return out, others
}

// perDayTelemetryRequest checks a request for a per-day telemetry path as the
// aggregates path is checked (X-App-Id, an admin token with realtime:admin:manage:
// application, days 1–31) and returns the app's hub and the UTC days asked for; it has
// written the refusal when not ok.
func (s *Server) perDayTelemetryRequest(w http.ResponseWriter, r *http.Request) (h *hub, fromDay, toDay int64, ok bool) {
	if !appHeaderMatches(w, r) {
		return nil, 0, 0, false
	}
	rt, h, _ := s.adminAuth(w, r, PermManageApplication)
	if rt == nil {
		return nil, 0, 0, false
	}
	fromDay, toDay, ok = telemetryWindow(w, r, s.coarseNow())
	return h, fromDay, toDay, ok
}

// telemetryWindow reads the {days} of a per-day telemetry path (1 to 31, the bound of
// the aggregates answer) and returns the UTC days it covers at now: the current day and
// the days-1 before it. It writes 400 naming the parameter when days is bad.
func telemetryWindow(w http.ResponseWriter, r *http.Request, now int64) (fromDay, toDay int64, ok bool) {
	days, err := strconv.Atoi(r.PathValue("days"))
	if err != nil || days < 1 || days > telemetryDays {
		writeError(w, http.StatusBadRequest, "invalid_days", "days must be a whole number from 1 to 31, got "+strconv.Quote(r.PathValue("days")))
		return 0, 0, false
	}
	toDay = unixDay(now)
	return toDay - int64(days) + 1, toDay, true
}

// dayStart formats the start of a UTC day as the aggregates answer formats its buckets.
func dayStart(day int64) string {
	return time.Unix(day*int64(24*time.Hour/time.Second), 0).UTC().Format("2006-01-02T15:04:05.000Z")
}

// appHeaderMatches refuses (400) a request whose X-App-Id header names another app than
// its path, as the platform's API gateway paths carry both (seed 004, "Accessing
// application telemetry and reports via REST"); a request without the header passes.
func appHeaderMatches(w http.ResponseWriter, r *http.Request) bool {
	if id := r.Header.Get("X-App-Id"); id != "" && id != r.PathValue("appId") {
		writeError(w, http.StatusBadRequest, "app_mismatch", "X-App-Id "+id+" does not match the path's app "+r.PathValue("appId"))
		return false
	}
	return true
}
