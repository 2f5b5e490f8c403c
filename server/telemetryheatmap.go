package server

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Country heatmap: GET /telemetry/heatmap/connections/countries/{appId}/{days}, which
// the realtime-forum demo telemetry-get-app-contries-heatmap.js (BackendStack21/
// realtime-forum, demos/node) calls on the platform's API gateway. Its answer is
// documented nowhere (docs/server.md, "Compatibility"); the demo only prints it.
//
// kete has no GeoIP database and adds none: a connection's country is read from the
// request header the app names in countryHeader (e.g. Cloudflare's CF-IPCountry), which
// only a proxy in front of kete that sets it (and strips a client's own) makes
// trustworthy; without it, or without a usable value, the connection counts under ZZ.

// unknownCountry is the code of connections whose country is not known: ZZ, the
// ISO 3166 user-assigned code commonly used for "unknown".
const unknownCountry = "ZZ"

// countriesPerDay caps the codes counted a day; two characters from A-Z and 0-9 make
// 1,296 at most, so it never bites, but the tally wants a bound.
const countriesPerDay = 36 * 36

// countryCounts is how many connections a country opened.
type countryCounts struct {
	Connections int64 `json:"connections"`
}

func (c countryCounts) plus(o countryCounts) countryCounts {
	return countryCounts{c.Connections + o.Connections}
}

// countryTelemetry counts client connections per country and UTC day. Its zero value
// is ready.
type countryTelemetry struct{ days dailyTally[countryCounts] }

// addConnection counts a client connection that r opened at now (unix ns), under the
// country that header (the app's countryHeader) gives.
func (t *countryTelemetry) addConnection(now int64, header string, r *http.Request) {
	t.days.add(now, connectionCountry(header, r), countriesPerDay, countryCounts{1})
}

// connectionCountry is the country code in r's header, upper-cased: two letters or
// digits (CF-IPCountry's T1, Tor, included), else unknownCountry, as is Cloudflare's
// XX (no country data).
func connectionCountry(header string, r *http.Request) string {
	if header == "" {
		return unknownCountry
	}
	v := strings.ToUpper(strings.TrimSpace(r.Header.Get(header)))
	if len(v) != 2 || !countryChar(v[0]) || !countryChar(v[1]) || v == "XX" {
		return unknownCountry
	}
	return v
}

func countryChar(b byte) bool { return b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' }

// validateCountryHeader checks an app's countryHeader: empty, or an HTTP header name.
func validateCountryHeader(name string) error {
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return fmt.Errorf("countryHeader %q: not an HTTP header name (byte %d)", name, i)
		}
	}
	return nil
}

// countryRecord is one country in the answer.
type countryRecord struct {
	Country string `json:"_id"`
	countryCounts
}

// countryHeatmapAnswer is the answer of the heatmap path.
type countryHeatmapAnswer struct {
	From        string          `json:"from"` // start of the first UTC day counted
	Connections int64           `json:"connections"`
	Records     []countryRecord `json:"records"`
}

// handleCountryHeatmap serves GET [/api]/telemetry/heatmap/connections/countries/
// {appId}/{days}: the client connections this node opened per country code over the
// current UTC day and the days-1 before it, most first (ties by code). Auth as the
// aggregates: an admin token with realtime:admin:manage:application.
func (s *Server) handleCountryHeatmap(w http.ResponseWriter, r *http.Request) {
	h, from, to, ok := s.perDayTelemetryRequest(w, r)
	if !ok {
		return
	}
	byCountry, _ := h.countries.days.sum(from, to)
	out := countryHeatmapAnswer{From: dayStart(from), Records: make([]countryRecord, 0, len(byCountry))}
	for code, c := range byCountry {
		out.Connections += c.Connections
		out.Records = append(out.Records, countryRecord{code, c})
	}
	slices.SortFunc(out.Records, func(a, b countryRecord) int {
		return cmp.Or(cmp.Compare(b.Connections, a.Connections), cmp.Compare(a.Country, b.Country))
	})
	writeJSON(w, http.StatusOK, out)
}
