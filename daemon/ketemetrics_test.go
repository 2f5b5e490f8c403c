package daemon

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete"
)

// TestKETEMetricNames: /metrics carries KETE's series beside kete's, with KETE's names and
// labels, for delivered events (user and admin) and for events given up on.
func TestKETEMetricNames(t *testing.T) {
	ok, bad, perm := newSink(), newSink(), newSink()
	bad.setFail(errors.New("server said 500"))
	perm.setFail(kete.Permanent(errors.New("frame too big")))
	p, _, _ := start(t, t.TempDir(),
		Route{Route: route("ok", ok, "")},
		Route{Route: route("bad", bad, ""), MaxAttempts: 2, WaitDuration: time.Millisecond, MaxWait: time.Millisecond},
		Route{Route: route("perm", perm, "")},
	)
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	in := append(events(2, "LOGIN"), kete.Event{Kind: kete.KindAdminEvent, ID: "admin-1", RealmName: "acme",
		ResourceType: "USER", OperationType: "CREATE", Time: time.Now().UnixMilli()})
	if err := p.Ingest(context.Background(), "webhook", in); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`kete_events_forwarded_total{event_type="LOGIN",realm="acme",route="ok"} 2`,
		`kete_events_forwarded_total{event_type="USER_CREATE",realm="acme",route="ok"} 1`,
		`kete_events_failed_total{error_type="max-attempts",event_type="LOGIN",realm="acme",route="bad"} 2`,
		`kete_events_failed_total{error_type="max-attempts",event_type="USER_CREATE",realm="acme",route="bad"} 1`,
		`kete_events_failed_total{error_type="permanent",event_type="LOGIN",realm="acme",route="perm"} 2`,
		`# TYPE kete_forward_duration_seconds summary`,
		`kete_forward_duration_seconds_count{route="ok"} 3`,
		`kete_forward_duration_seconds_sum{route="ok"}`,
		`kete_events_out_total{route="ok"} 3`, // kete's own stay
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := get(t, srv.URL+"/metrics", 200)
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			if strings.Contains(body, `kete_forward_duration_seconds_count{route="bad"}`) {
				t.Errorf("failed deliveries were timed; KETE times delivered events only")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
