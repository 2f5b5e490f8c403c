package daemon

import "github.com/kete-dev/kete"

// RetryRoute makes the pipeline's Route for r under a route's retry policy: retry off is
// one attempt, then the dead-letter file; on, MaxAttempts attempts (0: until delivered)
// with retry's waits between them. inFlight is Route.InFlight (≤ 0: the default).
//
// The daemon owns retrying: r's destination must try each send once, since the spool
// keeps the event between attempts and a retry inside Send would multiply them.
func RetryRoute(r *kete.Route, retry kete.Retry, inFlight int) Route {
	attempts := retry.MaxAttempts
	if !retry.Enabled {
		attempts = 1
	}
	return Route{
		Route:        r,
		MaxAttempts:  attempts,
		WaitDuration: retry.WaitDuration,
		MaxWait:      retry.MaxWait,
		InFlight:     inFlight,
	}
}
