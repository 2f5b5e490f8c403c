package keycloak_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/syncbuf"
	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/keycloak/keycloaktest"
)

var errFull = errors.New("full")

type memSink struct {
	mu     sync.Mutex
	events []kete.Event
	err    error
}

func (s *memSink) Ingest(_ context.Context, source string, events []kete.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.events = append(s.events, events...)
	return nil
}

func (s *memSink) got() []kete.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kete.Event(nil), s.events...)
}

func post(t *testing.T, url, body string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const (
	nativeLogin  = `{"id":"e1","time":1700000000000,"type":"LOGIN","realmId":"acme","clientId":"web","userId":"u1","ipAddress":"10.0.0.1","details":{"username":"ann"}}`
	nativeAdmin  = `{"time":1700000000001,"realmId":"acme","operationType":"CREATE","resourceType":"USER","resourcePath":"users/u2","authDetails":{"realmId":"master","clientId":"admin-cli","userId":"admin","ipAddress":"10.0.0.2"}}`
	p2Login      = `{"uid":"p2-1","type":"access.LOGIN","time":1700000000002,"realmId":"acme","authDetails":{"realmId":"acme","clientId":"web","userId":"u3","ipAddress":"10.0.0.3","username":"bob","sessionId":"s3"},"details":{}}`
	p2Admin      = `{"uid":"p2-2","type":"admin.USER-CREATE","time":1700000000003,"realmId":"acme","resourceType":"USER","operationType":"CREATE","resourcePath":"users/u4","authDetails":{"realmId":"master","clientId":"admin-cli","userId":"admin","ipAddress":"10.0.0.4"}}`
	vymaloLogout = `{"id":"v-1","type":"LOGOUT","realmId":"acme","realmName":"acme","time":1700000000004,"clientId":"web","userId":"u5","sessionId":"s5","ipAddress":"10.0.0.5"}`
)

func TestReceiverAcceptsEveryShapeOnceDurable(t *testing.T) {
	sink := &memSink{}
	srv := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{}))
	defer srv.Close()
	status, body, _ := post(t, srv.URL, "["+strings.Join([]string{nativeLogin, nativeAdmin, p2Login, p2Admin, vymaloLogout}, ",")+"]", nil)
	if status != http.StatusAccepted || !strings.Contains(body, `"accepted":5`) {
		t.Fatalf("POST = %d %s", status, body)
	}
	got := sink.got()
	want := []string{"LOGIN", "USER_CREATE", "LOGIN", "USER_CREATE", "LOGOUT"}
	for i, e := range got {
		if e.EventType() != want[i] {
			t.Fatalf("event %d type %q, want %q", i, e.EventType(), want[i])
		}
	}
	if status, _, _ := post(t, srv.URL, nativeLogin, nil); status != http.StatusAccepted {
		t.Fatalf("single object POST = %d", status)
	}
}

func TestReceiverRejectsBadEventsAllOrNothing(t *testing.T) {
	sink := &memSink{}
	srv := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{MaxBytes: 4096}))
	defer srv.Close()
	status, body, _ := post(t, srv.URL, `[`+nativeLogin+`, {"nothing":"here"}, 42]`, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, `"index":1`) || !strings.Contains(body, `"index":2`) {
		t.Fatalf("POST with bad elements = %d %s", status, body)
	}
	if n := len(sink.got()); n != 0 {
		t.Fatalf("%d events kept from a rejected request", n)
	}
	for _, bad := range []string{`not json`, `{"type":`, `"a string"`} {
		if status, body, _ := post(t, srv.URL, bad, nil); status != http.StatusBadRequest {
			t.Fatalf("POST %q = %d %s", bad, status, body)
		}
	}
	if status, _, _ := post(t, srv.URL, "["+strings.Repeat(nativeLogin+",", 40)+nativeLogin+"]", nil); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized POST = %d, want 413", status)
	}
}

func TestReceiverPushesBackWhenTheSinkIsFull(t *testing.T) {
	sink := &memSink{err: errFull}
	srv := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{IsFull: func(err error) bool { return errors.Is(err, errFull) }}))
	defer srv.Close()
	status, _, h := post(t, srv.URL, nativeLogin, nil)
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("POST into a full sink = %d, Retry-After %q", status, h.Get("Retry-After"))
	}
	sink.mu.Lock()
	sink.err = nil
	sink.mu.Unlock()
	if status, _, _ := post(t, srv.URL, nativeLogin, nil); status != http.StatusAccepted {
		t.Fatalf("POST after room freed = %d", status)
	}
}

