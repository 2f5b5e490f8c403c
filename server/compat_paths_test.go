package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// TestPlatformPaths: the platform's paths without /api answer as the /api ones do.
func TestPlatformPaths(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	if st, body := apiCall(t, hs, "GET", "/health/status", "", nil); st != 200 || body["status"] != "ok" {
		t.Fatalf("GET /health/status: %d %v", st, body)
	}
	tok := mint(t, secretAdmin, "ops", time.Hour, PermManageApplication)
	get := func(appHeader string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+"/telemetry/aggregates/a/1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-App-Id", appHeader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if st, body := get("a"); st != 200 || body["records"] == nil {
		t.Fatalf("telemetry with X-App-Id: %d %v", st, body)
	}
	if st, body := get("b"); st != 400 {
		t.Fatalf("telemetry with another app's X-App-Id: %d %v, want 400", st, body)
	}
}

// TestPlatformPatterns: topic patterns match without regard to case (the matcher
// module's default), an admin unsubscribe leaves the implicit subscriptions alone, a
// subject with a space has a private topic HTTP publish reaches, and the welcome's
// remoteAddress is the address without the port.
func TestPlatformPatterns(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*", PermManageSubscribers)
	publish := func(topic, messageType string) {
		t.Helper()
		if st, body := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": topic, "message": 1, "messageType": messageType}); st != 200 {
			t.Fatalf("publish to %q: %d %v", topic, st, body)
		}
	}

	tok := mint(t, secretA, "John Smith", time.Hour, "realtime:subscriber:read:topic:secure/Logs/*")
	tc, _, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+tok), wstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := tc.WaitFor("main", "welcome")
	var d struct {
		Connection struct{ ID, RemoteAddress string } `json:"connection"`
	}
	if err := json.Unmarshal(w.Data, &d); err != nil || d.Connection.RemoteAddress != "127.0.0.1" {
		t.Fatalf("welcome %s: remoteAddress want 127.0.0.1 (no port)", w.Raw)
	}
	id := d.Connection.ID

	tc.Subscribe("secure/logs/x") // granted by secure/Logs/*
	tc.Subscribe("news")

	st, body := apiCall(t, hs, "POST", "/api/topics/a/unsubscribe", admin, map[string]any{"topicPatterns": []string{"*"}, "subject": "John Smith"})
	if st != 200 || body["unsubscribed"] != float64(2) {
		t.Fatalf("unsubscribe *: %d %v, want the 2 topics the client chose", st, body)
	}
	for _, topic := range []string{"main", "priv/" + id, "priv/John Smith"} {
		publish(topic, "still")
		tc.WaitFor(topic, "still")
	}

	tc.Subscribe("news")
	st, body = apiCall(t, hs, "POST", "/api/topics/a/unsubscribe", admin, map[string]any{"topicPatterns": []string{"NEWS"}, "subject": "John Smith"})
	if st != 200 || body["unsubscribed"] != float64(1) {
		t.Fatalf("unsubscribe NEWS from news: %d %v", st, body)
	}
}
