package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/wstest"
)

// ingestAckFrame is an ingest ack as a destination reads it.
type ingestAckFrame struct {
	Type   string `json:"type"`
	Seq    uint64 `json:"seq"`
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// dialIngest opens an acked ingest socket to topic of app "a", as a route's destination does.
func dialIngest(t *testing.T, hsURL func(string) string, topic string) *wstest.Client {
	t.Helper()
	tok := mint(t, secretA, "daemon", time.Hour, "realtime:publisher:write:topic:*")
	in, resp, err := wstest.Dial(t, hsURL("/apps/a/publish/"+topic+"?ack=1&access_token="+tok), wstest.Options{})
	if err != nil {
		t.Fatalf("ingest %s: %v (status %d)", topic, err, wstest.Status(resp))
	}
	return in
}

// ingestSend writes one text frame and returns its ack.
func ingestSend(t *testing.T, in *wstest.Client, body string) ingestAckFrame {
	t.Helper()
	in.SendText(body)
	f := in.Next()
	var a ingestAckFrame
	if err := json.Unmarshal(f.Raw, &a); err != nil {
		t.Fatalf("ack %s: %v", f.Raw, err)
	}
	return a
}

// TestIngestTwoRoutesTwoTopics: two routes of one daemon send the same events (same ids)
// to two topics of one app, as `kete demo` does with its "all" and "logins" routes. Each
// topic gets every event routed to it; only a resend to the same topic (a destination
// that reconnected) is a duplicate.
func TestIngestTwoRoutesTwoTopics(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	url := func(p string) string { return wsURL(hs, p) }
	sub := connect(t, hs, "a", mint(t, secretA, "viewer", time.Hour))
	sub.Subscribe("events")
	sub.Subscribe("logins/acme")

	all := dialIngest(t, url, "events")
	logins := dialIngest(t, url, "logins/acme")
	const n = 50
	wantLogins := 0
	for i := range n {
		typ := "LOGIN"
		if i%3 == 0 {
			typ = "LOGOUT"
		}
		body := fmt.Sprintf(`{"id":"evt-%d","type":%q,"realmId":"acme"}`, i, typ)
		if a := ingestSend(t, all, body); a.Type != "ack" || a.Status != "ok" {
			t.Fatalf("route all, event %d: ack %+v, want ok", i, a)
		}
		if typ == "LOGIN" {
			wantLogins++
			if a := ingestSend(t, logins, body); a.Type != "ack" || a.Status != "ok" {
				t.Fatalf("route logins, event %d: ack %+v, want ok (the id was taken by the other topic)", i, a)
			}
		}
	}
	got := map[string]map[string]int{"events": {}, "logins/acme": {}}
	for total := 0; total < n+wantLogins; total++ {
		f := waitFor2(sub, "events", "logins/acme", "broadcast")
		var e struct{ ID string }
		if err := json.Unmarshal(f.Data, &e); err != nil {
			t.Fatalf("delivered %s: %v", f.Raw, err)
		}
		got[f.Topic][e.ID]++
	}
	if len(got["events"]) != n || len(got["logins/acme"]) != wantLogins {
		t.Fatalf("events got %d distinct of %d, logins/acme %d of %d", len(got["events"]), n, len(got["logins/acme"]), wantLogins)
	}

	// The "all" route reconnects and resends what it had in flight: a duplicate on its
	// topic, delivered nowhere.
	again := dialIngest(t, url, "events")
	if a := ingestSend(t, again, `{"id":"evt-1","type":"LOGIN","realmId":"acme"}`); a.Status != "duplicate" {
		t.Fatalf("resend to the same topic: ack %+v, want duplicate", a)
	}
	sub.Send(map[string]any{"type": "subscribe", "data": map[string]any{"topic": "fence"}})
	for _, f := range sub.UntilMarker("fence", "welcome") {
		if strings.HasPrefix(f.Topic, "events") || strings.HasPrefix(f.Topic, "logins") {
			t.Errorf("resend delivered: %s", f.Raw)
		}
	}
}

// waitFor2 skips frames until one of messageType on topic a or b arrives.
func waitFor2(tc *wstest.Client, a, b, messageType string) wstest.Frame {
	return tc.WaitMatch(messageType+" on "+a+" or "+b, func(f wstest.Frame) bool {
		return (f.Topic == a || f.Topic == b) && f.MessageType == messageType
	})
}

func TestIngest(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	sub := connect(t, hs, "a", mint(t, secretA, "dash", time.Hour))
	sub.Subscribe("events/master")
	tok := mint(t, secretA, "kete", time.Hour, "realtime:publisher:write:topic:events/*")

	t.Run("refused without permission for the topic", func(t *testing.T) {
		_, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/other?access_token="+tok), wstest.Options{})
		if err == nil || wstest.Status(resp) != 403 {
			t.Fatalf("got %v, status %d, want 403", err, wstest.Status(resp))
		}
	})

	in, _, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/events/master?ack=1&access_token="+tok), wstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	frames := []struct {
		op       gws.Opcode
		body     string
		wantAck  string
		wantData string
	}{
		{gws.OpcodeText, `{"id":"e1","type":"LOGIN"}`, `{"type":"ack","seq":1,"id":"e1","status":"ok"}`, `{"id":"e1","type":"LOGIN"}`},
		{gws.OpcodeText, `{"id":"e1","type":"LOGIN"}`, `{"type":"ack","seq":2,"id":"e1","status":"duplicate"}`, ""},
		{gws.OpcodeText, `plain text`, `{"type":"ack","seq":3,"status":"ok"}`, `"plain text"`},
		{gws.OpcodeBinary, `{"id":7}`, `{"type":"ack","seq":4,"id":"7","status":"ok"}`, `{"id":7}`},
	}
	for _, f := range frames {
		if err := in.Conn().WriteMessage(f.op, []byte(f.body)); err != nil {
			t.Fatal(err)
		}
		ack := in.Next()
		if string(ack.Raw) != f.wantAck {
			t.Fatalf("ack %s, want %s", ack.Raw, f.wantAck)
		}
		if f.wantData == "" {
			continue
		}
		got := sub.WaitFor("events/master", "broadcast")
		if string(got.Data) != f.wantData || got.Binary != (f.op == gws.OpcodeBinary) {
			t.Fatalf("delivered %s (binary %v), want %s (binary %v)", got.Data, got.Binary, f.wantData, f.op == gws.OpcodeBinary)
		}
	}

	t.Run("a reconnecting destination does not deliver twice", func(t *testing.T) {
		again, _, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/events/master?ack=1&access_token="+tok), wstest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = again.Conn().WriteString(`{"id":"e1","type":"LOGIN"}`)
		if ack := again.Next(); !strings.Contains(string(ack.Raw), `"duplicate"`) {
			t.Fatalf("ack %s", ack.Raw)
		}
	})
}

// TestIngestAckQueryInAnyCase: the destination waits for acks on ?ack=TRUE (it always
// read the query in any case), so the server must send them; before ingestwire.AckRequested
// the server took only "1" and "true", and such a destination stalled on its first frame.
func TestIngestAckQueryInAnyCase(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	tok := mint(t, secretA, "daemon", time.Hour, "realtime:publisher:write:topic:*")
	in, resp, err := wstest.Dial(t, wsURL(hs, "/apps/a/publish/events?ack=TRUE&access_token="+tok), wstest.Options{})
	if err != nil {
		t.Fatalf("ingest: %v (status %d)", err, wstest.Status(resp))
	}
	if a := ingestSend(t, in, `{"id":"e1","type":"LOGIN"}`); a.Type != "ack" || a.Seq != 1 || a.Status != "ok" {
		t.Fatalf("got %+v, want an ok ack of frame 1", a)
	}
}
