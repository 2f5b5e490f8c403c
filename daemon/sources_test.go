package daemon

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A poller that cannot reach Keycloak makes /readyz answer 503 naming it and its error,
// and counts in /metrics; its next good poll makes the daemon ready again.
func TestReadyzShowsAFailingPollingSource(t *testing.T) {
	p, _, _ := start(t, t.TempDir(), Route{Route: route("r", newSink(), "")})
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	waitReady(t, srv.URL)

	p.SourcePolled("keycloak-poller/acme", errors.New(`Get "http://kc:8080/admin/realms/acme/events": connection refused`))
	body := get(t, srv.URL+"/readyz", 503)
	if !strings.Contains(body, `"source":"keycloak-poller/acme"`) || !strings.Contains(body, "connection refused") || !strings.Contains(body, `"failing":true`) {
		t.Fatalf("readyz while the poller fails = %s", body)
	}
	if m := get(t, srv.URL+"/metrics", 200); !strings.Contains(m, `kete_source_poll_errors_total{source="keycloak-poller/acme"} 1`) {
		t.Fatalf("metrics lack the poll error:\n%s", m)
	}

	p.SourcePolled("keycloak-poller/acme", nil)
	if body := get(t, srv.URL+"/readyz", 200); !strings.Contains(body, `"failing":false`) || !strings.Contains(body, `"lastSuccess"`) {
		t.Fatalf("readyz after a good poll = %s", body)
	}
	if m := get(t, srv.URL+"/metrics", 200); !strings.Contains(m, `kete_source_last_success_timestamp_seconds{source="keycloak-poller/acme"}`) {
		t.Fatalf("metrics lack the last success:\n%s", m)
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never answered 200: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
