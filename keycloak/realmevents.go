package keycloak

import (
	"context"
	"fmt"
	"net/http"
)

// RealmEventsConfig is Keycloak's RealmEventsConfigRepresentation: a realm's "save events"
// settings, read and written at /admin/realms/{realm}/events/config.
type RealmEventsConfig struct {
	// EventsEnabled is "Save events": user events are stored, for the poller to read.
	EventsEnabled bool `json:"eventsEnabled"`
	// EventsExpiration is how long stored user events are kept, in seconds; nil: forever.
	EventsExpiration *int64 `json:"eventsExpiration,omitempty"`
	// EventsListeners are the realm's event listener providers (jboss-logging, kete, …).
	EventsListeners []string `json:"eventsListeners,omitempty"`
	// EnabledEventTypes are the user event types stored; Keycloak answers its
	// save-by-default list when none were chosen.
	EnabledEventTypes []string `json:"enabledEventTypes,omitempty"`
	// AdminEventsEnabled is "Save admin events".
	AdminEventsEnabled *bool `json:"adminEventsEnabled,omitempty"`
	// AdminEventsDetailsEnabled is "Include representation": admin events carry the
	// changed resource's JSON.
	AdminEventsDetailsEnabled *bool `json:"adminEventsDetailsEnabled,omitempty"`
}

// RealmEventsConfig reads a realm's events settings (GET
// /admin/realms/{realm}/events/config, RealmAdminResource.getRealmEventsConfig; needs
// view-events).
func (a *Admin) RealmEventsConfig(ctx context.Context, realm string) (RealmEventsConfig, error) {
	var out RealmEventsConfig
	if _, err := a.do(ctx, http.MethodGet, realmPath(realm)+"/events/config", nil, nil, &out); err != nil {
		return out, fmt.Errorf("keycloak: events config of realm %s: %w", realm, err)
	}
	return out, nil
}

// UpdateRealmEventsConfig writes a realm's events settings (PUT
// /admin/realms/{realm}/events/config, RealmAdminResource.updateRealmEventsConfig; needs
// manage-events). Keycloak's RealmManager.updateRealmEventsConfig sets EventsEnabled and
// EventsExpiration from every request (absent: false, and 0 = forever), and the listeners,
// event types and admin flags only when given: leave those nil to keep them.
func (a *Admin) UpdateRealmEventsConfig(ctx context.Context, realm string, c RealmEventsConfig) error {
	if _, err := a.do(ctx, http.MethodPut, realmPath(realm)+"/events/config", nil, c, nil); err != nil {
		return fmt.Errorf("keycloak: update events config of realm %s: %w", realm, err)
	}
	return nil
}

// EnableRealmEvents turns on what the poller needs in a realm, as KETE does for the
// realms its routes match (FortuneN/kete ProviderFactory.run: setEventsEnabled,
// setAdminEventsEnabled, setAdminEventsDetailsEnabled): saving user events, saving admin
// events, and admin events' representation. The realm's listeners, event types and
// expiration are kept (KETE also adds its listener and turns on every event type; kete
// needs neither). It writes nothing when all three are already on, so that a restart does
// not record another REALM UPDATE admin event, and reports whether it wrote.
func (a *Admin) EnableRealmEvents(ctx context.Context, realm string) (changed bool, err error) {
	cur, err := a.RealmEventsConfig(ctx, realm)
	if err != nil {
		return false, err
	}
	if cur.EventsEnabled && isTrue(cur.AdminEventsEnabled) && isTrue(cur.AdminEventsDetailsEnabled) {
		return false, nil
	}
	on := true
	err = a.UpdateRealmEventsConfig(ctx, realm, RealmEventsConfig{
		EventsEnabled:             true,
		EventsExpiration:          cur.EventsExpiration, // sent back, or Keycloak resets it to 0
		AdminEventsEnabled:        &on,
		AdminEventsDetailsEnabled: &on,
	})
	return err == nil, err
}

func isTrue(b *bool) bool { return b != nil && *b }

// configureRealm is PollerOptions.ConfigureRealms for one realm; it reports success. A
// failure (a Keycloak down, an admin without manage-events) is logged, and the realm is
// polled anyway: an administrator may have turned saving on by hand.
func (p *Poller) configureRealm(ctx context.Context, realm string) bool {
	changed, err := p.admin.EnableRealmEvents(ctx, realm)
	if err != nil {
		if ctx.Err() == nil {
			p.configOutages[realm].Failed(err) // one line a spell, not one an interval
		}
		return false
	}
	p.configOutages[realm].Succeeded()
	if changed {
		p.opts.Logger.Info("turned on saving user events, admin events and admin details in the realm", "realm", realm)
	}
	return true
}
