package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/spool"
)

type jsonSerializer struct{}

func (jsonSerializer) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return fmt.Appendf(dst, `{"id":%q}`, e.ID), nil
}
func (jsonSerializer) ContentType() string { return "application/json" }

// sink records what a route's destination took, and can be told to fail.
type sink struct {
	mu      sync.Mutex
	got     []string
	fail    error
	arrived chan string
}

func newSink() *sink { return &sink{arrived: make(chan string, 10000)} }

func (s *sink) Send(ctx context.Context, e *kete.Event, body []byte) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	s.mu.Lock()
	s.got = append(s.got, e.ID)
	s.mu.Unlock()
	s.arrived <- e.ID
	return nil
}
func (s *sink) Close() error { return nil }
func (s *sink) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func route(name string, d kete.Destination, eventMatcher string) *kete.Route {
	r := &kete.Route{Name: name, Serializer: jsonSerializer{}, Destination: d}
	if eventMatcher != "" {
		m, err := kete.ParseMatcher(eventMatcher)
		if err != nil {
			panic(err)
		}
		r.EventMatchers = []kete.Matcher{m}
	}
	return r
}

func events(n int, typ string) []kete.Event {
	out := make([]kete.Event, n)
	for i := range out {
		out[i] = kete.Event{Kind: kete.KindEvent, ID: fmt.Sprintf("%s-%d", typ, i), Type: typ, RealmName: "acme", Time: time.Now().UnixMilli()}
	}
	return out
}

func start(t *testing.T, dir string, routes ...Route) (*Pipeline, *spool.Spool, context.CancelFunc) {
	t.Helper()
	var names []string
	for _, r := range routes {
		names = append(names, r.Name)
	}
	sp, err := spool.Open(spool.Options{Dir: dir, Routes: names})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Spool: sp, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	stop := func() {
		cancel()
		<-done
		sp.Close()
	}
	t.Cleanup(stop)
	return p, sp, stop
}

func receive(t *testing.T, s *sink, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	deadline := time.After(15 * time.Second)
	for range n {
		select {
		case id := <-s.arrived:
			got[id]++
		case <-deadline:
			t.Fatalf("received %d of %d events", len(got), n)
		}
	}
	return got
}

func TestEachRouteGetsWhatItsMatchersAccept(t *testing.T) {
	logins, all := newSink(), newSink()
	p, _, _ := start(t, t.TempDir(),
		Route{Route: route("logins", logins, "glob:LOGIN*")},
		Route{Route: route("all", all, "")})
	ctx := context.Background()
	if err := p.Ingest(ctx, "test", append(events(50, "LOGIN"), events(30, "LOGOUT")...)); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, logins, 50); len(got) != 50 || got["LOGIN-0"] != 1 {
		t.Fatalf("logins route got %v", got)
	}
	if got := receive(t, all, 80); len(got) != 80 {
		t.Fatalf("all route got %d distinct", len(got))
	}
	select {
	case id := <-logins.arrived:
		t.Fatalf("logins route got an extra event %s", id)
	default:
	}
}

func TestDeadDestinationDoesNotHoldUpAnotherRoute(t *testing.T) {
	dead, live := newSink(), newSink()
	dead.setFail(errors.New("connection refused"))
	p, sp, _ := start(t, t.TempDir(),
		Route{Route: route("dead", dead, ""), WaitDuration: 5 * time.Millisecond, MaxWait: 20 * time.Millisecond, InFlight: 4},
		Route{Route: route("live", live, "")})
	if err := p.Ingest(context.Background(), "test", events(200, "LOGIN")); err != nil {
		t.Fatal(err)
	}
	receive(t, live, 200)
	// The dead route still holds all 200: nothing acknowledged, nothing dropped.
	if b := sp.Stats().Backlog["dead"]; b != 200 {
		t.Fatalf("dead route backlog = %d, want 200", b)
	}
	dead.setFail(nil)
	if got := receive(t, dead, 200); len(got) != 200 {
		t.Fatalf("after recovery dead route got %d distinct", len(got))
	}
}

