package keycloak

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/kete-dev/kete"
)

// RealmRepresentation is the part of Keycloak's RealmRepresentation kete reads: the
// realm's id (a UUID unless chosen at creation) and its name, which Keycloak calls realm.
type RealmRepresentation struct {
	ID    string `json:"id,omitempty"`
	Realm string `json:"realm,omitempty"`
}

// Realms lists the realms the admin may see (GET /admin/realms?briefRepresentation=true,
// RealmsAdminResource.getRealms). Keycloak gives a realm's id only to a caller that may
// view it (the view-realm role of realm-management); a realm where the caller has another
// admin role comes back with its name alone, and no visible realm at all is 403.
func (a *Admin) Realms(ctx context.Context) ([]RealmRepresentation, error) {
	var out []RealmRepresentation
	q := url.Values{"briefRepresentation": {"true"}}
	if _, err := a.do(ctx, http.MethodGet, "/admin/realms", q, nil, &out); err != nil {
		return nil, fmt.Errorf("keycloak: list realms at %s: %w", a.base, err)
	}
	return out, nil
}

// DefaultRealmRefresh is how long RealmNames remembers that Keycloak did not know an id,
// before an event with that id makes it ask again.
const DefaultRealmRefresh = 10 * time.Second

// RealmNames maps realm ids to names for senders that carry only the id (vymalo's HTTP
// sender, p2-inc's ext-event-http, Keycloak's own representations), so that realm
// matchers and templates see names. It reads GET /admin/realms once and keeps the map;
// an id it does not know makes it read the list again (a realm created since), but an id
// Keycloak did not know either is not asked about again for Refresh, so that a sender
// posting a bogus id cannot make kete hammer Keycloak. It is safe for concurrent use.
type RealmNames struct {
	admin *Admin
	// Refresh is how long an id Keycloak did not know is answered "" from memory; zero
	// means DefaultRealmRefresh.
	Refresh time.Duration
	now     func() time.Time

	// sem is a one-slot lock around reading the list that a waiting caller can give up on.
	sem    chan struct{}
	mu     sync.Mutex // guards byID, misses and failed
	byID   map[string]string
	misses map[string]time.Time // unknown ids → when the list was read without them
	// failed is the last read's error, kept for realmRetry so that while Keycloak is
	// down each post is answered at once instead of waiting on another failed read.
	failed   error
	failedAt time.Time
}

// realmRetry is how long a failed read of the realm list is not tried again.
const realmRetry = time.Second

// NewRealmNames returns a resolver that asks admin; it does not contact Keycloak yet.
func NewRealmNames(admin *Admin) *RealmNames {
	return &RealmNames{admin: admin, now: time.Now, sem: make(chan struct{}, 1), misses: map[string]time.Time{}}
}

// Name returns the name of the realm with id id, or "" when Keycloak knows no realm with
// that id visible to kete's admin. The error is for a Keycloak that could not be asked.
func (r *RealmNames) Name(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if name, settled := r.lookup(id); settled {
		return name, nil
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("keycloak: realm name of %s: %w", id, ctx.Err())
	}
	defer func() { <-r.sem }()
	// Another caller may have read the list while this one waited.
	if name, settled := r.lookup(id); settled {
		return name, nil
	}
	r.mu.Lock()
	failed, failedAt := r.failed, r.failedAt
	r.mu.Unlock()
	if failed != nil && r.now().Sub(failedAt) < realmRetry {
		// Keycloak just failed: answer at once rather than make every post wait on it.
		return "", failed
	}
	realms, err := r.admin.Realms(ctx)
	if err != nil {
		r.mu.Lock()
		r.failed, r.failedAt = err, r.now()
		r.mu.Unlock()
		return "", err
	}
	byID := make(map[string]string, len(realms))
	for _, rl := range realms {
		if rl.ID != "" && rl.Realm != "" {
			byID[rl.ID] = rl.Realm
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID, r.failed = byID, nil
	now := r.now()
	for old, at := range r.misses { // forget old misses, so bogus ids do not pile up
		if now.Sub(at) >= r.refresh() {
			delete(r.misses, old)
		}
	}
	name, ok := byID[id]
	if !ok {
		r.misses[id] = now
	}
	return name, nil
}

// lookup answers from memory when it can: a known name, or "" for an id Keycloak did not
// know within Refresh.
func (r *RealmNames) lookup(id string) (name string, settled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name, ok := r.byID[id]; ok {
		return name, true
	}
	if at, ok := r.misses[id]; ok {
		if r.now().Sub(at) < r.refresh() {
			return "", true
		}
		delete(r.misses, id)
	}
	return "", false
}

func (r *RealmNames) refresh() time.Duration {
	if r.Refresh <= 0 {
		return DefaultRealmRefresh
	}
	return r.Refresh
}

// Resolve fills in RealmName for each event that carries only a RealmID, as far as
// Keycloak knows the id; the rest are left as they are. It stops at the first error
// (Keycloak unreachable), leaving the remaining events unchanged.
func (r *RealmNames) Resolve(ctx context.Context, events []kete.Event) error {
	for i := range events {
		e := &events[i]
		if e.RealmName != "" || e.RealmID == "" {
			continue
		}
		name, err := r.Name(ctx, e.RealmID)
		if err != nil {
			return err
		}
		e.RealmName = name
	}
	return nil
}
