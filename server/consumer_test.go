package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/wstest"
	"github.com/kete-dev/kete/server/auth"
)

func TestConsumerFramesAreCloudEvents(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour), "")
	rc := connect(t, hs, "a", mint(t, secretA, "web", time.Hour))
	rc.Subscribe("events/login")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })

	apiPublish(t, hs, "events/login", map[string]any{"n": 1})
	ce := map[string]any{
		"specversion": "1.0", "id": "a-1", "source": "/realms/acme", "type": "keycloak.event.login",
		"time": "2026-01-02T03:04:05.678Z", "datacontenttype": "application/json", "data": map[string]any{"userId": "u1"},
	}
	apiPublish(t, hs, "events/login", ce)

	wrapped := d.next()
	checkCloudEvent(t, wrapped)
	if wrapped["source"] != "/apps/a/topics/events/login" || wrapped["subject"] != "events/login" || wrapped["type"] != "dev.kete.broadcast" || wrapped["datacontenttype"] != "application/json" {
		t.Errorf("wrapped event attributes: %v", wrapped)
	}
	if seq(wrapped) != 1 {
		t.Errorf("wrapped data %v, want the published {\"n\":1}", wrapped["data"])
	}
	for _, k := range []string{"topic", "messageType", "offset"} {
		if _, ok := wrapped[k]; ok {
			t.Errorf("the Realtime envelope's %q leaked into the CloudEvent %v", k, wrapped)
		}
	}
	passed := d.next()
	checkCloudEvent(t, passed)
	want, _ := json.Marshal(ce)
	got, _ := json.Marshal(passed)
	if string(got) != string(want) {
		t.Errorf("a CloudEvent must go as it is:\n got %s\nwant %s", got, want)
	}
	// The Realtime client on the same app still gets its own protocol.
	if f := rc.WaitFor("events/login", "broadcast"); !strings.Contains(string(f.Data), `"n":1`) {
		t.Errorf("realtime frame %s", f.Raw)
	}
}

func TestConsumerWithoutGroupMissesWhileAway(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(100)}}) // history exists, but is not for it
	tok := mint(t, secretA, "svc", time.Hour)
	seen := witness(t, hs, "events/login")
	d := mustDrogue(t, hs, "a", "events/login", tok, "")
	waitUntil(t, "joined", func() bool { return members(s, "events/login", "") == 1 })
	publishN(t, hs, "events/login", 1, 5)
	d.collect(5)
	d.kill()
	waitUntil(t, "gone", func() bool { return members(s, "events/login", "") == 0 })
	publishN(t, hs, "events/login", 6, 10)
	seen(10)

	d2 := mustDrogue(t, hs, "a", "events/login", tok, "")
	waitUntil(t, "rejoined", func() bool { return members(s, "events/login", "") == 1 })
	publishN(t, hs, "events/login", 11, 12)
	if got := d2.collect(2); !slices.Equal(got, []int{11, 12}) {
		t.Errorf("a consumer without a group got %v after its reconnect, want only 11, 12", got)
	}
}

