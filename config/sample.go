package config

import (
	"slices"
	"strings"

	"github.com/kete-dev/kete"
)

// singleListItem returns the one item of ms when ms is one positive list: matcher with a
// single item (the realm an internal OAuth client belongs to).
func singleListItem(ms []MatcherSettings) (string, bool) {
	items := listItems(ms)
	if len(ms) != 1 || len(items) != 1 {
		return "", false
	}
	return items[0], true
}

// listItems returns the items of the positive list: matchers among ms, in order.
func listItems(ms []MatcherSettings) []string {
	var out []string
	for _, m := range ms {
		kind, pattern, _ := strings.Cut(m.Spec, ":")
		if strings.EqualFold(strings.TrimSpace(kind), "list") && !strings.HasPrefix(pattern, "not:") {
			out = append(out, splitList(pattern)...)
		}
	}
	return out
}

// SampleEvent is the event `kete check` renders a route's URL for: the first candidate
// the route's matchers accept, trying the realms and event types its list: matchers name
// before master/LOGIN and a few common ones (an admin event for names like USER_CREATE).
// When none matches (regex or glob matchers that no candidate meets), it is the first
// candidate: a LOGIN in the first realm named, else master.
func SampleEvent(r *RouteSettings) *kete.Event {
	realms := append(listItems(r.RealmMatchers), DefaultKeycloakRealm, "acme", "demo", "test")
	types := append(listItems(r.EventMatchers), "LOGIN", "LOGIN_ERROR", "LOGOUT", "REGISTER", "CODE_TO_TOKEN", "USER_CREATE", "USER_UPDATE", "CLIENT_CREATE")
	route := &kete.Route{RealmMatchers: matchers(r.RealmMatchers), RealmMatchMode: r.RealmMatchMode,
		EventMatchers: matchers(r.EventMatchers), EventMatchMode: r.EventMatchMode}
	compiled := true
	for _, m := range append(slices.Clone(r.RealmMatchers), r.EventMatchers...) {
		compiled = compiled && m.Matcher != nil
	}
	first := sampleEvent(realms[0], types[0])
	if !compiled {
		return first
	}
	for _, realm := range realms {
		for _, typ := range types {
			if e := sampleEvent(realm, typ); route.Matches(e) {
				return e
			}
		}
	}
	return first
}

// sampleEvent is a user event of type typ in realm, or an admin event when typ reads like
// RESOURCE_OPERATION (USER_CREATE).
func sampleEvent(realm, typ string) *kete.Event {
	typ = strings.ToUpper(typ)
	e := &kete.Event{Kind: kete.KindEvent, ID: "00000000-0000-4000-8000-000000000000", Time: 1767225600000, RealmID: realm, RealmName: realm, Type: typ, ClientID: "account", UserID: "user-1"}
	for _, op := range []string{"CREATE", "UPDATE", "DELETE", "ACTION"} {
		if res, found := strings.CutSuffix(typ, "_"+op); found && res != "" {
			e.Kind, e.Type, e.ResourceType, e.OperationType = kete.KindAdminEvent, "", res, op
			e.ClientID, e.UserID = "", ""
			e.AuthDetails = &kete.AuthDetails{RealmID: realm, ClientID: "admin-cli", UserID: "user-1"}
		}
	}
	return e
}
