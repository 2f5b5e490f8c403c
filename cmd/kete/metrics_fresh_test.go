package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kete-dev/kete/keycloak/keycloaktest"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// scrapeSeries reads url's Prometheus text and returns each series (name{labels}) with
// its value as written, and the set of metric names.
func scrapeSeries(t *testing.T, url string) (map[string]string, map[string]bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	series, names := map[string]string{}, map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		series[line[:i]] = line[i+1:]
		name, _, _ := strings.Cut(line[:i], "{")
		names[name] = true
	}
	return series, names
}

// TestFreshMetricsAreExportedAtZero: a daemon and a server that have done nothing yet
// already export every series an alert or the Grafana dashboard names, at zero (before,
// kete_server_refused_total did not exist, and per-route and per-source series appeared
// only after their first event), and examples/grafana/kete.json names no metric that
// neither exports.
func TestFreshMetricsAreExportedAtZero(t *testing.T) {
	srv := startTestServer(t)
	kc, err := keycloaktest.Start(keycloaktest.WithRealm("acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	d, _ := startTestDaemon(t, routeConfig(srv, t, "127.0.0.1:0", t.TempDir())+fmt.Sprintf(`
kete.keycloak.url=%s
kete.keycloak.username=admin
kete.keycloak.password=admin
kete.sources.keycloak.enabled=true
kete.sources.keycloak.realms=acme
kete.sources.keycloak.interval=1h
`, kc.URL), daemonOptions{})
	// The poller's first poll sets its last-success time; its error count is there before.
	waitAnswer(t, "http://"+d.opsAddr.String()+"/readyz", http.StatusOK, `"source":"keycloak-poller/acme","failing":false`)
	daemonSeries, daemonNames := scrapeSeries(t, "http://"+d.opsAddr.String()+"/metrics")
	serverSeries, serverNames := scrapeSeries(t, srv.baseURL()+"/metrics")

	wantDaemon := []string{
		`kete_events_in_total{source="webhook"}`,
		`kete_events_rejected_total{source="webhook"}`,
		`kete_events_out_total{route="all"}`,
		`kete_delivery_retries_total{route="all"}`,
		`kete_dead_letters_total{route="all"}`,
		`kete_delivery_latency_seconds_count{route="all"}`,
		`kete_webhook_refused_total{reason="signature"}`,
		`kete_spool_unavailable`,
		`kete_spool_damaged`,
		`kete_events_in_total{source="keycloak"}`,
		`kete_source_poll_errors_total{source="keycloak-poller/acme"}`,
	}
	for _, s := range wantDaemon {
		if v, ok := daemonSeries[s]; !ok || v != "0" {
			t.Errorf("fresh daemon: %s = %q, present %v; want 0", s, v, ok)
		}
	}
	wantServer := []string{`kete_server_slow_consumer_closes_total`, `kete_server_publishes_total{source="ingest"}`, `kete_server_closes_total{reason="slow_consumer"}`}
	for _, r := range []string{server.RefusedOriginDenied, server.RefusedSourceDenied, server.RefusedAppDisabled, server.RefusedAppNotFound,
		server.RefusedTooManyConns, server.RefusedAddressCap, auth.CodeTokenInvalid, auth.CodeTokenExpired, auth.CodeTokenMissing} {
		wantServer = append(wantServer, `kete_server_refused_total{reason="`+r+`"}`)
	}
	for _, s := range wantServer {
		if v, ok := serverSeries[s]; !ok || v != "0" {
			t.Errorf("fresh server: %s = %q, present %v; want 0", s, v, ok)
		}
	}

	// Every metric the dashboard queries exists on one of the two.
	var b []byte
	b, err = os.ReadFile(filepath.Join("..", "..", "examples", "grafana", "kete.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("kete.json: %v", err)
	}
	metric := regexp.MustCompile(`\bkete_[a-z_]+`)
	named := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				named++
				if !daemonNames[m] && !serverNames[m] {
					t.Errorf("panel %q queries %s, which neither the daemon nor the server exports", p.Title, m)
				}
			}
		}
	}
	if named < 10 {
		t.Fatalf("the dashboard names %d metrics; want the alerting set", named)
	}
}
