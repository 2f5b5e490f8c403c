package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// telemetryGet calls a telemetry path as the realtime-forum demos do: a Bearer token and,
// when appHeader is not empty, X-App-Id.
func telemetryGet(t *testing.T, hs *httptest.Server, path, token, appHeader string, out any) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+path, nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if appHeader != "" {
		req.Header.Set("X-App-Id", appHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("GET %s: %d, body not JSON: %v", path, resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("GET %s: %s: %v", path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

// checkTelemetryRefusals asserts what a telemetry path refuses, as the aggregates do: a
// token without realtime:admin:manage:application (403), an X-App-Id naming another app
// (400), and days outside 1–31 (400 naming days).
func checkTelemetryRefusals(t *testing.T, hs *httptest.Server, pathOf func(days string) string, admin string) {
	t.Helper()
	weak := mint(t, secretAdmin, "ops", time.Hour, PermManageConnections)
	if st, body := telemetryGet(t, hs, pathOf("1"), weak, "a", nil); st != 403 || !strings.Contains(body, PermManageApplication) {
		t.Errorf("token without %s: %d %s, want 403 naming it", PermManageApplication, st, body)
	}
	if st, body := telemetryGet(t, hs, pathOf("1"), "", "a", nil); st != 401 {
		t.Errorf("no token: %d %s, want 401", st, body)
	}
	if st, body := telemetryGet(t, hs, pathOf("1"), admin, "b", nil); st != 400 || !strings.Contains(body, "app_mismatch") {
		t.Errorf("X-App-Id of another app: %d %s, want 400 app_mismatch", st, body)
	}
	for _, days := range []string{"0", "32", "x", "-1"} {
		if st, body := telemetryGet(t, hs, pathOf(days), admin, "a", nil); st != 400 || !strings.Contains(body, "invalid_days") || !strings.Contains(body, "days must be") {
			t.Errorf("days %q: %d %s, want 400 naming days", days, st, body)
		}
	}
}

// TestTelemetryTopTopics: GET /telemetry/top-topics/{appId}/{days}?limit=N, the path of
// realtime-forum's telemetry-get-app-top-topics.js, lists the topics really published
// to, most publications first, with their bytes and the subscribers reached; limit cuts
// the list; the refusals are those of the aggregates.
func TestTelemetryTopTopics(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA), testApp("b", secretB)}})
	tc := connect(t, hs, "a", mint(t, secretA, "reader", time.Hour, "realtime:subscriber:read:topic:*"))
	for _, topic := range []string{"news", "chat", "alerts"} {
		tc.Subscribe(topic)
	}
	pub := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	sends := []struct {
		topic, message string
	}{{"news", "a"}, {"chat", "hello there"}, {"news", "b"}, {"alerts", "!"}, {"news", "c"}, {"chat", "bye now"}}
	for _, m := range sends {
		if st, body := apiCall(t, hs, "POST", "/api/topics/a/publish", pub, map[string]any{"topic": m.topic, "message": m.message}); st != 200 {
			t.Fatalf("publish to %s: %d %v", m.topic, st, body)
		}
		tc.WaitFor(m.topic, "broadcast") // counted before the frame goes out
	}

	admin := mint(t, secretAdmin, "telemetry-operator", time.Hour, PermManageApplication)
	var got topTopicsAnswer
	if st, body := telemetryGet(t, hs, "/telemetry/top-topics/a/1?limit=100", admin, "a", &got); st != 200 {
		t.Fatalf("top topics: %d %s", st, body)
	}
	// Bytes are the data's JSON: "a" is 3 bytes, "hello there" 13, "bye now" 9, "!" 3.
	want := []topTopicRecord{
		{"news", topicCounts{Ops: 3, Bytes: 9, Subscribers: 3}},
		{"chat", topicCounts{Ops: 2, Bytes: 22, Subscribers: 2}},
		{"alerts", topicCounts{Ops: 1, Bytes: 3, Subscribers: 1}},
	}
	if !slices.Equal(got.Records, want) || got.Others != (topicCounts{}) {
		t.Fatalf("top topics: got %+v (others %+v), want %+v", got.Records, got.Others, want)
	}
	if today := time.Now().UTC().Format("2006-01-02") + "T00:00:00.000Z"; got.From != today {
		t.Errorf("from %q, want the start of today, %q", got.From, today)
	}

	// limit cuts the list; /api/… and a request without X-App-Id answer the same.
	var two topTopicsAnswer
	if st, body := telemetryGet(t, hs, "/api/telemetry/top-topics/a/7?limit=2", admin, "", &two); st != 200 || !slices.Equal(two.Records, want[:2]) {
		t.Fatalf("limit=2: %d %s, want %+v", st, body, want[:2])
	}
	// Another app's topics are its own.
	var other topTopicsAnswer
	if st, body := telemetryGet(t, hs, "/telemetry/top-topics/b/1", admin, "b", &other); st != 200 || len(other.Records) != 0 {
		t.Fatalf("app b: %d %s, want no topics", st, body)
	}

	checkTelemetryRefusals(t, hs, func(days string) string { return "/telemetry/top-topics/a/" + days + "?limit=100" }, admin)
	for _, limit := range []string{"0", "1001", "ten", ""} {
		if st, body := telemetryGet(t, hs, "/telemetry/top-topics/a/1?limit="+limit, admin, "a", nil); st != 400 || !strings.Contains(body, "invalid_limit") || !strings.Contains(body, "limit must be") {
			t.Errorf("limit %q: %d %s, want 400 naming limit", limit, st, body)
		}
	}
}

