package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestHTTPAPI(t *testing.T) {
	app := testApp("a", secretA)
	locked := testApp("locked", secretA)
	locked.AdminSourceAddress = []string{"10.0.0.0/8"}
	_, hs := startServer(t, Options{Apps: []App{app, locked}})
	adminTok := func(perms ...string) string { return mint(t, secretAdmin, "ops", time.Hour, perms...) }
	all := adminTok("realtime:publisher:write:topic:*", PermManageConnections, PermManageSubscribers, PermManageApplication)

	if st, body := apiCall(t, hs, "GET", "/api/health/status", "", nil); st != 200 || body["status"] != "ok" {
		t.Fatalf("health: %d %v", st, body)
	}

	errTests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "POST", "/api/topics/a/publish", "", map[string]any{"topic": "t", "message": 1}, 401, "token_missing"},
		{"client key token", "POST", "/api/topics/a/publish", mint(t, secretA, "x", time.Hour, "realtime:publisher:write:topic:*"), map[string]any{"topic": "t", "message": 1}, 401, "token_invalid"},
		{"unknown app", "POST", "/api/topics/zz/publish", all, map[string]any{"topic": "t", "message": 1}, 404, "app_not_found"},
		{"admin source denied", "POST", "/api/topics/locked/publish", all, map[string]any{"topic": "t", "message": 1}, 403, "source_denied"},
		{"publish without permission", "POST", "/api/topics/a/publish", adminTok(PermManageConnections), map[string]any{"topic": "t", "message": 1}, 403, "forbidden"},
		{"publish too large", "POST", "/api/topics/a/publish", all, map[string]any{"topic": "t", "message": strings.Repeat("x", 70<<10)}, 413, "payload_too_large"},
		{"publish bad json", "POST", "/api/topics/a/publish", all, "{", 400, "invalid_body"},
		{"publish without message", "POST", "/api/topics/a/publish", all, map[string]any{"topic": "t"}, 400, "invalid_body"},
		{"unsubscribe too many patterns", "POST", "/api/topics/a/unsubscribe", all, map[string]any{"topicPatterns": make([]string, 51), "subject": "x"}, 400, "invalid_body"},
		{"unsubscribe without permission", "POST", "/api/topics/a/unsubscribe", adminTok("realtime:publisher:write:topic:*"), map[string]any{"topicPatterns": []string{"*"}}, 403, "forbidden"},
		{"close unknown connection", "DELETE", "/api/connections/a/nope", all, nil, 404, "connection_not_found"},
		{"close without permission", "DELETE", "/api/connections/a", adminTok(PermManageSubscribers), nil, 403, "forbidden"},
		{"telemetry bad days", "GET", "/api/telemetry/aggregates/a/0", all, nil, 400, "invalid_days"},
		{"telemetry without permission", "GET", "/api/telemetry/aggregates/a/1", adminTok(PermManageConnections), nil, 403, "forbidden"},
		{"unknown endpoint", "GET", "/api/nothing", "", nil, 404, "not_found"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := apiCall(t, hs, tt.method, tt.path, tt.token, tt.body)
			e, _ := body["error"].(map[string]any)
			if st != tt.status || e == nil || e["code"] != tt.code || e["message"] == "" {
				t.Fatalf("got %d %v, want %d with code %q", st, body, tt.status, tt.code)
			}
		})
	}

	alice := connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
	bob := connect(t, hs, "a", mint(t, secretA, "bob", time.Hour))
	alice.Subscribe("secure-ish/logs/1")
	alice.Subscribe("news")

	t.Run("publish", func(t *testing.T) {
		st, _ := apiCall(t, hs, "POST", "/api/topics/a/publish", all, map[string]any{"topic": "news", "message": map[string]any{"hello": "world"}, "messageType": "note", "compress": true})
		if st != 200 {
			t.Fatalf("status %d", st)
		}
		f := alice.WaitFor("news", "note")
		if string(f.Data) != `{"hello":"world"}` || !f.Binary {
			t.Fatalf("delivered %s binary=%v", f.Data, f.Binary)
		}
	})
	t.Run("unsubscribe by pattern and subject", func(t *testing.T) {
		st, body := apiCall(t, hs, "POST", "/api/topics/a/unsubscribe", all, map[string]any{"topicPatterns": []string{"secure-ish/logs/*"}, "subject": "alice"})
		if st != 200 || body["unsubscribed"] != float64(1) {
			t.Fatalf("got %d %v", st, body)
		}
		apiCall(t, hs, "POST", "/api/topics/a/publish", all, map[string]any{"topic": "secure-ish/logs/1", "message": 1})
		apiCall(t, hs, "POST", "/api/topics/a/publish", all, map[string]any{"topic": "news", "message": 2, "messageType": "mark"})
		for _, f := range alice.UntilMarker("news", "mark") {
			if f.Topic == "secure-ish/logs/1" {
				t.Fatal("delivered after the API unsubscribed it")
			}
		}
	})
	t.Run("telemetry", func(t *testing.T) {
		st, body := apiCall(t, hs, "GET", "/api/telemetry/aggregates/a/1", all, nil)
		recs, _ := body["records"].([]any)
		if st != 200 || len(recs) == 0 || body["ops"].(float64) < 3 || body["subscribers"].(float64) < 2 {
			t.Fatalf("telemetry %d %v", st, body)
		}
		r := recs[0].(map[string]any)
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", r["_id"].(string)); err != nil {
			t.Fatalf("record _id %v: %v", r["_id"], err)
		}
	})
	t.Run("close one connection", func(t *testing.T) {
		if st, _ := apiCall(t, hs, "DELETE", "/api/connections/a/"+bob.ID(), all, nil); st != 200 {
			t.Fatalf("status %d", st)
		}
		if ce := bob.WaitClosed(); ce.Code != CloseNormal || string(ce.Reason) != ReasonClosedByAdmin {
			t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
		}
	})
	t.Run("close all connections", func(t *testing.T) {
		st, body := apiCall(t, hs, "DELETE", "/api/connections/a", all, nil)
		if st != 200 || body["closed"].(float64) < 1 {
			t.Fatalf("got %d %v", st, body)
		}
		alice.WaitClosed()
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := hs.Client().Get(hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, "")
		buf := make([]byte, 1<<20)
		n, _ := resp.Body.Read(buf)
		text := string(buf[:n])
		for _, name := range []string{"kete_server_connections", "kete_server_frames_out_total", "kete_server_auth_failures_total{reason=\"token_missing\"}", "kete_server_slow_consumer_closes_total"} {
			if !strings.Contains(text, name) {
				t.Errorf("metrics lack %s", name)
			}
		}
	})
}
