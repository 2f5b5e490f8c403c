package kete_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

// waitLimit bounds every wait in these tests; reaching it is a failure, never a pass.
const waitLimit = 5 * time.Second

// idSerializer writes "kind/id", enough to see which event a destination got.
type idSerializer struct{ err error }

func (s idSerializer) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	if s.err != nil {
		return dst, s.err
	}
	return fmt.Appendf(dst, "%s/%s", e.Kind, e.ID), nil
}

func (idSerializer) ContentType() string { return "text/plain" }

func matchers(t *testing.T, specs ...string) []kete.Matcher {
	t.Helper()
	var ms []kete.Matcher
	for _, spec := range specs {
		m, err := kete.ParseMatcher(spec)
		if err != nil {
			t.Fatalf("ParseMatcher(%q): %v", spec, err)
		}
		ms = append(ms, m)
	}
	return ms
}

func TestRouteMatches(t *testing.T) {
	login := &kete.Event{Kind: kete.KindEvent, RealmName: "acme", RealmID: "id-1", Type: "LOGIN"}
	loginError := &kete.Event{Kind: kete.KindEvent, RealmName: "acme", RealmID: "id-1", Type: "LOGIN_ERROR", Error: "invalid"}
	byID := &kete.Event{Kind: kete.KindEvent, RealmID: "id-2", Type: "LOGIN"}
	userCreate := &kete.Event{Kind: kete.KindAdminEvent, RealmName: "master", ResourceType: "USER", OperationType: "CREATE"}

	tests := []struct {
		name                 string
		realms, events       []string
		realmMode, eventMode kete.MatchMode
		accept, reject       []*kete.Event
	}{
		{name: "no matchers accept all", accept: []*kete.Event{login, loginError, byID, userCreate}},
		{name: "realm by name", realms: []string{"list:acme"}, accept: []*kete.Event{login, loginError}, reject: []*kete.Event{byID, userCreate}},
		{name: "realm by id when the name is unknown", realms: []string{"list:id-2"}, accept: []*kete.Event{byID}, reject: []*kete.Event{login}},
		// p2-inc v0.40+ sends both; vymalo's HTTP sender only the id: a route may name either.
		{name: "realm by id when the name is known too", realms: []string{"list:id-1"}, accept: []*kete.Event{login, loginError}, reject: []*kete.Event{byID, userCreate}},
		{name: "negated realm refuses by name or by id", realms: []string{"list:not:acme"}, accept: []*kete.Event{byID, userCreate}, reject: []*kete.Event{login}},
		{name: "negated realm id refuses the named realm", realms: []string{"list:not:id-1"}, accept: []*kete.Event{byID}, reject: []*kete.Event{login}},
		{name: "realm all, name and id", realms: []string{"glob:a*", "list:id-1"}, realmMode: kete.MatchAll, accept: []*kete.Event{login}, reject: []*kete.Event{byID, userCreate}},
		{name: "admin event type", events: []string{"glob:USER_*"}, accept: []*kete.Event{userCreate}, reject: []*kete.Event{login}},
		{name: "admin event type exact", events: []string{"list:user_create"}, accept: []*kete.Event{userCreate}, reject: []*kete.Event{login}},
		{name: "any of two", events: []string{"glob:LOGIN*", "glob:*ERROR"}, eventMode: kete.MatchAny,
			accept: []*kete.Event{login, loginError}, reject: []*kete.Event{userCreate}},
		{name: "zero mode is any", events: []string{"list:LOGIN", "list:USER_CREATE"}, accept: []*kete.Event{login, userCreate}, reject: []*kete.Event{loginError}},
		{name: "all of two", events: []string{"glob:LOGIN*", "glob:*ERROR"}, eventMode: kete.MatchAll,
			accept: []*kete.Event{loginError}, reject: []*kete.Event{login, userCreate}},
		{name: "realm all", realms: []string{"glob:a*", "list:not:acme-test"}, realmMode: kete.MatchAll, accept: []*kete.Event{login}, reject: []*kete.Event{userCreate}},
		{name: "realm and event must both accept", realms: []string{"list:acme"}, events: []string{"list:USER_CREATE"},
			reject: []*kete.Event{login, userCreate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &kete.Route{Name: tt.name, RealmMatchers: matchers(t, tt.realms...), RealmMatchMode: tt.realmMode,
				EventMatchers: matchers(t, tt.events...), EventMatchMode: tt.eventMode}
			for _, e := range tt.accept {
				if !r.Matches(e) {
					t.Errorf("Matches(realm %q, type %q) = false, want true", e.Realm(), e.EventType())
				}
			}
			for _, e := range tt.reject {
				if r.Matches(e) {
					t.Errorf("Matches(realm %q, type %q) = true, want false", e.Realm(), e.EventType())
				}
			}
		})
	}
}

