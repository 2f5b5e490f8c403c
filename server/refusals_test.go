package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/httpguard"
	"github.com/kete-dev/kete/internal/syncbuf"
)

// lines returns the JSON log lines whose msg is msg.
func logLines(t *testing.T, b *syncbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// scrape returns the value of one series of the server's /metrics, and whether it is there.
func scrape(t *testing.T, url, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			return v, true
		}
	}
	return 0, false
}

// upgradeRequest sends a WebSocket upgrade request to path and returns the refusal's
// status and JSON body.
func upgradeRequest(t *testing.T, hs *httptest.Server, path string, header http.Header) (int, errorBody) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body errorBody
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: refusal body %q is not JSON: %v", path, b, err)
	}
	return resp.StatusCode, body
}

type errorBody struct {
	Error struct{ Code, Message string } `json:"error"`
}

// TestEveryRefusalIsCountedLoggedAndExplained: each way a browser or service is turned
// away answers a JSON body whose message a page can show, counts under its reason, and
// leaves a line in the server's log naming the app and what was refused (before, an
// origin not in allowedOrigins was answered 403 and the log said nothing).
func TestEveryRefusalIsCountedLoggedAndExplained(t *testing.T) {
	logs := &syncbuf.Buffer{}
	clock := newFakeClock()
	origin := testApp("o", secretA)
	origin.AllowedOrigins = []string{"https://ok.example"}
	disabled := testApp("d", secretA)
	disabled.Enabled = false
	source := testApp("s", secretA)
	source.ClientSourceAddress = []string{"10.0.0.0/8"}
	capped := testApp("c", secretA)
	capped.MaxConnections = 1
	_, hs := startServer(t, Options{
		Apps:   []App{origin, disabled, source, capped},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Now:    clock.Now,
	})
	tok := mint(t, secretA, "alice", time.Hour)
	connect(t, hs, "c", tok) // takes app c's one connection

	cases := []struct {
		name, path, origin string
		status             int
		code, inMessage    string
	}{
		{"origin", "/apps/o?access_token=" + tok, "https://evil.example", 403, "origin_denied", "https://evil.example"},
		{"disabled", "/apps/d?access_token=" + tok, "", 403, "app_disabled", "disabled"},
		{"unknown app", "/apps/nope?access_token=" + tok, "", 404, "app_not_found", "nope"},
		{"source address", "/apps/s?access_token=" + tok, "", 403, "source_denied", "127.0.0.1"},
		{"bad token", "/apps/o?access_token=" + mint(t, "another-secret-another-secret-32", "alice", time.Hour), "https://ok.example", 401, "token_invalid", ""},
		{"expired token", "/apps/o?access_token=" + mintExpired(t, secretA, "alice"), "", 401, "token_expired", ""},
		{"no token", "/apps/o", "", 401, "token_missing", ""},
		{"capacity", "/apps/c?access_token=" + tok, "", 503, "too_many_connections", "maximum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := scrape(t, hs.URL, `kete_server_refused_total{reason="`+tc.code+`"}`)
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			status, body := upgradeRequest(t, hs, tc.path, h)
			if status != tc.status || body.Error.Code != tc.code || body.Error.Message == "" || !strings.Contains(body.Error.Message, tc.inMessage) {
				t.Fatalf("answer = %d %+v, want %d %s with a message naming %q", status, body.Error, tc.status, tc.code, tc.inMessage)
			}
			if after, _ := scrape(t, hs.URL, `kete_server_refused_total{reason="`+tc.code+`"}`); after != before+1 {
				t.Errorf("kete_server_refused_total{reason=%q} = %v, want %v", tc.code, after, before+1)
			}
			var line map[string]any
			for _, l := range logLines(t, logs, "refused") {
				if l["reason"] == tc.code {
					line = l
				}
			}
			if line == nil {
				t.Fatalf("no log line for %s in:\n%s", tc.code, logs.String())
			}
			if line["level"] != "WARN" || line["message"] != body.Error.Message || line["remote"] != "127.0.0.1" || line["status"] != float64(tc.status) {
				t.Errorf("log line %v: want WARN with the answer's message, status and remote address", line)
			}
			if strings.Contains(logs.String(), "access_token") {
				t.Errorf("the log quotes the query (and its token): %s", logs.String())
			}
			if tc.origin != "" && line["origin"] != tc.origin {
				t.Errorf("log line %v lacks origin %s", line, tc.origin)
			}
		})
	}

	t.Run("rate limited per reason", func(t *testing.T) {
		h := http.Header{"Origin": {"https://evil.example"}}
		count := func() int {
			n := 0
			for _, l := range logLines(t, logs, "refused") {
				if l["reason"] == "origin_denied" {
					n++
				}
			}
			return n
		}
		first := count()
		for range 5 {
			upgradeRequest(t, hs, "/apps/o?access_token="+tok, h)
		}
		if n := count(); n != first {
			t.Fatalf("5 refusals within the interval logged %d more lines, want none", n-first)
		}
		clock.Advance(refusalLogInterval)
		upgradeRequest(t, hs, "/apps/o?access_token="+tok, h)
		lines := logLines(t, logs, "refused")
		last := lines[len(lines)-1]
		if count() != first+1 || last["refused_since_last_line"] != float64(5) {
			t.Fatalf("after the interval: %d new lines, last %v; want one saying 5 were left out", count()-first, last)
		}
	})
}

