package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// TestTokenWithoutSubjectIsItsOwnUser: under the default policy each connection whose
// token has no "sub" gets its connection id as subject: what it publishes names that
// subject, a private message to one does not reach the other, both get in under
// oneConnectionPerUser "reject" as two users, and a refresh with another token without
// "sub" keeps the connection (issue 13 item 12: they all shared subject "" and priv/).
func TestTokenWithoutSubjectIsItsOwnUser(t *testing.T) {
	app := testApp("a", secretA)
	app.OneConnectionPerUser = OnePerUserReject
	s, hs := startServer(t, Options{Apps: []App{app}})
	tok := mint(t, secretA, "", time.Hour, "realtime:publisher:write:topic:*")
	a := connect(t, hs, "a", tok)
	b := connect(t, hs, "a", tok)

	a.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "main", "messageType": "hello", "payload": "x"}})
	f := b.WaitFor("main", "hello")
	var d struct {
		Client struct{ ConnectionID, Subject string } `json:"client"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Client.ConnectionID != a.ID() || d.Client.Subject != a.ID() {
		t.Fatalf("publisher's client %+v, want connection id and subject %q", d.Client, a.ID())
	}

	_, h := s.app("a")
	h.mu.RLock()
	shared := len(h.subjects[""])
	h.mu.RUnlock()
	if shared != 0 {
		t.Fatalf("%d connections hold the empty subject", shared)
	}

	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	if st, body := apiCall(t, hs, "POST", "/api/topics/a/publish", admin, map[string]any{"topic": "priv/" + b.ID(), "messageType": "secret", "message": "for b"}); st != 200 {
		t.Fatalf("publish: %d %v", st, body)
	}
	b.WaitFor("priv/"+b.ID(), "secret")
	a.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "main", "messageType": "marker", "payload": "x"}})
	for _, f := range a.UntilMarker("main", "marker") {
		if f.MessageType == "secret" {
			t.Fatalf("a got b's private message: %s", f.Raw)
		}
	}

	a.Send(map[string]any{"type": "refresh", "data": map[string]any{"token": mint(t, secretA, "", 2*time.Hour)}})
	a.WaitFor("priv/"+a.ID(), "refreshed")
}

// TestTokenWithoutSubjectRejected: with tokensWithoutSubject "reject", a token without
// "sub" is refused 401 token_invalid before the upgrade; one with "sub" gets in.
func TestTokenWithoutSubjectRejected(t *testing.T) {
	app := testApp("a", secretA)
	app.TokensWithoutSubject = SubjectlessReject
	_, hs := startServer(t, Options{Apps: []App{app}})
	_, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a?access_token="+mint(t, secretA, "", time.Hour)), wstest.Options{})
	if err == nil || wstest.Status(resp) != http.StatusUnauthorized {
		t.Fatalf("token without sub: %v, status %d, want 401", err, wstest.Status(resp))
	}
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if body.Error.Code != "token_invalid" {
		t.Fatalf("code %q, want token_invalid", body.Error.Code)
	}
	connect(t, hs, "a", mint(t, secretA, "alice", time.Hour))
}

// TestTokensWithoutSubjectValidated: an unknown policy is an error naming the key.
func TestTokensWithoutSubjectValidated(t *testing.T) {
	_, err := ParseApps([]byte(`[{"appId":"a","enabled":true,"tokensWithoutSubject":"share"}]`), "json")
	if err == nil || !strings.Contains(err.Error(), "tokensWithoutSubject") {
		t.Fatalf("err = %v, want one naming tokensWithoutSubject", err)
	}
}
