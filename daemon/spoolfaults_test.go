package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kete-dev/kete/keycloak"
	"github.com/kete-dev/kete/spool"
	"github.com/kete-dev/kete/spool/spooltest"
)

// startOn runs a pipeline over a spool opened with o, and a webhook receiver wired as
// `kete run` wires it.
func startOn(t *testing.T, o spool.Options, routes ...Route) (*Pipeline, *httptest.Server) {
	t.Helper()
	for _, r := range routes {
		o.Routes = append(o.Routes, r.Name)
	}
	sp, err := spool.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Spool: sp, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	mux := http.NewServeMux()
	mux.Handle("/events", keycloak.NewReceiver(p, keycloak.ReceiverOptions{IsFull: IsBackPressure}))
	mux.Handle("/", p.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		sp.Close()
	})
	return p, srv
}

// post sends one Keycloak login event (the native shape) and returns the status and the
// Retry-After header.
func post(t *testing.T, url string, n int) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"id":"e%d","time":1700000000000,"type":"LOGIN","realmId":"acme","clientId":"web","userId":"u1"}`, n)
	resp, err := http.Post(url+"/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestWebhookPushesBackOnAFullDiskThenAcceptsAgain(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	s := newSink()
	_, srv := startOn(t, spool.Options{Dir: dir, FS: fsys, ReserveBytes: 512}, Route{Route: route("r", s, "")})
	if status, _ := post(t, srv.URL, 0); status != http.StatusAccepted {
		t.Fatalf("POST = %d, want 202", status)
	}
	receive(t, s, 1)
	fsys.SetQuota(dir, spooltest.Used(dir)) // the disk is full
	for n := 1; n <= 3; n++ {
		status, retry := post(t, srv.URL, n)
		if status != http.StatusServiceUnavailable || retry == "" {
			t.Fatalf("POST on a full disk = %d with Retry-After %q, want 503 with Retry-After", status, retry)
		}
	}
	if body := get(t, srv.URL+"/readyz", 200); !strings.Contains(body, `"writeError"`) {
		t.Fatalf("readyz does not show the write failure: %s", body)
	}
	if body := get(t, srv.URL+"/metrics", 200); !strings.Contains(body, "kete_spool_unavailable 1") {
		t.Fatalf("metrics do not show the spool unavailable")
	}
	fsys.SetQuota(dir, 0) // room again
	if status, _ := post(t, srv.URL, 4); status != http.StatusAccepted {
		t.Fatalf("POST once the disk has room = %d, want 202", status)
	}
	if got := receive(t, s, 1); got["e4"] != 1 {
		t.Fatalf("after recovery the route got %v, want e4", got)
	}
	if body := get(t, srv.URL+"/readyz", 200); strings.Contains(body, `"writeError"`) {
		t.Fatalf("readyz still shows a write failure after recovery: %s", body)
	}
}

func TestReadyzReportsADamagedRecord(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(spool.Options{Dir: dir, Routes: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 10 {
		if _, err := sp.Append(context.Background(), fmt.Appendf(nil, `{"kind":"event","id":"e%d","type":"LOGIN","realmName":"acme","time":1}`, n)); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	b, _ := os.ReadFile(segs[0])
	at := bytes.Index(b, []byte(`"id":"e5"`))
	b[at+6] ^= 0x20 // e5 -> E5: the CRC no longer matches
	os.WriteFile(segs[0], b, 0o640)

	s := newSink()
	_, srv := startOn(t, spool.Options{Dir: dir}, Route{Route: route("r", s, "")})
	got := receive(t, s, 9)
	if got["e5"] != 0 || got["e4"] != 1 || got["e6"] != 1 {
		t.Fatalf("route got %v, want all but e5", got)
	}
	body := get(t, srv.URL+"/readyz", 200)
	if !strings.Contains(body, `"damaged":[{`) || !strings.Contains(body, `"firstLost":5,"nextGood":6`) || !strings.Contains(body, `"savedAs":"damaged/`) {
		t.Fatalf("readyz does not report the damaged record: %s", body)
	}
	if m := get(t, srv.URL+"/metrics", 200); !strings.Contains(m, "kete_spool_damaged 1") {
		t.Fatal("metrics do not count the damaged record")
	}
}

// TestIngestPushesBackWhileARouteCannotRead: a route that cannot read the spool (a
// failing disk) makes sources answer 503 rather than take events it will not deliver;
// once it reads again, everything flows.
func TestIngestPushesBackWhileARouteCannotRead(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	s := newSink()
	p, srv := startOn(t, spool.Options{Dir: dir, FS: fsys}, Route{Route: route("r", s, "")})
	fsys.FailReads(syscall.EIO)
	if status, _ := post(t, srv.URL, 0); status != http.StatusAccepted {
		t.Fatalf("POST = %d, want 202 (the write still works)", status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := p.Ingest(context.Background(), "test", events(1, "PROBE"))
		if IsBackPressure(err) && errors.Is(err, spool.ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ingest while the route cannot read = %v, want back-pressure", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if status, retry := post(t, srv.URL, 1); status != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("POST while the route cannot read = %d (Retry-After %q), want 503", status, retry)
	}
	if body := get(t, srv.URL+"/readyz", 200); !strings.Contains(body, `"readError"`) {
		t.Fatalf("readyz does not show the read failure: %s", body)
	}
	fsys.FailReads(nil)
	for got := map[string]int{}; got["e0"] == 0; {
		for id, n := range receive(t, s, 1) { // e0, and probes taken before the route failed
			got[id] += n
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, _ := post(t, srv.URL, 2)
		if status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST after the route reads again = %d, want 202", status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRouteGoesOnPastARecordDamagedWhileRunning is the run-time case of issue 13.1: a
// record damaged on disk while its route waits costs that record alone, reported, and
// the route and the webhook go on.
func TestRouteGoesOnPastARecordDamagedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	s := newSink()
	s.setFail(errors.New("destination down"))
	_, srv := startOn(t, spool.Options{Dir: dir},
		Route{Route: route("r", s, ""), InFlight: 1, WaitDuration: time.Millisecond, MaxWait: 5 * time.Millisecond})
	for n := range 20 {
		if status, _ := post(t, srv.URL, n); status != http.StatusAccepted {
			t.Fatalf("POST %d = %d", n, status)
		}
	}
	// The route holds e0 (and has read at most e1); e10 is damaged on disk meanwhile.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	b, _ := os.ReadFile(segs[0])
	at := bytes.Index(b, []byte(`"id":"e10"`))
	b[at+7] ^= 0x20
	os.WriteFile(segs[0], b, 0o640)
	s.setFail(nil)
	got := receive(t, s, 19)
	if got["e10"] != 0 || len(got) != 19 {
		t.Fatalf("route got %v, want all of e0..e19 but e10", got)
	}
	if body := get(t, srv.URL+"/readyz", 200); !strings.Contains(body, `"damaged":[{`) {
		t.Fatalf("readyz does not report the damaged record: %s", body)
	}
	if status, _ := post(t, srv.URL, 20); status != http.StatusAccepted {
		t.Fatalf("POST after the damage = %d, want 202", status)
	}
	if got := receive(t, s, 1); got["e20"] != 1 {
		t.Fatalf("after the damage the route got %v, want e20", got)
	}
}