// TestRefusedConnectionOverTheAddressCap: the listener's per-address cap (httpguard)
// reports each connection it turns away to the server, which counts and logs it.
func TestRefusedConnectionOverTheAddressCap(t *testing.T) {
	logs := &syncbuf.Buffer{}
	s, err := New(Options{Apps: []App{testApp("a", secretA)}, Logger: slog.New(slog.NewJSONHandler(logs, nil)), ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := httpguard.Options{MaxConnsPerAddress: 1, OnRefuse: s.RefusedConnection}
	ln, err := httpguard.Listen("127.0.0.1:0", nil, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpguard.Serve(ctx, ln, s, o, nil) }()
	defer func() { cancel(); <-served }()
	url := "http://" + ln.Addr().String()

	held, err := net.Dial("tcp", ln.Addr().String()) // the address's one connection
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	waitUntil(t, "the held connection is counted", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(waitLimit))
		b, _ := io.ReadAll(c)
		return strings.HasPrefix(string(b), "HTTP/1.1 503")
	})
	held.Close()
	// The server lets go of the held slot when it sees the close; until then a scrape may
	// itself be refused, and is tried again.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	waitUntil(t, "the refusal is counted", func() bool {
		resp, err := client.Get(url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		// At least the probe's refusal; scrapes refused meanwhile count too.
		_, after, ok := strings.Cut(string(b), `kete_server_refused_total{reason="too_many_connections_per_address"} `)
		return ok && !strings.HasPrefix(after, "0\n")
	})
	lines := logLines(t, logs, "refused")
	if len(lines) == 0 || lines[0]["reason"] != RefusedAddressCap || lines[0]["remote"] != "127.0.0.1" {
		t.Fatalf("log lines %v: want one for %s from 127.0.0.1", lines, RefusedAddressCap)
	}
}

// TestSameOriginFetchLearnsTheOriginRefusal: after its WebSocket was refused, the dashboard
// asks the same URL with a plain fetch, which a browser sends without Origin (it is
// same-origin) but with Sec-Fetch-Site. The server checks the page's origin (its own) and
// answers 403 origin_denied, so that the page can show why instead of retrying for ever;
// a page whose host is allowed is not refused.
func TestSameOriginFetchLearnsTheOriginRefusal(t *testing.T) {
	denied := testApp("o", secretA)
	denied.AllowedOrigins = []string{"https://ok.example"}
	_, hs := startServer(t, Options{Apps: []App{denied}})
	host := strings.TrimPrefix(hs.URL, "http://")
	// A second server whose app allows its own host (with the scheme a TLS-ending proxy
	// shows the browser): the address is taken before the app is written.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	allowed := testApp("p", secretA)
	allowed.AllowedOrigins = []string{"https://" + ln.Addr().String()}
	s2, err := New(Options{Apps: []App{allowed}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewUnstartedServer(s2)
	_ = hs2.Listener.Close()
	hs2.Listener = ln
	hs2.Start()
	t.Cleanup(func() { hs2.Close(); _ = s2.Close() })
	tok := mint(t, secretA, "alice", time.Hour)

	get := func(url string, sameOrigin bool) (int, errorBody) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if sameOrigin {
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body errorBody
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := get(hs.URL+"/apps/o?access_token="+tok, true)
	if status != http.StatusForbidden || body.Error.Code != RefusedOriginDenied || !strings.Contains(body.Error.Message, "http://"+host) {
		t.Fatalf("same-origin fetch: %d %+v; want 403 origin_denied naming http://%s", status, body.Error, host)
	}
	if status, body := get(hs.URL+"/apps/o?access_token="+tok, false); status != http.StatusUpgradeRequired {
		t.Errorf("a fetch that says nothing of its origin: %d %+v; want 426 as before", status, body.Error)
	}
	if status, body := get(hs2.URL+"/apps/p?access_token="+tok, true); status == http.StatusForbidden {
		t.Errorf("a page on an allowed host: %d %+v; want it not refused for its origin", status, body.Error)
	}
}
