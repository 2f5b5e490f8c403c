package keycloaktest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
)

// realmEvents is a realm's events settings as RealmModel keeps them. A new realm has
// events and admin events off and the jboss-logging listener (RealmManager.createRealm
// sets it), and no event types chosen.
type realmEvents struct {
	eventsEnabled, adminEventsEnabled, adminDetailsEnabled bool
	expiration                                             int64 // seconds; 0: forever
	listeners, types                                       []string
}

func newRealmEvents() *realmEvents { return &realmEvents{listeners: []string{"jboss-logging"}} }

// saveByDefault are the user event types whose EventType is saveByDefault (Keycloak's
// org.keycloak.events.EventType): what getRealmEventsConfig answers when no types were
// chosen.
var saveByDefault = []string{
	"LOGIN", "LOGIN_ERROR", "REGISTER", "REGISTER_ERROR", "LOGOUT", "LOGOUT_ERROR",
	"CODE_TO_TOKEN", "CODE_TO_TOKEN_ERROR", "CLIENT_LOGIN", "CLIENT_LOGIN_ERROR",
	"FEDERATED_IDENTITY_LINK", "FEDERATED_IDENTITY_LINK_ERROR", "REMOVE_FEDERATED_IDENTITY",
	"REMOVE_FEDERATED_IDENTITY_ERROR", "UPDATE_EMAIL", "UPDATE_EMAIL_ERROR", "UPDATE_PROFILE",
	"UPDATE_PROFILE_ERROR", "UPDATE_PASSWORD", "UPDATE_PASSWORD_ERROR", "UPDATE_TOTP",
	"UPDATE_TOTP_ERROR", "VERIFY_EMAIL", "VERIFY_EMAIL_ERROR", "VERIFY_PROFILE",
	"VERIFY_PROFILE_ERROR", "REMOVE_TOTP", "REMOVE_TOTP_ERROR", "GRANT_CONSENT",
	"GRANT_CONSENT_ERROR", "UPDATE_CONSENT", "UPDATE_CONSENT_ERROR", "REVOKE_GRANT",
	"REVOKE_GRANT_ERROR", "SEND_VERIFY_EMAIL", "SEND_VERIFY_EMAIL_ERROR", "SEND_RESET_PASSWORD",
	"SEND_RESET_PASSWORD_ERROR", "SEND_IDENTITY_PROVIDER_LINK", "SEND_IDENTITY_PROVIDER_LINK_ERROR",
	"RESET_PASSWORD", "RESET_PASSWORD_ERROR", "RESTART_AUTHENTICATION", "RESTART_AUTHENTICATION_ERROR",
	"IDENTITY_PROVIDER_LINK_ACCOUNT", "IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR",
	"IDENTITY_PROVIDER_FIRST_LOGIN", "IDENTITY_PROVIDER_FIRST_LOGIN_ERROR",
	"IDENTITY_PROVIDER_POST_LOGIN", "IDENTITY_PROVIDER_POST_LOGIN_ERROR", "IMPERSONATE",
	"IMPERSONATE_ERROR", "CUSTOM_REQUIRED_ACTION", "CUSTOM_REQUIRED_ACTION_ERROR",
	"EXECUTE_ACTIONS", "EXECUTE_ACTIONS_ERROR", "EXECUTE_ACTION_TOKEN", "EXECUTE_ACTION_TOKEN_ERROR",
	"CLIENT_REGISTER", "CLIENT_REGISTER_ERROR", "CLIENT_UPDATE", "CLIENT_UPDATE_ERROR",
	"CLIENT_DELETE", "CLIENT_DELETE_ERROR", "CLIENT_INITIATED_ACCOUNT_LINKING",
	"CLIENT_INITIATED_ACCOUNT_LINKING_ERROR", "TOKEN_EXCHANGE", "TOKEN_EXCHANGE_ERROR",
	"OAUTH2_DEVICE_AUTH", "OAUTH2_DEVICE_AUTH_ERROR", "OAUTH2_DEVICE_VERIFY_USER_CODE",
	"OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR", "OAUTH2_DEVICE_CODE_TO_TOKEN",
	"OAUTH2_DEVICE_CODE_TO_TOKEN_ERROR", "AUTHREQID_TO_TOKEN", "AUTHREQID_TO_TOKEN_ERROR",
	"PERMISSION_TOKEN", "DELETE_ACCOUNT", "DELETE_ACCOUNT_ERROR", "USER_DISABLED_BY_PERMANENT_LOCKOUT",
	"USER_DISABLED_BY_TEMPORARY_LOCKOUT", "OAUTH2_EXTENSION_GRANT", "OAUTH2_EXTENSION_GRANT_ERROR",
	"JWT_BEARER", "JWT_BEARER_ERROR",
}

// eventsOf returns the realm's events settings. Caller holds s.mu.
func (s *Server) eventsOf(r *realm) *realmEvents {
	if s.realmEvents == nil {
		s.realmEvents = map[*realm]*realmEvents{}
	}
	e := s.realmEvents[r]
	if e == nil {
		e = newRealmEvents()
		s.realmEvents[r] = e
	}
	return e
}

