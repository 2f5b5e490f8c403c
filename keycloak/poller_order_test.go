package keycloak_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

// The tests in this file hold the poller to what real Keycloak does with stored events
// (see keycloaktest/events.go for the classes each behaviour copies): ties in a new order
// on every request, events visible later than their time, days read in the JVM's zone.

// batchSink records each Ingest call; after crashAfter events (when set) it fails, as a
// daemon stopped mid-poll would.
type batchSink struct {
	mu         sync.Mutex
	batches    [][]kete.Event
	crashAfter int
}

var errCrashed = errors.New("daemon stopped")

func (s *batchSink) Ingest(_ context.Context, _ string, events []kete.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashAfter > 0 && s.count()+len(events) > s.crashAfter {
		return errCrashed
	}
	s.batches = append(s.batches, append([]kete.Event(nil), events...))
	return nil
}

func (s *batchSink) count() int {
	n := 0
	for _, b := range s.batches {
		n += len(b)
	}
	return n
}

// times counts how often each event (by id) was handed over.
func (s *batchSink) times() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, b := range s.batches {
		for _, e := range b {
			m[e.ID]++
		}
	}
	return m
}

// pollerModes are the two ways the poller reads: oldest first with epoch milliseconds
// (Keycloak 26.2+), and newest first by day (dates-only, before 26.2).
var pollerModes = []struct {
	name      string
	datesOnly bool
	kc        []keycloaktest.Option
}{
	{"26.2", false, nil},
	{"26.1 dates-only", true, []keycloaktest.Option{keycloaktest.WithVersion("26.1.4")}},
}

func newPoller(t *testing.T, kc *keycloaktest.Server, sink keycloak.Sink, state string, o keycloak.PollerOptions) *keycloak.Poller {
	t.Helper()
	o.Realms, o.StateFile, o.SkipAdminEvents = []string{"acme"}, state, true
	p, err := keycloak.NewPoller(keycloak.NewAdmin(kc.AdminOptions()), sink, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pollN(t *testing.T, p *keycloak.Poller, want int, what string) {
	t.Helper()
	if n, err := p.PollOnce(context.Background(), "acme"); err != nil || n != want {
		t.Fatalf("%s: poll = %d, %v; want %d", what, n, err, want)
	}
}

func wantEachOnce(t *testing.T, sink *batchSink, want int) {
	t.Helper()
	got := sink.times()
	if len(got) != want {
		t.Errorf("distinct events delivered = %d, want %d", len(got), want)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
}

// A login whose transaction commits after a newer event was polled is still taken: the
// next poll looks back.
func TestPollerTakesAnEventThatCommitsLate(t *testing.T) {
	for _, m := range pollerModes {
		t.Run(m.name, func(t *testing.T) {
			kc := keycloaktest.New(t, append(m.kc, keycloaktest.WithRealm("acme"))...)
			sink := &batchSink{}
			p := newPoller(t, kc, sink, filepath.Join(t.TempDir(), "s.json"), keycloak.PollerOptions{DatesOnly: m.datesOnly})
			t0 := time.Now().Add(-time.Minute).UnixMilli()
			kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "early", Time: t0 - 1000})
			pollN(t, p, 1, "first poll")

			commitSlow := kc.BeginEvent("acme", kete.Event{Type: "LOGIN", UserID: "slow", Time: t0})
			kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "fast", Time: t0 + 5})
			pollN(t, p, 1, "poll while the slow login's transaction is open")
			commitSlow()
			pollN(t, p, 1, "poll after the slow login committed")
			pollN(t, p, 0, "poll with nothing new")
			wantEachOnce(t, sink, 3)
		})
	}
}