func TestAttemptsRunOutIntoDeadLetters(t *testing.T) {
	dir := t.TempDir()
	bad := newSink()
	bad.setFail(errors.New("server said 500"))
	p, sp, stop := start(t, dir, Route{Route: route("bad", bad, ""), MaxAttempts: 3, WaitDuration: time.Millisecond, MaxWait: 2 * time.Millisecond})
	if err := p.Ingest(context.Background(), "test", events(5, "LOGIN")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sp.Stats().Backlog["bad"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("backlog still %d", sp.Stats().Backlog["bad"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	dls, err := spool.DeadLetters(dir, "bad")
	if err != nil || len(dls) != 5 {
		t.Fatalf("dead letters = %d, %v; want 5", len(dls), err)
	}
	if !strings.Contains(dls[0].Reason, "server said 500") {
		t.Fatalf("reason = %q", dls[0].Reason)
	}
}

func TestRestartDeliversWhatWasNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s := newSink()
	s.setFail(errors.New("down"))
	p, _, stop := start(t, dir, Route{Route: route("r", s, ""), WaitDuration: time.Millisecond, MaxWait: 5 * time.Millisecond})
	if err := p.Ingest(context.Background(), "test", events(20, "LOGIN")); err != nil {
		t.Fatal(err)
	}
	stop()
	s2 := newSink()
	start(t, dir, Route{Route: route("r", s2, "")})
	if got := receive(t, s2, 20); len(got) != 20 {
		t.Fatalf("after restart got %d distinct of 20", len(got))
	}
}

func TestFullSpoolRefusesIngest(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(spool.Options{Dir: dir, Routes: []string{"r"}, MaxBytes: 2000, SegmentBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	p, _ := New(Options{Spool: sp, Routes: []Route{{Route: route("r", newSink(), "")}}})
	err = p.Ingest(context.Background(), "webhook", events(100, "LOGIN"))
	if !errors.Is(err, spool.ErrFull) {
		t.Fatalf("Ingest into a full spool = %v, want ErrFull", err)
	}
}

func TestReadyzAndMetrics(t *testing.T) {
	s := newSink()
	p, _, _ := start(t, t.TempDir(), Route{Route: route("r", s, "")})
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	if err := p.Ingest(context.Background(), "webhook", events(3, "LOGIN")); err != nil {
		t.Fatal(err)
	}
	receive(t, s, 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := get(t, srv.URL+"/metrics", 200)
		if strings.Contains(body, `kete_events_out_total{route="r"} 3`) {
			if !strings.Contains(body, `kete_events_in_total{source="webhook"} 3`) {
				t.Fatalf("metrics lack events in:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed 3 delivered:\n%s", body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if body := get(t, srv.URL+"/readyz", 200); !strings.Contains(body, `"ready":true`) {
		t.Fatalf("readyz = %s", body)
	}
	get(t, srv.URL+"/healthz", 200)
}

func get(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s = %d, want %d: %s", url, resp.StatusCode, status, b)
	}
	return string(b)
}

func TestReadLinesIngestsEveryLineOrNamesTheBadOne(t *testing.T) {
	s := newSink()
	p, _, _ := start(t, t.TempDir(), Route{Route: route("r", s, "")})
	in := strings.NewReader(`{"id":"a","time":1,"type":"LOGIN","realmId":"x"}` + "\n\n" +
		`[{"id":"b","time":2,"type":"LOGOUT","realmId":"x"},{"id":"c","time":3,"type":"REGISTER","realmId":"x"}]` + "\n")
	n, err := ReadLines(context.Background(), in, p, 1)
	if err != nil || n != 3 {
		t.Fatalf("ReadLines = %d, %v", n, err)
	}
	if got := receive(t, s, 3); got["a"] != 1 || got["b"] != 1 || got["c"] != 1 {
		t.Fatalf("got %v", got)
	}
	_, err = ReadLines(context.Background(), strings.NewReader(`{"id":"d","time":1,"type":"LOGIN","realmId":"x"}`+"\nnot json\n"), p, 10)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line error = %v, want one naming line 2", err)
	}
}

// timeSink records the events a route delivered.
type timeSink struct{ got chan kete.Event }

func (s timeSink) Send(_ context.Context, e *kete.Event, _ []byte) error { s.got <- *e; return nil }
func (s timeSink) Close() error                                          { return nil }

// TestEventWithoutTimeGetsItsArrival: a hand-made event without "time" is stamped with
// when it arrived (so latency and the subscriber's view make sense), and its id is taken
// before, so the same event sent twice still has one id.
func TestEventWithoutTimeGetsItsArrival(t *testing.T) {
	arrival := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	sk := timeSink{got: make(chan kete.Event, 4)}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Routes: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Spool: sp, Routes: []Route{{Route: route("all", sk, "")}}, Now: func() time.Time { return arrival }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; sp.Close() })

	hand := kete.Event{Kind: kete.KindEvent, Type: "LOGIN", RealmName: "acme"}
	kc := kete.Event{Kind: kete.KindEvent, ID: "kc-1", Type: "LOGIN", RealmName: "acme", Time: 1767225600000}
	if err := p.Ingest(ctx, "test", []kete.Event{hand, hand, kc}); err != nil {
		t.Fatal(err)
	}
	var got []kete.Event
	for range 3 {
		select {
		case e := <-sk.got:
			got = append(got, e)
		case <-time.After(15 * time.Second):
			t.Fatalf("delivered %d of 3", len(got))
		}
	}
	// Deliveries run in parallel: sort them by id, Keycloak's first.
	slices.SortFunc(got, func(a, b kete.Event) int { return strings.Compare(b.ID, a.ID) })
	if got[0].Time != 1767225600000 || got[0].ID != "kc-1" {
		t.Errorf("Keycloak's own time and id were changed: %+v", got[0])
	}
	if got[1].Time != arrival.UnixMilli() || got[2].Time != arrival.UnixMilli() {
		t.Errorf("events without time delivered with %d and %d, want the arrival %d", got[1].Time, got[2].Time, arrival.UnixMilli())
	}
	if got[1].ID == "" || got[1].ID != got[2].ID {
		t.Errorf("the same event sent twice got ids %q and %q, want one", got[1].ID, got[2].ID)
	}
}
