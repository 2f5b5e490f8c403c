// Package dashboard serves kete's live event dashboard: one HTML page, one JavaScript
// module and one stylesheet, embedded in the binary so that the server needs no build step,
// no npm and no network to show it. The page connects back to the server it came from over
// the Realtime Pub/Sub WebSocket protocol (/apps/{appId}?access_token=…), subscribes to the
// topics the user picks and draws the Keycloak events that arrive, for a person watching
// identity traffic: a feed that names users (details.username, an admin event's target from
// its representation) with filters by realm, type, result ("errors only") and free text;
// failed logins and other errors counted by user and by IP over a stated window; counts
// for every event type; and a rate chart.
//
// The page takes its settings from the URL so that a link can open it ready to go:
//
//	http://127.0.0.1:8080/#app=demo&token=eyJ…&topics=events,audit
//
// The fragment (#…) is never sent to the server, which keeps the token out of access logs;
// ?app=…&topics=… in the query works too, for settings that are not secret. Once read, the
// token moves to the tab's sessionStorage and out of the address bar (history.replaceState),
// so that a reload still connects while history and bookmarks do not keep it.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// contentSecurityPolicy keeps the page to its own assets: no inline script, no CDN, and
// WebSocket or fetch connections only (the page talks to the server it came from).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// Handler serves the dashboard: index.html at "/" and its assets beside it. Mount it at the
// server's root (or under a prefix with http.StripPrefix; the page uses relative asset
// paths). It answers GET and HEAD only, and 404 for anything that is not one of its files.
func Handler() http.Handler {
	root, err := fs.Sub(assets, "assets")
	if err != nil {
		// The embed directive above guarantees the directory; reaching here is a build bug.
		panic("dashboard: embedded assets missing: " + err.Error())
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		if name == "index.html" && r.URL.Path != "/" {
			// FileServer would redirect /index.html to /; serve the page at "/" only, so
			// there is one address for it.
			http.NotFound(w, r)
			return
		}
		if st, err := fs.Stat(root, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The assets change with the binary; revalidate rather than cache stale code.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
