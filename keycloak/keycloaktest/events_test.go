package keycloaktest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

func eventIDs(arr []any) string {
	var s []string
	for _, e := range arr {
		id, _ := e.(map[string]any)["id"].(string)
		s = append(s, id)
	}
	return strings.Join(s, ",")
}

// Each version's reading of dateFrom, dateTo and direction, and its refusals, as
// RealmAdminResource.getEvents answers them.
func TestEventsEndpointByVersion(t *testing.T) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	times := []time.Time{day.Add(-time.Hour), day.Add(3 * time.Hour), day.Add(11 * time.Hour), day.Add(25 * time.Hour)}
	add := func(kc *keycloaktest.Server) {
		for i, at := range times {
			kc.AddEvent("acme", kete.Event{Type: "LOGIN", Time: at.UnixMilli(), ID: string(rune('a' + i))})
		}
	}
	latest := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	add(latest)
	west := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithVersion("26.1.4"),
		keycloaktest.WithTimeZone(time.FixedZone("UTC-10", -10*3600)))
	add(west)
	ms := strconv.FormatInt(day.Add(3*time.Hour).UnixMilli(), 10)
	for _, tt := range []struct {
		name   string
		kc     *keycloaktest.Server
		query  string
		status int
		want   string // ids in order, or the error
	}{
		{"26.2 day in UTC", latest, "?dateFrom=2026-11-02&dateTo=2026-11-02", 200, "c,b"},
		{"26.2 epoch ms", latest, "?dateFrom=" + ms, 200, "d,c,b"},
		{"26.2 asc", latest, "?direction=asc&max=2", 200, "a,b"},
		{"26.2 direction is case-sensitive", latest, "?direction=ASC", 400, "Invalid value for sortDirection, expected value is asc or desc"},
		{"26.2 bad date", latest, "?dateFrom=2026-1-2", 400, "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp"},
		// 2026-11-02 in UTC-10 starts at 10:00 UTC.
		{"26.1 day in the JVM's zone", west, "?dateFrom=2026-11-02", 200, "d,c"},
		{"26.1 ignores direction", west, "?direction=asc", 200, "d,c,b,a"},
		{"26.1 refuses epoch ms", west, "?dateFrom=" + ms, 400, "Invalid value for 'Date(From)', expected format is yyyy-MM-dd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, obj, arr, _ := call(t, http.MethodGet, tt.kc.URL+"/admin/realms/acme/events"+tt.query, adminToken(t, tt.kc), "")
			got := eventIDs(arr)
			if status != 200 {
				got, _ = obj["error"].(string)
			}
			if status != tt.status || got != tt.want {
				t.Errorf("GET events%s = %d %q, want %d %q", tt.query, status, got, tt.status, tt.want)
			}
		})
	}
}

// Rows that share a millisecond come in a new order from request to request
// (JpaEventQuery orders by time only), while the times stay in order.
func TestEventsTiesComeInANewOrder(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	at := time.Now().UnixMilli()
	for i := range 20 {
		kc.AddEvent("acme", kete.Event{Type: "LOGIN", Time: at + int64(i/10), ID: strconv.Itoa(i)})
	}
	orders := map[string]bool{}
	for range 5 {
		_, _, arr, _ := call(t, http.MethodGet, kc.URL+"/admin/realms/acme/events", adminToken(t, kc), "")
		var last float64 = 1 << 62
		for _, e := range arr {
			tm := e.(map[string]any)["time"].(float64)
			if tm > last {
				t.Fatalf("times out of order: %v", arr)
			}
			last = tm
		}
		orders[eventIDs(arr)] = true
	}
	if len(orders) < 2 {
		t.Errorf("five requests gave the same order of ties every time: %v", orders)
	}
}

// An event begun but not committed is not listed; once committed it is, with the time it
// was stamped with. Older versions list events without an id.
func TestEventsLateCommitAndNoIDs(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"), keycloaktest.WithoutEventIDs())
	at := time.Now().Add(-time.Second).UnixMilli()
	commit := kc.BeginEvent("acme", kete.Event{Kind: kete.KindAdminEvent, OperationType: "CREATE", ResourceType: "USER", Time: at})
	kc.AddEvent("acme", kete.Event{Kind: kete.KindAdminEvent, OperationType: "UPDATE", ResourceType: "USER", ID: "dropped"})
	u := kc.URL + "/admin/realms/acme/admin-events"
	if _, _, arr, _ := call(t, http.MethodGet, u, adminToken(t, kc), ""); len(arr) != 1 {
		t.Fatalf("before the commit: %v, want only the committed event", arr)
	}
	commit()
	commit()
	_, _, arr, _ := call(t, http.MethodGet, u, adminToken(t, kc), "")
	if len(arr) != 2 {
		t.Fatalf("after the commit: %v, want both", arr)
	}
	for _, e := range arr {
		m := e.(map[string]any)
		if _, has := m["id"]; has {
			t.Errorf("event with an id from an old version: %v", m)
		}
	}
	if late := arr[1].(map[string]any); late["time"].(float64) != float64(at) {
		t.Errorf("late event %v, want time %d", late, at)
	}
}