// A burst of 250 events in 3 ms read 100 at a time: the database orders the ties
// differently on every request, so a page boundary inside a millisecond must not lose or
// repeat any; nor may a page that is all one millisecond loop.
func TestPollerKeepsTiesAcrossPageBoundaries(t *testing.T) {
	for _, m := range pollerModes {
		for _, burst := range []struct {
			name string
			ms   int
		}{{"250 in 3ms", 3}, {"250 in one ms", 1}} {
			t.Run(m.name+"/"+burst.name, func(t *testing.T) {
				kc := keycloaktest.New(t, append(m.kc, keycloaktest.WithRealm("acme"))...)
				base := time.Now().Add(-time.Hour).UnixMilli()
				for i := range 250 {
					kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: fmt.Sprint("u", i), Time: base + int64(i%burst.ms)})
				}
				sink := &batchSink{}
				state := filepath.Join(t.TempDir(), "s.json")
				p := newPoller(t, kc, sink, state, keycloak.PollerOptions{PageSize: 100, DatesOnly: m.datesOnly})
				pollN(t, p, 250, "first poll")
				for i := range 3 {
					kc.AddEvent("acme", kete.Event{Type: "LOGOUT", UserID: fmt.Sprint("v", i), Time: base + int64(burst.ms-1)})
				}
				pollN(t, p, 3, "poll after three more in the last millisecond")
				p2 := newPoller(t, kc, sink, state, keycloak.PollerOptions{PageSize: 100, DatesOnly: m.datesOnly})
				pollN(t, p2, 0, "poll after a restart")
				wantEachOnce(t, sink, 253)
			})
		}
	}
}

// Keycloak before 26.2 reads dateFrom's day in its JVM's zone: west of UTC the day starts
// hours after UTC midnight, so asking for the cursor's UTC day misses the events of those
// hours.
func TestPollerDatesOnlyWestOfUTC(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithVersion("26.1"),
		keycloaktest.WithTimeZone(time.FixedZone("UTC-10", -10*3600)))
	sink := &batchSink{}
	p := newPoller(t, kc, sink, filepath.Join(t.TempDir(), "s.json"), keycloak.PollerOptions{DatesOnly: true})
	// 03:00 UTC is 17:00 the day before in UTC-10: Keycloak's "2026-11-02" starts at 10:00 UTC.
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "a", Time: at.UnixMilli()})
	pollN(t, p, 1, "first poll")
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "b", Time: at.Add(5 * time.Second).UnixMilli()})
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "c", Time: at.Add(8 * time.Hour).UnixMilli()})
	pollN(t, p, 2, "poll after two more the same UTC day")
	wantEachOnce(t, sink, 3)
}

// A first poll of a long history hands it over page by page and saves the cursor after
// each, so a daemon stopped in the middle resumes there, delivering nothing twice.
func TestPollerResumesAFirstPollFromTheSavedPage(t *testing.T) {
	for _, m := range pollerModes {
		t.Run(m.name, func(t *testing.T) {
			kc := keycloaktest.New(t, append(m.kc, keycloaktest.WithRealm("acme"))...)
			base := time.Now().Add(-48 * time.Hour).UnixMilli()
			for i := range 1000 {
				kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: fmt.Sprint("u", i), Time: base + int64(i)*1000})
			}
			state := filepath.Join(t.TempDir(), "s.json")
			sink := &batchSink{crashAfter: 350}
			p := newPoller(t, kc, sink, state, keycloak.PollerOptions{PageSize: 100, DatesOnly: m.datesOnly})
			if _, err := p.PollOnce(context.Background(), "acme"); !errors.Is(err, errCrashed) {
				t.Fatalf("poll into a sink that stops: %v", err)
			}
			// Each page after the first starts at the last millisecond of the one before, so
			// three pages hold 298 new events.
			before := sink.count()
			if before < 250 {
				t.Fatalf("delivered before the stop = %d, want the first pages' (298)", before)
			}
			sink.crashAfter = 0
			p2 := newPoller(t, kc, sink, state, keycloak.PollerOptions{PageSize: 100, DatesOnly: m.datesOnly})
			pollN(t, p2, 1000-before, "poll after the restart")
			wantEachOnce(t, sink, 1000)
			for i, b := range sink.batches {
				if len(b) > 100 {
					t.Fatalf("batch %d holds %d events, more than a page", i, len(b))
				}
			}
		})
	}
}

