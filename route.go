package kete

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Route sends the events its matchers accept, serialized, to one destination.
type Route struct {
	Name           string
	RealmMatchers  []Matcher
	RealmMatchMode MatchMode
	EventMatchers  []Matcher
	EventMatchMode MatchMode
	Serializer     Serializer
	// Destination is what the route sends to. Whoever builds the route decides who
	// retries: config.Router wraps the route's policy around it (destination.WithRetry);
	// the daemon's routes (config.SpooledRoutes) try once, and the daemon retries from
	// its spool.
	Destination Destination

	buffers sync.Pool
}

// Matches reports whether both the realm and the event matchers accept e. Realm
// matchers accept the realm's name or its id (see matchRealm).
func (r *Route) Matches(e *Event) bool {
	return matchRealm(r.RealmMatchers, r.RealmMatchMode, e) &&
		matchAll(r.EventMatchers, r.EventMatchMode, e.EventType())
}

// Deliver serializes e and sends it, whether or not the route matches it; callers that
// route use Router.
func (r *Route) Deliver(ctx context.Context, e *Event) error {
	bufp, _ := r.buffers.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	defer r.buffers.Put(bufp)
	body, err := r.Serializer.Serialize((*bufp)[:0], e)
	if err != nil {
		// A serializer is a function of the event: it fails on this one every time.
		return &RouteError{Route: r.Name, Err: Permanent(fmt.Errorf("serialize: %w", err))}
	}
	*bufp = body
	if err := r.Destination.Send(ctx, e, body); err != nil {
		return &RouteError{Route: r.Name, Err: err}
	}
	return nil
}

// RouteError names the route a delivery failed on.
type RouteError struct {
	Route string
	Err   error
}

func (e *RouteError) Error() string { return "route " + e.Route + ": " + e.Err.Error() }
func (e *RouteError) Unwrap() error { return e.Err }

// Router sends each event through every route that matches it.
type Router struct {
	Routes []*Route
}

// Send delivers e to every matching route at once, so that a slow or dead destination
// on one route does not hold up another's delivery, and returns when all have finished,
// with one RouteError per failed route joined. It reports how many routes matched.
// A daemon that must not lose events keeps one cursor per route (package spool) and
// calls Route.Deliver itself.
func (r *Router) Send(ctx context.Context, e *Event) (matched int, err error) {
	var matching []*Route
	for _, route := range r.Routes {
		if route.Matches(e) {
			matching = append(matching, route)
		}
	}
	switch len(matching) {
	case 0:
		return 0, nil
	case 1:
		return 1, matching[0].Deliver(ctx, e)
	}
	errs := make([]error, len(matching))
	var wg sync.WaitGroup
	for i, route := range matching {
		wg.Go(func() { errs[i] = route.Deliver(ctx, e) })
	}
	wg.Wait()
	return len(matching), errors.Join(errs...)
}

// Close closes every route's destination.
func (r *Router) Close() error {
	var errs []error
	for _, route := range r.Routes {
		if route.Destination != nil {
			if err := route.Destination.Close(); err != nil {
				errs = append(errs, &RouteError{Route: route.Name, Err: err})
			}
		}
	}
	return errors.Join(errs...)
}
