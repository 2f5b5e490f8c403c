package keycloak_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/keycloak"
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
