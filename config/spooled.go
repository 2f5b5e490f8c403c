package config

import (
	"context"

	"github.com/kete-dev/kete"
)

// SpooledRoute is a route as `kete run` delivers it: from the spool, which keeps an event
// across attempts and restarts, so the retrying belongs to the daemon and the destination
// tries each send once (a retry inside Send as well would multiply the attempts and hold
// an in-flight slot through every wait).
type SpooledRoute struct {
	*kete.Route
	// Retry is the policy the daemon applies between attempts: the route's retry.*, except
	// that retry.max-attempts left unset is 0, "until delivered", rather than KETE's 3: a
	// spool loses nothing by waiting, while dead-lettering after three tries of a
	// destination that is down for a minute would. Retry.Enabled false means one attempt.
	Retry kete.Retry
	// InFlight bounds the events the route sends at once: spoolInFlightPerConnection per
	// pooled connection (destination.pool.max-total), so that the pool, not this bound,
	// is what limits a healthy route.
	InFlight int
}

// spooledRetry is r's retry policy as the daemon applies it (SpooledRoute.Retry).
func (c *Config) spooledRetry(r *RouteSettings) kete.Retry {
	retry := r.Retry
	if !c.Explicit("kete.routes." + r.Name + ".retry.max-attempts") {
		retry.MaxAttempts = 0
	}
	return retry
}

// spoolInFlightPerConnection is how many sends the daemon overlaps per pooled connection:
// enough to keep each connection busy while others wait on round trips.
const spoolInFlightPerConnection = 8

// SpooledRoutes builds the routes for a daemon that retries from its spool: the router
// (close it to close the destinations) whose destinations try each send once, and each
// route with the policy the daemon applies. ctx bounds internal OAuth's registration,
// as for Router.
func (c *Config) SpooledRoutes(ctx context.Context, deps Deps) (*kete.Router, []SpooledRoute, error) {
	router, err := c.bareRouter(ctx, deps)
	if err != nil {
		return nil, nil, err
	}
	routes := make([]SpooledRoute, 0, len(router.Routes))
	for _, route := range router.Routes {
		r := c.Route(route.Name)
		routes = append(routes, SpooledRoute{
			Route:    route,
			Retry:    c.spooledRetry(r),
			InFlight: r.Destination.Pool.MaxTotal * spoolInFlightPerConnection,
		})
	}
	return router, routes, nil
}