// representation is ModelToRepresentation.toEventsConfigReprensetation, with
// getRealmEventsConfig's substitution of the save-by-default types when none are chosen.
func (e *realmEvents) representation() keycloak.RealmEventsConfig {
	admin, details := e.adminEventsEnabled, e.adminDetailsEnabled
	rep := keycloak.RealmEventsConfig{
		EventsEnabled:             e.eventsEnabled,
		EventsListeners:           slices.Clone(e.listeners),
		EnabledEventTypes:         slices.Clone(e.types),
		AdminEventsEnabled:        &admin,
		AdminEventsDetailsEnabled: &details,
	}
	if e.expiration != 0 {
		exp := e.expiration
		rep.EventsExpiration = &exp
	}
	if len(rep.EnabledEventTypes) == 0 {
		rep.EnabledEventTypes = slices.Clone(saveByDefault)
	}
	return rep
}

// handleGetEventsConfig mirrors GET /admin/realms/{realm}/events/config
// (RealmAdminResource.getRealmEventsConfig).
func (s *Server) handleGetEventsConfig(w http.ResponseWriter, _ *http.Request, rl *realm) {
	writeJSON(w, http.StatusOK, s.eventsOf(rl).representation())
}

// handlePutEventsConfig mirrors PUT /admin/realms/{realm}/events/config
// (RealmAdminResource.updateRealmEventsConfig → RealmManager.updateRealmEventsConfig):
// eventsEnabled and eventsExpiration are set from every request, absent ones to false and
// 0 (forever); listeners, event types and the admin flags only when present. It answers
// 204 and, like Keycloak's adminEvent…refreshRealmEventsConfig().success(), records a
// REALM UPDATE admin event at events/config when the new settings save admin events (with
// the request as representation when details are on). Simplified: listener names are not
// checked against installed providers (Keycloak answers 400 "Unknown event listener").
func (s *Server) handlePutEventsConfig(w http.ResponseWriter, r *http.Request, rl *realm) {
	var rep struct {
		EventsEnabled             bool      `json:"eventsEnabled"`
		EventsExpiration          *int64    `json:"eventsExpiration"`
		EventsListeners           *[]string `json:"eventsListeners"`
		EnabledEventTypes         *[]string `json:"enabledEventTypes"`
		AdminEventsEnabled        *bool     `json:"adminEventsEnabled"`
		AdminEventsDetailsEnabled *bool     `json:"adminEventsDetailsEnabled"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &rep)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown_error"})
		return
	}
	e := s.eventsOf(rl)
	e.eventsEnabled = rep.EventsEnabled
	e.expiration = 0
	if rep.EventsExpiration != nil {
		e.expiration = *rep.EventsExpiration
	}
	if rep.EventsListeners != nil {
		e.listeners = slices.Clone(*rep.EventsListeners)
	}
	if rep.EnabledEventTypes != nil {
		e.types = slices.Clone(*rep.EnabledEventTypes)
	}
	if rep.AdminEventsEnabled != nil {
		e.adminEventsEnabled = *rep.AdminEventsEnabled
	}
	if rep.AdminEventsDetailsEnabled != nil {
		e.adminDetailsEnabled = *rep.AdminEventsDetailsEnabled
	}
	if e.adminEventsEnabled {
		ev := kete.Event{Kind: kete.KindAdminEvent, RealmID: rl.id, Time: time.Now().UnixMilli(),
			OperationType: "UPDATE", ResourceType: "REALM", ResourcePath: "events/config"}
		if !s.events.noEventIDs {
			ev.ID = newUUID()
		}
		if e.adminDetailsEnabled {
			ev.Representation = string(body)
		}
		rl.adminEvents = append(rl.adminEvents, ev)
	}
	w.WriteHeader(http.StatusNoContent)
}

// RealmEventsConfig returns a realm's events settings as GET …/events/config answers them.
func (s *Server) RealmEventsConfig(realmName string) keycloak.RealmEventsConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		r = s.addRealm(realmName)
	}
	return s.eventsOf(r).representation()
}

// SetRealmEventsConfig sets a realm's events settings, as an administrator would in the
// console; nil admin flags count as off and a nil expiration as forever.
func (s *Server) SetRealmEventsConfig(realmName string, c keycloak.RealmEventsConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.realms[realmName]
	if r == nil {
		r = s.addRealm(realmName)
	}
	e := s.eventsOf(r)
	e.eventsEnabled = c.EventsEnabled
	e.adminEventsEnabled = c.AdminEventsEnabled != nil && *c.AdminEventsEnabled
	e.adminDetailsEnabled = c.AdminEventsDetailsEnabled != nil && *c.AdminEventsDetailsEnabled
	e.expiration = 0
	if c.EventsExpiration != nil {
		e.expiration = *c.EventsExpiration
	}
	if c.EventsListeners != nil {
		e.listeners = slices.Clone(c.EventsListeners)
	}
	e.types = slices.Clone(c.EnabledEventTypes)
}