// TestTelemetryTopicsCap: an app counts at most maxKeys topics by name a day; the
// publications to the topics past it are summed in others, not lost; a day's counts leave
// the window after days, and a slot reused 31 days later starts afresh.
func TestTelemetryTopicsCap(t *testing.T) {
	var d dailyTally[topicCounts]
	day := int64(24 * time.Hour)
	t0 := 20000 * day
	one := topicCounts{Ops: 1, Bytes: 10, Subscribers: 2}
	for _, topic := range []string{"a", "b", "c", "a", "d"} {
		d.add(t0, topic, 2, one)
	}
	d.add(t0+day, "c", 2, one) // a new day has room again
	byKey, others := d.sum(20000, 20000)
	if len(byKey) != 2 || byKey["a"].Ops != 2 || byKey["b"].Ops != 1 || others.Ops != 2 || others.Bytes != 20 {
		t.Fatalf("day 1: %v, others %+v; want a:2 b:1, others 2 (c and d past the cap)", byKey, others)
	}
	byKey, others = d.sum(20000, 20001)
	if byKey["c"].Ops != 1 || byKey["a"].Ops != 2 || others.Ops != 2 {
		t.Fatalf("days 1–2: %v, others %+v", byKey, others)
	}
	d.add(t0+telemetryDays*day, "z", 2, one) // the same slot as t0, 31 days later
	byKey, others = d.sum(20000, 20000+telemetryDays)
	if len(byKey) != 2 || byKey["z"].Ops != 1 || byKey["c"].Ops != 1 || others.Ops != 0 {
		t.Fatalf("after 31 days: %v, others %+v; want c (day 2) and z only", byKey, others)
	}
}

// TestTelemetryCountryHeatmap: GET /telemetry/heatmap/connections/countries/{appId}/
// {days}, the path of realtime-forum's telemetry-get-app-contries-heatmap.js, counts the
// client connections per country from the header the app trusts (countryHeader), and
// under ZZ when it is absent, unusable or not trusted (app b names no header); the
// refusals are those of the aggregates; a countryHeader that is no header name is refused.
func TestTelemetryCountryHeatmap(t *testing.T) {
	a := testApp("a", secretA)
	a.CountryHeader = "CF-IPCountry"
	a.OneConnectionPerUser = OnePerUserOff
	b := testApp("b", secretB)
	_, hs := startServer(t, Options{Apps: []App{a, b}})
	dialFrom := func(app, secret, country string) {
		t.Helper()
		h := http.Header{}
		if country != "" {
			h.Set("CF-IPCountry", country)
		}
		tc, resp, err := wstest.Dial(t, wsURL(hs, "/apps/"+app+"?access_token="+mint(t, secret, "u", time.Hour)), wstest.Options{Header: h})
		if err != nil {
			t.Fatalf("connect to %s from %q: %v (status %v)", app, country, err, wstest.Status(resp))
		}
		tc.WaitFor("main", "welcome") // counted before the welcome goes out
	}
	for _, c := range []string{"DE", "de", "US", "", "XX", "France", "T1"} {
		dialFrom("a", secretA, c)
	}
	dialFrom("b", secretB, "DE")

	admin := mint(t, secretAdmin, "telemetry-operator", time.Hour, PermManageApplication)
	var got countryHeatmapAnswer
	if st, body := telemetryGet(t, hs, "/telemetry/heatmap/connections/countries/a/1", admin, "a", &got); st != 200 {
		t.Fatalf("heatmap: %d %s", st, body)
	}
	want := []countryRecord{{"ZZ", countryCounts{3}}, {"DE", countryCounts{2}}, {"T1", countryCounts{1}}, {"US", countryCounts{1}}}
	if got.Connections != 7 || !slices.Equal(got.Records, want) {
		t.Fatalf("heatmap of a: %+v, want 7 connections in %+v", got, want)
	}
	var other countryHeatmapAnswer
	if st, body := telemetryGet(t, hs, "/api/telemetry/heatmap/connections/countries/b/31", admin, "", &other); st != 200 ||
		other.Connections != 1 || len(other.Records) != 1 || other.Records[0] != (countryRecord{"ZZ", countryCounts{1}}) {
		t.Fatalf("heatmap of b (no countryHeader: its header is not trusted): %d %s, want 1 under ZZ", st, body)
	}

	checkTelemetryRefusals(t, hs, func(days string) string { return "/telemetry/heatmap/connections/countries/a/" + days }, admin)

	bad := testApp("c", secretA)
	bad.CountryHeader = "CF IPCountry"
	if _, err := New(Options{Apps: []App{bad}, ReloadInterval: -1}); err == nil || !strings.Contains(err.Error(), "countryHeader") {
		t.Fatalf("countryHeader with a space: %v, want an error naming countryHeader", err)
	}
}
