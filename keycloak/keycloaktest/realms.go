package keycloaktest

import (
	"net/http"
	"sort"
)

// realmJSON is the brief RealmRepresentation (ModelToRepresentation.toBriefRepresentation).
type realmJSON struct {
	ID      string `json:"id"`
	Realm   string `json:"realm"`
	Enabled bool   `json:"enabled"`
}

// handleRealms mirrors GET /admin/realms (RealmsAdminResource.getRealms, "Get accessible
// realms"): every realm the caller may view, by name. Brief or full, kete reads only id
// and realm. Simplified: admin rights are all or nothing, so every realm is visible
// (Keycloak leaves out the id of a realm the caller administers but may not view).
func (s *Server) handleRealms(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.adminAuthorized(w, r) {
		return
	}
	out := make([]realmJSON, 0, len(s.realms))
	for _, rl := range s.realms {
		out = append(out, realmJSON{ID: rl.id, Realm: rl.name, Enabled: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Realm < out[j].Realm })
	writeJSON(w, http.StatusOK, out)
}

// AddRealm creates a realm, as an administrator would, and returns its id; an existing
// realm's id is returned.
func (s *Server) AddRealm(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.realms[name]; r != nil {
		return r.id
	}
	return s.addRealm(name).id
}
