package keycloak

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kete-dev/kete"
)

// EventQuery pages and filters the stored-events endpoints. Zero fields are left out, so
// Keycloak's defaults apply (first 0, max 100, newest first).
type EventQuery struct {
	// First is the paging offset; Max the page size.
	First, Max int
	// DateFrom and DateTo bound the event time, both inclusive. They are sent as epoch
	// milliseconds, which Keycloak accepts since 26.2 (keycloak#36600); see DatesOnly.
	DateFrom, DateTo time.Time
	// DatesOnly sends DateFrom and DateTo as yyyy-MM-dd days (in UTC) instead, for Keycloak
	// before 26.2; a dateTo day covers the whole day.
	DatesOnly bool
	// Types filters user events by type (LOGIN, …); Events only.
	Types []string
	// OperationTypes (CREATE, …) and ResourceTypes (USER, …) filter admin events; AdminEvents only.
	OperationTypes, ResourceTypes []string
	// Direction is "asc" or "desc" (Keycloak 26.2+); blank means Keycloak's default, newest
	// first. Older versions ignore it and always answer newest first.
	Direction string
}

func (q EventQuery) values(admin bool) url.Values {
	v := url.Values{}
	if q.First > 0 {
		v.Set("first", strconv.Itoa(q.First))
	}
	if q.Max > 0 {
		v.Set("max", strconv.Itoa(q.Max))
	}
	for name, t := range map[string]time.Time{"dateFrom": q.DateFrom, "dateTo": q.DateTo} {
		switch {
		case t.IsZero():
		case q.DatesOnly:
			v.Set(name, t.UTC().Format("2006-01-02"))
		default:
			v.Set(name, strconv.FormatInt(t.UnixMilli(), 10))
		}
	}
	if admin {
		for _, t := range q.OperationTypes {
			v.Add("operationTypes", t)
		}
		for _, t := range q.ResourceTypes {
			v.Add("resourceTypes", t)
		}
	} else {
		for _, t := range q.Types {
			v.Add("type", t)
		}
	}
	if q.Direction != "" {
		v.Set("direction", q.Direction)
	}
	return v
}

// EventRepresentation is Keycloak's stored user event (org.keycloak.representations.idm).
type EventRepresentation struct {
	ID        string            `json:"id,omitempty"`
	Time      int64             `json:"time"`
	Type      string            `json:"type"`
	RealmID   string            `json:"realmId,omitempty"`
	ClientID  string            `json:"clientId,omitempty"`
	UserID    string            `json:"userId,omitempty"`
	SessionID string            `json:"sessionId,omitempty"`
	IPAddress string            `json:"ipAddress,omitempty"`
	Error     string            `json:"error,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// AuthDetailsRepresentation says who performed an admin event.
type AuthDetailsRepresentation struct {
	RealmID   string `json:"realmId,omitempty"`
	ClientID  string `json:"clientId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	IPAddress string `json:"ipAddress,omitempty"`
}

// AdminEventRepresentation is Keycloak's stored admin event.
type AdminEventRepresentation struct {
	ID             string                     `json:"id,omitempty"`
	Time           int64                      `json:"time"`
	RealmID        string                     `json:"realmId,omitempty"`
	AuthDetails    *AuthDetailsRepresentation `json:"authDetails,omitempty"`
	OperationType  string                     `json:"operationType"`
	ResourceType   string                     `json:"resourceType"`
	ResourcePath   string                     `json:"resourcePath,omitempty"`
	Representation string                     `json:"representation,omitempty"`
	Error          string                     `json:"error,omitempty"`
	Details        map[string]string          `json:"details,omitempty"`
}

// Event turns the representation into a kete event of realm realmName.
func (r *EventRepresentation) Event(realmName string) kete.Event {
	return kete.Event{
		Kind: kete.KindEvent, ID: r.ID, Time: r.Time, RealmID: r.RealmID, RealmName: realmName,
		Error: r.Error, Type: r.Type, ClientID: r.ClientID, UserID: r.UserID,
		SessionID: r.SessionID, IPAddress: r.IPAddress, Details: r.Details,
	}
}

// Event turns the representation into a kete event of realm realmName.
func (r *AdminEventRepresentation) Event(realmName string) kete.Event {
	e := kete.Event{
		Kind: kete.KindAdminEvent, ID: r.ID, Time: r.Time, RealmID: r.RealmID, RealmName: realmName,
		Error: r.Error, OperationType: r.OperationType, ResourceType: r.ResourceType,
		ResourcePath: r.ResourcePath, Representation: r.Representation, Details: r.Details,
	}
	if a := r.AuthDetails; a != nil {
		e.AuthDetails = &kete.AuthDetails{RealmID: a.RealmID, ClientID: a.ClientID, UserID: a.UserID, IPAddress: a.IPAddress}
	}
	return e
}

// Events reads stored user events of realm (GET /admin/realms/{realm}/events). Keycloak
// answers newest first unless q.Direction says otherwise; each event's RealmName is realm.
// The admin needs the view-events role of realm-management, and the realm must save events.
func (a *Admin) Events(ctx context.Context, realm string, q EventQuery) ([]kete.Event, error) {
	return storedEvents[EventRepresentation](ctx, a, realm, "events", q.values(false))
}

// AdminEvents reads stored admin events of realm (GET /admin/realms/{realm}/admin-events),
// newest first unless q.Direction says otherwise; each event's RealmName is realm.
func (a *Admin) AdminEvents(ctx context.Context, realm string, q EventQuery) ([]kete.Event, error) {
	return storedEvents[AdminEventRepresentation](ctx, a, realm, "admin-events", q.values(true))
}

// storedEvents GETs /admin/realms/{realm}/{kind} and turns each representation R into a
// kete event of realm.
func storedEvents[R any, P interface {
	*R
	Event(realmName string) kete.Event
}](ctx context.Context, a *Admin, realm, kind string, v url.Values) ([]kete.Event, error) {
	var reps []R
	if _, err := a.do(ctx, http.MethodGet, realmPath(realm)+"/"+kind, v, nil, &reps); err != nil {
		return nil, fmt.Errorf("keycloak: %s of realm %q: %w", strings.ReplaceAll(kind, "-", " "), realm, err)
	}
	out := make([]kete.Event, 0, len(reps))
	for i := range reps {
		out = append(out, P(&reps[i]).Event(realm))
	}
	return out, nil
}
