package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kete-dev/kete"
)

// Generator makes Keycloak-like user and admin events across a few realms: mostly logins
// and token refreshes, some failed logins, registrations, logouts, and the occasional
// admin change, with stable users, clients and addresses so the dashboard's filters and
// counts look like a real realm's.
type Generator struct {
	// Realms to spread events over (default acme, globex, master).
	Realms []string
	// AdminShare is the fraction of admin events (default 0.05).
	AdminShare float64
	rng        *rand.Rand
	seq        uint64
	prefix     string
}

// NewGenerator returns a generator seeded by seed, so a test can predict its output.
func NewGenerator(seed uint64) *Generator {
	return &Generator{
		Realms:     []string{"acme", "globex", "master"},
		AdminShare: 0.05,
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		prefix:     fmt.Sprintf("%08x", uint32(seed)),
	}
}

type weighted struct {
	typ    string
	weight int
}

// userEvents is weighted like a busy realm: most traffic is logins and token traffic.
var userEvents = []weighted{
	{"LOGIN", 40}, {"CODE_TO_TOKEN", 20}, {"REFRESH_TOKEN", 15}, {"LOGIN_ERROR", 8},
	{"LOGOUT", 6}, {"REGISTER", 3}, {"UPDATE_PASSWORD", 2}, {"CLIENT_LOGIN", 3},
	{"SEND_RESET_PASSWORD", 1}, {"UPDATE_TOTP", 1}, {"REGISTER_ERROR", 1},
}

var adminEvents = []struct{ resource, op string }{
	{"USER", "CREATE"}, {"USER", "UPDATE"}, {"USER", "DELETE"}, {"CLIENT", "UPDATE"},
	{"GROUP_MEMBERSHIP", "CREATE"}, {"REALM_ROLE_MAPPING", "CREATE"}, {"CLIENT", "CREATE"},
}

var clients = []string{"web-portal", "mobile-app", "admin-console", "billing-api", "partner-sso"}

var loginErrors = []string{"invalid_user_credentials", "user_not_found", "user_disabled", "expired_code"}

func (g *Generator) pick(ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := g.rng.IntN(total)
	for _, w := range ws {
		if n < w.weight {
			return w.typ
		}
		n -= w.weight
	}
	return ws[0].typ
}

// Next makes one event stamped with now.
func (g *Generator) Next(now time.Time) kete.Event {
	g.seq++
	realm := g.Realms[g.rng.IntN(len(g.Realms))]
	user := g.rng.IntN(200)
	userID := fmt.Sprintf("%08x-0000-4000-8000-%012x", user*7919, user)
	ip := fmt.Sprintf("203.0.113.%d", 1+user%250)
	e := kete.Event{
		ID:        fmt.Sprintf("%s-%d", g.prefix, g.seq),
		Time:      now.UnixMilli(),
		RealmID:   realm + "-id",
		RealmName: realm,
	}
	if g.rng.Float64() < g.AdminShare {
		a := adminEvents[g.rng.IntN(len(adminEvents))]
		e.Kind = kete.KindAdminEvent
		e.ResourceType, e.OperationType = a.resource, a.op
		target := g.rng.IntN(500)
		e.ResourcePath = fmt.Sprintf("%ss/%08x-1111-4000-8000-%012x", lowerPlural(a.resource), target, target)
		e.AuthDetails = &kete.AuthDetails{RealmID: "master-id", ClientID: "admin-cli", UserID: "00000000-0000-4000-8000-00000000ad01", IPAddress: "198.51.100.7"}
		if a.op != "DELETE" {
			e.Representation = fmt.Sprintf(`{"id":"%08x","enabled":true}`, target)
		}
		return e
	}
	e.Kind = kete.KindEvent
	e.Type = g.pick(userEvents)
	e.ClientID = clients[g.rng.IntN(len(clients))]
	e.UserID = userID
	e.IPAddress = ip
	e.SessionID = fmt.Sprintf("%08x-2222-4000-8000-%012x", user, g.seq%1000)
	e.Details = map[string]string{"username": fmt.Sprintf("user%03d", user), "auth_method": "openid-connect"}
	switch e.Type {
	case "LOGIN_ERROR", "REGISTER_ERROR":
		e.Error = loginErrors[g.rng.IntN(len(loginErrors))]
		e.SessionID = ""
	case "LOGIN", "CODE_TO_TOKEN":
		e.Details["redirect_uri"] = "https://" + e.ClientID + ".example.com/callback"
	}
	return e
}

func lowerPlural(resource string) string {
	switch resource {
	case "USER":
		return "user"
	case "CLIENT":
		return "client"
	case "GROUP_MEMBERSHIP":
		return "group"
	default:
		return "role"
	}
}

// Run emits about rate events a second in small batches until ctx ends or emit fails. It
// returns how many events emit accepted.
func (g *Generator) Run(ctx context.Context, rate int, emit func(context.Context, []kete.Event) error) (int, error) {
	if rate <= 0 {
		return 0, fmt.Errorf("demo: rate %d must be positive", rate)
	}
	const tick = 50 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return sent, nil
		case now := <-t.C:
			due := int(now.Sub(start).Seconds()*float64(rate)) - sent
			if due <= 0 {
				continue
			}
			batch := make([]kete.Event, due)
			for i := range batch {
				batch[i] = g.Next(now)
			}
			if err := emit(ctx, batch); err != nil {
				if ctx.Err() != nil {
					return sent, nil
				}
				return sent, err
			}
			sent += due
		}
	}
}