func TestReceiverChecksSignatureAndCredentials(t *testing.T) {
	sink := &memSink{}
	signed := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{Secret: "s3cret"}))
	defer signed.Close()
	if status, _, _ := post(t, signed.URL, p2Login, nil); status != http.StatusUnauthorized {
		t.Fatalf("unsigned POST = %d, want 401", status)
	}
	if status, _, _ := post(t, signed.URL, p2Login, map[string]string{keycloak.P2SignatureHeader: keycloak.SignP2([]byte(p2Login), "other")}); status != http.StatusUnauthorized {
		t.Fatalf("wrongly signed POST = %d, want 401", status)
	}
	if status, body, _ := post(t, signed.URL, p2Login, map[string]string{keycloak.P2SignatureHeader: keycloak.SignP2([]byte(p2Login), "s3cret")}); status != http.StatusAccepted {
		t.Fatalf("signed POST = %d %s", status, body)
	}

	bearer := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{BearerToken: "tok"}))
	defer bearer.Close()
	if status, _, _ := post(t, bearer.URL, nativeLogin, map[string]string{"Authorization": "Bearer nope"}); status != http.StatusUnauthorized {
		t.Fatalf("wrong bearer = %d", status)
	}
	if status, _, _ := post(t, bearer.URL, nativeLogin, map[string]string{"Authorization": "Bearer tok"}); status != http.StatusAccepted {
		t.Fatalf("right bearer = %d", status)
	}
	basic := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{BasicUser: "kc", BasicPassword: "pw"}))
	defer basic.Close()
	req, _ := http.NewRequest(http.MethodPost, basic.URL, strings.NewReader(nativeLogin))
	req.SetBasicAuth("kc", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("basic auth POST = %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

// Two p2-inc webhooks (or a resend) deliver one Keycloak event with a new uid each; the
// event keeps Keycloak's id, so the spool's de-duplication sees one event, and its realm
// is named by realmName, not by the id in realmId.
func TestReceiverP2DeliveriesKeepKeycloaksID(t *testing.T) {
	sink := &memSink{}
	srv := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{}))
	defer srv.Close()
	second := strings.Replace(shapeP2AdminCurrent, "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "99999999-4b5a-4968-8776-a5b4c3d2e1f0", 1)
	for _, body := range []string{shapeP2AdminCurrent, second} {
		if status, answer, _ := post(t, srv.URL, body, nil); status != http.StatusAccepted {
			t.Fatalf("POST = %d %s", status, answer)
		}
	}
	got := sink.got()
	if len(got) != 2 || got[0].ID != "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d" || got[1].ID != got[0].ID {
		t.Fatalf("ids %q and %q, want Keycloak's id twice", got[0].ID, got[1].ID)
	}
	for _, e := range got {
		if e.Realm() != "acme" {
			t.Errorf("realm %q, want acme", e.Realm())
		}
	}
}

// vymalo keycloak-webhook posts to its base URL plus "/" (openapi/webhook.open-api.yml
// has the single path "/", which the generated OkHttp ApiClient appends with
// addEncodedPathSegments), so both forms of the path must be served, and nothing else.
func TestReceiverServesThePathWithAndWithoutATrailingSlash(t *testing.T) {
	for _, path := range []string{"/events", "/events/", "/"} {
		t.Run(path, func(t *testing.T) {
			sink := &memSink{}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
			if err := keycloak.NewReceiver(sink, keycloak.ReceiverOptions{}).Register(mux, path); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(mux)
			defer srv.Close()
			base := strings.TrimRight(path, "/")
			served := []string{base + "/"}
			if base != "" {
				served = append(served, base)
			}
			for _, p := range served {
				if status, body, _ := post(t, srv.URL+p, vymaloLogout, nil); status != http.StatusAccepted {
					t.Errorf("POST %s = %d %s", p, status, body)
				}
			}
			notServed := []string{base + "/x", "/other"}
			if base != "" {
				notServed = append(notServed, base+"x/")
			}
			for _, p := range notServed {
				if status, _, _ := post(t, srv.URL+p, vymaloLogout, nil); status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
					t.Errorf("POST %s = %d, want it not served", p, status)
				}
			}
			if n := len(sink.got()); n != len(served) {
				t.Errorf("%d events kept, want %d", n, len(served))
			}
		})
	}
	if err := keycloak.NewReceiver(&memSink{}, keycloak.ReceiverOptions{}).Register(http.NewServeMux(), "/{x}"); err == nil {
		t.Error("Register accepted a path with a wildcard")
	}
}

type refusals struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *refusals) count(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[reason]++
}

func (r *refusals) get() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