// Events without an id (older Keycloak) are told apart by their content, through ties and
// late commits alike.
func TestPollerWithoutEventIDs(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithoutEventIDs())
	sink := &batchSink{}
	state := filepath.Join(t.TempDir(), "s.json")
	p := newPoller(t, kc, sink, state, keycloak.PollerOptions{PageSize: 10})
	base := time.Now().Add(-time.Minute).UnixMilli()
	for i := range 25 {
		kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: fmt.Sprint("u", i), Time: base + int64(i%2)})
	}
	commit := kc.BeginEvent("acme", kete.Event{Type: "LOGIN", UserID: "late", Time: base})
	pollN(t, p, 25, "first poll")
	commit()
	p2 := newPoller(t, kc, sink, state, keycloak.PollerOptions{PageSize: 10})
	pollN(t, p2, 1, "poll after a restart and a late commit")
	wantEachOnce(t, sink, 26)
}

// The state file of the previous version ("keys": the events taken at "time") is read:
// those events are not delivered again.
func TestPollerReadsThePreviousStateFile(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	at := time.Now().Add(-time.Hour).UnixMilli()
	kc.AddEvent("acme", kete.Event{ID: "old-1", Type: "LOGIN", Time: at - 1})
	kc.AddEvent("acme", kete.Event{ID: "old-2", Type: "LOGIN", Time: at})
	kc.AddEvent("acme", kete.Event{ID: "old-3", Type: "LOGIN", Time: at})
	kc.AddEvent("acme", kete.Event{ID: "new-1", Type: "LOGIN", Time: at})
	kc.AddEvent("acme", kete.Event{ID: "new-2", Type: "LOGIN", Time: at + 1})
	state := filepath.Join(t.TempDir(), "s.json")
	// The first version wrote "keys":null when it had none: old-1 there is as taken.
	v1 := fmt.Sprintf(`{"acme":{"events":{"time":%d,"keys":["old-2","old-3"]},"admin-events":{"time":%d,"keys":null}}}`, at, at)
	kc.AddEvent("acme", kete.Event{ID: "old-admin", Kind: kete.KindAdminEvent, OperationType: "CREATE", ResourceType: "USER", Time: at - 1})
	if err := os.WriteFile(state, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &batchSink{}
	p, err := keycloak.NewPoller(keycloak.NewAdmin(kc.AdminOptions()), sink, keycloak.PollerOptions{Realms: []string{"acme"}, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	pollN(t, p, 2, "first poll from a previous version's state")
	got := sink.times()
	if got["new-1"] != 1 || got["new-2"] != 1 || len(got) != 2 {
		t.Errorf("delivered %v, want new-1 and new-2", got)
	}
	b, _ := os.ReadFile(state)
	if !strings.Contains(string(b), `"taken"`) || strings.Contains(string(b), `"keys"`) {
		t.Errorf("state not rewritten in the current form: %s", b)
	}
}

// Asking an old Keycloak, which has no direction, for oldest first gets newest first; the
// poller says which setting fixes it rather than taking events out of order.
func TestPollerSaysWhenKeycloakIgnoresDirection(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithVersion("25.0.6"))
	at := time.Now().Add(-time.Hour).UnixMilli()
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "a", Time: at})
	kc.AddEvent("acme", kete.Event{Type: "LOGIN", UserID: "b", Time: at + 1})
	p := newPoller(t, kc, &batchSink{}, filepath.Join(t.TempDir(), "s.json"), keycloak.PollerOptions{})
	if _, err := p.PollOnce(context.Background(), "acme"); err == nil || !strings.Contains(err.Error(), "dates-only") {
		t.Fatalf("poll of a Keycloak before 26.2 without dates-only: %v, want an error naming dates-only", err)
	}
}