func TestConsumerTokenRefreshOutlivesExpiry(t *testing.T) {
	clock := newFakeClock()
	for _, refresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("refresh=%v", refresh), func(t *testing.T) {
			a := consumerApp(0)
			a.Limits.IdleTimeout = Duration(time.Hour) // only the token may end it
			s, hs := startServer(t, Options{Apps: []App{a}, Now: clock.Now, SweepInterval: time.Hour})
			mintAt := func(ttl time.Duration) string {
				tok, err := auth.Mint("HS256", []byte(secretA), auth.MintClaims{Subject: "svc", TTL: ttl, IssuedAt: clock.Now()})
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			d := mustDrogue(t, hs, "a", "events/login", mintAt(time.Minute), "")
			waitUntil(t, "joined", func() bool { return members(s, "events/login", "") == 1 })
			clock.Advance(40 * time.Second)
			if refresh {
				fresh := mintAt(time.Minute) // expires at +100s
				b, _ := json.Marshal(map[string]string{"RefreshAccessToken": fresh})
				if err := d.conn.WriteMessage(gws.OpcodeText, b); err != nil {
					t.Fatal(err)
				}
				// Closed at the new token's exp plus the one leeway (Options.TokenLeeway).
				want := clock.Now().Add(time.Minute).Truncate(time.Second).Add(s.tokenLeeway()).UnixNano()
				waitUntil(t, "refresh taken", func() bool {
					_, h := s.app("a")
					for _, c := range h.snapshot(nil) {
						if _, consumer := c.kind.(*consumerState); consumer && c.session().expires == want {
							return true
						}
					}
					return false
				})
			}
			// +95s: past the first token and its 30s leeway (+90s), not the second (+130s).
			clock.Advance(55 * time.Second)
			s.sweep(nil)
			if !refresh {
				select {
				case <-d.done:
				case <-time.After(waitLimit):
					t.Fatal("consumer outlived its token without a refresh")
				}
				var ce *gws.CloseError
				if !errors.As(d.closeErr(), &ce) || ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonTokenExpired {
					t.Errorf("close %v, want 1008 %q", d.closeErr(), ReasonTokenExpired)
				}
				return
			}
			publishN(t, hs, "events/login", 1, 1)
			if got := d.collect(1); got[0] != 1 {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestConsumerAdmission(t *testing.T) {
	key, err := auth.GenerateAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	a := consumerApp(0)
	a.APIKeys = []auth.APIKey{{Name: "fraud", Hash: auth.HashAPIKey(key), Permissions: []string{"realtime:subscriber:read:topic:secure/*"}}}
	a.AllowedOrigins = []string{"https://ok.example"}
	_, hs := startServer(t, Options{Apps: []App{a}})
	plain := mint(t, secretA, "svc", time.Hour)
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+key))}}

	cases := []struct {
		name    string
		channel string
		q       url.Values
		h       http.Header
		want    int // 0: upgraded
	}{
		{"no credentials", "", nil, nil, 401},
		{"expired token", "", url.Values{"token": {mintExpired(t, secretA, "svc")}}, nil, 401},
		{"secure channel without permission", "secure/alerts", url.Values{"token": {plain}}, nil, 403},
		{"another subject's private topic", "priv/bob", url.Values{"token": {plain}}, nil, 403},
		{"origin not allowed", "", url.Values{"token": {plain}}, http.Header{"Origin": {"https://evil.example"}}, 403},
		{"unknown app", "", url.Values{"token": {plain}}, nil, 404},
		{"token query", "events/login", url.Values{"token": {plain}}, nil, 0},
		{"bearer header", "", nil, http.Header{"Authorization": {"Bearer " + plain}}, 0},
		{"username and api_key query", "secure/alerts", url.Values{"username": {"alice"}, "api_key": {key}}, nil, 0},
		{"basic auth with API key", "secure/alerts", nil, basic, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := "a"
			if tc.name == "unknown app" {
				app = "nope"
			}
			d, resp, err := drogueConnect(t, hs, app, tc.channel, tc.q, tc.h)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v (status %d)", err, wstest.Status(resp))
				}
				_ = d
				return
			}
			if err == nil {
				t.Fatalf("upgraded, want %d", tc.want)
			}
			if wstest.Status(resp) != tc.want {
				t.Errorf("status %d, want %d", wstest.Status(resp), tc.want)
			}
		})
	}
}

func TestConsumerWithoutChannelGetsWhatItMayRead(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour, "realtime:subscriber:read:topic:secure/ok"), "")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })
	apiPublish(t, hs, "secure/denied", map[string]any{"n": 1})
	apiPublish(t, hs, "priv/bob", map[string]any{"n": 2})
	apiPublish(t, hs, "priv/svc", map[string]any{"n": 3})
	apiPublish(t, hs, "secure/ok", map[string]any{"n": 4})
	apiPublish(t, hs, "news", map[string]any{"n": 5})
	if got := d.collect(3); !slices.Equal(got, []int{3, 4, 5}) {
		t.Errorf("got %v, want 3 (its own priv/), 4 (secure/ok), 5 (news)", got)
	}
}

func TestConsumerOtherFramesClose(t *testing.T) {
	s, hs := startServer(t, Options{Apps: []App{consumerApp(0)}})
	d := mustDrogue(t, hs, "a", "", mint(t, secretA, "svc", time.Hour), "")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })
	if err := d.conn.WriteMessage(gws.OpcodeText, []byte(`{"type":"subscribe","data":{"topic":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(waitLimit):
		t.Fatal("not closed")
	}
	var ce *gws.CloseError
	if !errors.As(d.closeErr(), &ce) || ce.Code != ClosePolicyViolation || string(ce.Reason) != ReasonInvalidFormat {
		t.Errorf("close %v, want 1008 %q", d.closeErr(), ReasonInvalidFormat)
	}
}

// TestConsumerCountsAgainstMaxConnections: a consumer is a connection of its app like
// any other: maxConnections refuses the one past it with 503 before the upgrade, and the
// connections gauge counts it.
func TestConsumerCountsAgainstMaxConnections(t *testing.T) {
	a := consumerApp(0)
	a.MaxConnections = 1
	s, hs := startServer(t, Options{Apps: []App{a}})
	tok := mint(t, secretA, "svc", time.Hour)
	mustDrogue(t, hs, "a", "", tok, "")
	waitUntil(t, "joined", func() bool { return members(s, "", "") == 1 })
	if _, resp, err := drogueConnect(t, hs, "a", "", url.Values{"token": {tok}}, nil); err == nil || wstest.Status(resp) != http.StatusServiceUnavailable {
		t.Fatalf("second consumer: %v, status %d, want 503", err, wstest.Status(resp))
	}
	if g := gaugeValue(t, s.reg, "kete_server_connections"); g != 1 {
		t.Errorf("kete_server_connections = %v, want 1", g)
	}
}