// Every refused request is counted by reason and logged with its sender's address, but
// without its payload or any credential, and a flood of refusals logs one line per reason.
func TestReceiverCountsAndLogsRefusals(t *testing.T) {
	var logs syncbuf.Buffer
	var seen refusals
	sink := &memSink{}
	rc := keycloak.NewReceiver(sink, keycloak.ReceiverOptions{
		Secret: "s3cret-value", MaxBytes: 600, LogEvery: time.Hour,
		IsFull:  func(err error) bool { return errors.Is(err, errFull) },
		Refused: seen.count, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	srv := httptest.NewServer(rc)
	defer srv.Close()
	signed := func(body string) map[string]string {
		return map[string]string{keycloak.P2SignatureHeader: keycloak.SignP2([]byte(body), "s3cret-value")}
	}
	const marker = "payload-marker-7f3a"
	badElement := `[{"type":"LOGIN","realmId":"` + marker + `"},{"type":"LOGIN","time":"` + marker + `"}]`
	tooBig := `{"type":"LOGIN","realmId":"` + strings.Repeat(marker, 60) + `"}`
	cases := []struct {
		body   string
		header map[string]string
		status int
	}{
		{`{"type":"LOGIN","realmId":"` + marker + `"}`, nil, http.StatusUnauthorized},
		{tooBig, signed(tooBig), http.StatusRequestEntityTooLarge},
		{marker, signed(marker), http.StatusBadRequest},
		{badElement, signed(badElement), http.StatusBadRequest},
	}
	for _, c := range cases {
		if status, body, _ := post(t, srv.URL, c.body, c.header); status != c.status {
			t.Fatalf("POST = %d %s, want %d", status, body, c.status)
		}
	}
	sink.mu.Lock()
	sink.err = errFull
	sink.mu.Unlock()
	full := `{"type":"LOGIN","realmId":"acme"}`
	if status, _, _ := post(t, srv.URL, full, signed(full)); status != http.StatusServiceUnavailable {
		t.Fatalf("POST into a full spool = %d", status)
	}
	for range 20 { // a sender with the wrong secret, retrying
		post(t, srv.URL, full, map[string]string{keycloak.P2SignatureHeader: keycloak.SignP2([]byte(full), "old-secret")})
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	want := map[string]int{
		keycloak.RefusedSignature: 21, keycloak.RefusedTooLarge: 1, keycloak.RefusedMalformed: 1,
		keycloak.RefusedInvalidEvents: 1, keycloak.RefusedFull: 1, keycloak.RefusedMethod: 1,
	}
	if got := seen.get(); !maps.Equal(got, want) {
		t.Errorf("refusals counted %v, want %v", got, want)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	reasons := map[string]int{}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		reason, _ := rec["reason"].(string)
		reasons[reason]++
		if remote, _ := rec["remote"].(string); !strings.HasPrefix(remote, "127.0.0.1:") {
			t.Errorf("log line without the sender's address: %s", line)
		}
		if rec["msg"] != "webhook: request refused" {
			t.Errorf("log line %s", line)
		}
	}
	for reason := range want {
		if reasons[reason] != 1 {
			t.Errorf("%d log lines for reason %s, want 1: %v", reasons[reason], reason, lines)
		}
	}
	for _, secret := range []string{marker, "s3cret-value", "old-secret"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs.String())
		}
	}
}

// A sender that carries only the realm's id (vymalo's HTTP sender) gets its events named
// through GET /admin/realms; the list is kept, and read again for a realm created since.
func TestReceiverNamesRealmsThroughTheAdminAPI(t *testing.T) {
	kc := keycloaktest.New(t, keycloaktest.WithRealm("acme"))
	sink := &memSink{}
	var logs syncbuf.Buffer
	srv := httptest.NewServer(keycloak.NewReceiver(sink, keycloak.ReceiverOptions{
		Realms: keycloak.NewRealmNames(keycloak.NewAdmin(kc.AdminOptions())),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	}))
	defer srv.Close()
	withRealm := func(id string) string {
		return strings.Replace(shapeVymaloHTTPLogin, "0c1f6a5e-2b4d-4d8e-9a57-6b1b8e0c2d3f", id, 1)
	}
	acme := kc.RealmID("acme")
	if status, body, _ := post(t, srv.URL, withRealm(acme), nil); status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", status, body)
	}
	globex := kc.AddRealm("globex") // created after the list was read
	if status, body, _ := post(t, srv.URL, withRealm(globex), nil); status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", status, body)
	}
	got := sink.got()
	if got[0].RealmName != "acme" || got[0].RealmID != acme || got[1].RealmName != "globex" {
		t.Fatalf("realms %q/%q and %q, want acme and globex", got[0].RealmID, got[0].RealmName, got[1].RealmName)
	}

	// Known ids are answered from memory: with Keycloak gone, acme is still named.
	kc.Close()
	if status, body, _ := post(t, srv.URL, withRealm(acme), nil); status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", status, body)
	}
	// An unknown id with Keycloak gone: the event is kept, with its id, and a warning says so.
	if status, body, _ := post(t, srv.URL, withRealm("11111111-0000-4000-8000-000000000000"), nil); status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", status, body)
	}
	got = sink.got()
	if got[2].RealmName != "acme" || got[3].RealmName != "" || got[3].RealmID != "11111111-0000-4000-8000-000000000000" {
		t.Errorf("with Keycloak gone: realms %q and %q/%q", got[2].RealmName, got[3].RealmID, got[3].RealmName)
	}
	if !strings.Contains(logs.String(), "realm's id only") {
		t.Errorf("no warning about the unnamed realm:\n%s", logs.String())
	}
}