// delivery is what a test destination saw.
type delivery struct {
	route string
	body  string
}

// recorder is a destination that reports every send on ch; body is copied because a
// destination must not keep it.
func recorder(route string, ch chan<- delivery, err error) kete.DestinationFunc {
	return func(ctx context.Context, e *kete.Event, body []byte) error {
		select {
		case ch <- delivery{route, string(body)}:
		case <-ctx.Done():
			return ctx.Err()
		}
		return err
	}
}

func receive(t *testing.T, ch <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(waitLimit):
		t.Fatalf("no delivery within %v", waitLimit)
		return delivery{}
	}
}

func TestRouterSendDeliversToEveryMatchingRoute(t *testing.T) {
	ch := make(chan delivery, 10)
	router := &kete.Router{Routes: []*kete.Route{
		{Name: "all", Serializer: idSerializer{}, Destination: recorder("all", ch, nil)},
		{Name: "logins", EventMatchers: matchers(t, "glob:LOGIN*"), Serializer: idSerializer{}, Destination: recorder("logins", ch, nil)},
		{Name: "admin", EventMatchers: matchers(t, "glob:USER_*"), Serializer: idSerializer{}, Destination: recorder("admin", ch, nil)},
		{Name: "other realm", RealmMatchers: matchers(t, "list:other"), Serializer: idSerializer{}, Destination: recorder("other realm", ch, nil)},
	}}
	tests := []struct {
		event *kete.Event
		want  []delivery
	}{
		{&kete.Event{Kind: kete.KindEvent, ID: "1", RealmName: "acme", Type: "LOGIN"},
			[]delivery{{"all", "EVENT/1"}, {"logins", "EVENT/1"}}},
		{&kete.Event{Kind: kete.KindAdminEvent, ID: "2", RealmName: "acme", ResourceType: "USER", OperationType: "DELETE"},
			[]delivery{{"admin", "ADMIN_EVENT/2"}, {"all", "ADMIN_EVENT/2"}}},
		{&kete.Event{Kind: kete.KindEvent, ID: "3", RealmName: "other", Type: "LOGOUT"},
			[]delivery{{"all", "EVENT/3"}, {"other realm", "EVENT/3"}}},
	}
	for _, tt := range tests {
		matched, err := router.Send(t.Context(), tt.event)
		if err != nil {
			t.Fatalf("Send(%s): %v", tt.event.ID, err)
		}
		if matched != len(tt.want) {
			t.Errorf("Send(%s) matched %d routes, want %d", tt.event.ID, matched, len(tt.want))
		}
		var got []delivery
		for range matched {
			got = append(got, receive(t, ch))
		}
		slices.SortFunc(got, func(a, b delivery) int { return strings.Compare(a.route, b.route) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("Send(%s) delivered %v, want %v", tt.event.ID, got, tt.want)
		}
		if len(ch) != 0 {
			t.Errorf("Send(%s) delivered %d more than it matched", tt.event.ID, len(ch))
		}
	}
}

func TestRouterSendNoMatch(t *testing.T) {
	router := &kete.Router{Routes: []*kete.Route{{Name: "r", RealmMatchers: matchers(t, "list:x"), Serializer: idSerializer{},
		Destination: kete.DestinationFunc(func(context.Context, *kete.Event, []byte) error {
			t.Error("a route that does not match got the event")
			return nil
		})}}}
	matched, err := router.Send(t.Context(), &kete.Event{Kind: kete.KindEvent, RealmName: "acme"})
	if matched != 0 || err != nil {
		t.Errorf("Send = %d, %v, want 0, nil", matched, err)
	}
}

func TestRouterSendErrorNamesRoute(t *testing.T) {
	boom := errors.New("connection refused")
	tests := []struct {
		name      string
		routes    func(ch chan delivery) []*kete.Route
		failed    string
		wantErr   error
		delivered []string
	}{
		{"one of two fails", func(ch chan delivery) []*kete.Route {
			return []*kete.Route{
				{Name: "broken", Serializer: idSerializer{}, Destination: recorder("broken", ch, boom)},
				{Name: "healthy", Serializer: idSerializer{}, Destination: recorder("healthy", ch, nil)},
			}
		}, "broken", boom, []string{"broken", "healthy"}},
		{"the only route fails", func(ch chan delivery) []*kete.Route {
			return []*kete.Route{{Name: "single", Serializer: idSerializer{}, Destination: recorder("single", ch, boom)}}
		}, "single", boom, []string{"single"}},
		{"serializer fails", func(ch chan delivery) []*kete.Route {
			return []*kete.Route{
				{Name: "unserializable", Serializer: idSerializer{err: boom}, Destination: recorder("unserializable", ch, nil)},
				{Name: "healthy", Serializer: idSerializer{}, Destination: recorder("healthy", ch, nil)},
			}
		}, "unserializable", boom, []string{"healthy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan delivery, 10)
			router := &kete.Router{Routes: tt.routes(ch)}
			_, err := router.Send(t.Context(), &kete.Event{Kind: kete.KindEvent, ID: "e", Type: "LOGIN"})
			var re *kete.RouteError
			if !errors.As(err, &re) {
				t.Fatalf("Send error %v is not a RouteError", err)
			}
			if re.Route != tt.failed || !errors.Is(err, tt.wantErr) {
				t.Errorf("RouteError{%q, %v}, want route %q wrapping %v", re.Route, re.Err, tt.failed, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "route "+tt.failed) {
				t.Errorf("error %q does not name route %q", err, tt.failed)
			}
			var got []string
			for range len(ch) {
				got = append(got, (<-ch).route)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.delivered) {
				t.Errorf("delivered to %v, want %v", got, tt.delivered)
			}
		})
	}
}

// A destination that blocks must not hold up another route's destination.
func TestRouterSendRoutesAreIndependent(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	fast := make(chan delivery, 1)
	router := &kete.Router{Routes: []*kete.Route{
		{Name: "stuck", Serializer: idSerializer{}, Destination: kete.DestinationFunc(func(ctx context.Context, e *kete.Event, body []byte) error {
			close(entered)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})},
		{Name: "fast", Serializer: idSerializer{}, Destination: recorder("fast", fast, nil)},
	}}
	done := make(chan error, 1)
	go func() {
		_, err := router.Send(t.Context(), &kete.Event{Kind: kete.KindEvent, ID: "x", Type: "LOGIN"})
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("the stuck destination never got the event")
	}
	if d := receive(t, fast); d.body != "EVENT/x" {
		t.Errorf("fast route got %q, want EVENT/x", d.body)
	}
	// The stuck route has not been released, so Send cannot have returned.
	select {
	case err := <-done:
		t.Fatalf("Send returned (%v) before every route finished", err)
	default:
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Send: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Send did not return after the stuck destination was released")
	}
}

func TestRouterSendContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	entered := make(chan struct{})
	router := &kete.Router{Routes: []*kete.Route{{Name: "waits", Serializer: idSerializer{},
		Destination: kete.DestinationFunc(func(ctx context.Context, e *kete.Event, body []byte) error {
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		})}}}
	done := make(chan error, 1)
	go func() {
		_, err := router.Send(ctx, &kete.Event{Kind: kete.KindEvent})
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("destination never called")
	}
	cancel()
	select {
	case err := <-done:
		var re *kete.RouteError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &re) || re.Route != "waits" {
			t.Errorf("Send after cancel = %v, want RouteError for waits wrapping context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Send did not return after the context was cancelled")
	}
}

// Deliver reuses its buffer; each send must still see its own event's bytes.
func TestRouteDeliverReusesBufferSafely(t *testing.T) {
	var got []string
	r := &kete.Route{Name: "r", Serializer: idSerializer{}, Destination: kete.DestinationFunc(func(ctx context.Context, e *kete.Event, body []byte) error {
		got = append(got, string(body))
		return nil
	})}
	var want []string
	for i := range 20 {
		id := strings.Repeat("x", 20-i) + fmt.Sprint(i)
		want = append(want, "EVENT/"+id)
		if err := r.Deliver(t.Context(), &kete.Event{Kind: kete.KindEvent, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("bodies %q, want %q", got, want)
	}
}

type closer struct {
	kete.DestinationFunc
	err    error
	closed *int
}

func (c closer) Close() error { *c.closed++; return c.err }

func TestRouterClose(t *testing.T) {
	var closed int
	router := &kete.Router{Routes: []*kete.Route{
		{Name: "ok", Destination: closer{closed: &closed}},
		{Name: "bad", Destination: closer{closed: &closed, err: errors.New("close failed")}},
		{Name: "none"},
	}}
	err := router.Close()
	if closed != 2 {
		t.Errorf("closed %d destinations, want 2", closed)
	}
	var re *kete.RouteError
	if !errors.As(err, &re) || re.Route != "bad" || !strings.Contains(err.Error(), "close failed") {
		t.Errorf("Close = %v, want a RouteError for route bad", err)
	}
}
