package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/server/auth"
)

// obj is one Kubernetes object as decoded from YAML.
type obj = map[string]any

// dig follows keys (string) and list indexes (int) through nested maps and lists.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := dig(v, path...).(string); return s }

func list(v any, path ...any) []any { l, _ := dig(v, path...).([]any); return l }

func loadManifests(t *testing.T, files ...string) []obj {
	t.Helper()
	var objs []obj
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o obj
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if str(o, "apiVersion") == "" || str(o, "kind") == "" || str(o, "metadata", "name") == "" {
				t.Fatalf("%s: an object without apiVersion, kind or metadata.name: %v", f, o)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

func find(t *testing.T, objs []obj, kind, name string) obj {
	t.Helper()
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the manifests", kind, name)
	return nil
}

func container(t *testing.T, workload obj, name string) map[string]any {
	t.Helper()
	for _, c := range list(workload, "spec", "template", "spec", "containers") {
		if str(c, "name") == name {
			return c.(map[string]any)
		}
	}
	t.Fatalf("%s has no container %s", str(workload, "metadata", "name"), name)
	return nil
}

// portOf resolves a probe's or Service's port (a number or a container port's name).
func portOf(t *testing.T, c map[string]any, p any) int {
	t.Helper()
	if n, ok := p.(int); ok {
		return n
	}
	for _, cp := range list(c, "ports") {
		if str(cp, "name") == p {
			return dig(cp, "containerPort").(int)
		}
	}
	t.Fatalf("container %s has no port %v", str(c, "name"), p)
	return 0
}

// volumeMount returns the mount path of the volume whose source (configMap or secret)
// is named source, and the volume's name.
func volumeMount(t *testing.T, workload obj, c map[string]any, kind, source string) string {
	t.Helper()
	vol := ""
	for _, v := range list(workload, "spec", "template", "spec", "volumes") {
		if (kind == "configMap" && str(v, "configMap", "name") == source) || (kind == "secret" && str(v, "secret", "secretName") == source) {
			vol = str(v, "name")
		}
	}
	for _, m := range list(c, "volumeMounts") {
		if vol != "" && str(m, "name") == vol {
			return str(m, "mountPath")
		}
	}
	t.Fatalf("container %s does not mount %s %s", str(c, "name"), kind, source)
	return ""
}

func listenPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// secretFiles writes a Secret's stringData as the files its volume would hold.
func secretFiles(t *testing.T, secret obj) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range dig(secret, "stringData").(map[string]any) {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKubernetesManifests checks examples/kubernetes against the kete they run: the
// configuration each mounts is valid and agrees with the ports, probes, volumes, secrets
// and Services around it, and each probe and metrics path is served by a real daemon or
// server built from that configuration.
func TestKubernetesManifests(t *testing.T) {
	t.Chdir("../..")
	objs := loadManifests(t, "examples/kubernetes/keycloak-with-kete.yaml", "examples/kubernetes/kete-server.yaml")

	// --- the bundled server ---
	srvDep := find(t, objs, "Deployment", "kete-server")
	srvC := container(t, srvDep, "kete-server")
	srvCfgDir := volumeMount(t, srvDep, srvC, "configMap", "kete-server")
	if args := fmt.Sprint(list(srvC, "args")); args != "[server --config "+path.Join(srvCfgDir, "kete.properties")+"]" {
		t.Errorf("kete-server args = %s, want server --config <the mounted kete.properties>", args)
	}
	appsDir := volumeMount(t, srvDep, srvC, "secret", "kete-server-apps")
	appsFiles := secretFiles(t, find(t, objs, "Secret", "kete-server-apps"))
	srvProps := str(find(t, objs, "ConfigMap", "kete-server"), "data", "kete.properties")
	srvCfg, err := config.Parse([]byte(srvProps), "properties", nil)
	if err != nil {
		t.Fatalf("kete-server kete.properties: %v", err)
	}
	if want := path.Join(appsDir, "apps.yaml"); srvCfg.Server.AppsFile != want {
		t.Errorf("kete.server.apps-file = %s, want %s (the mounted Secret)", srvCfg.Server.AppsFile, want)
	}
	apps, problems := appsFileProblems(filepath.Join(appsFiles, "apps.yaml"))
	if len(problems) > 0 {
		t.Fatalf("the server's apps file: %v", problems)
	}
	srvPort := portOf(t, srvC, "http")
	if p := listenPort(t, srvCfg.Server.Listen); p != srvPort {
		t.Errorf("kete.server.listen port %d, container port %d", p, srvPort)
	}
	svc := find(t, objs, "Service", "kete-server")
	if str(svc, "spec", "selector", "app") != str(srvDep, "spec", "template", "metadata", "labels", "app") {
		t.Errorf("Service kete-server selects %v, the pods are labelled %v", dig(svc, "spec", "selector"), dig(srvDep, "spec", "template", "metadata", "labels"))
	}
	svcPort := dig(svc, "spec", "ports", 0, "port").(int)
	if p := portOf(t, srvC, dig(svc, "spec", "ports", 0, "targetPort")); p != srvPort {
		t.Errorf("Service kete-server targets port %d, the server listens on %d", p, srvPort)
	}
	settings := srvCfg.Server
	settings.AppsFile = filepath.Join(appsFiles, "apps.yaml")
	srv, err := newServer(settings, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		p := str(srvC, probe, "httpGet", "path")
		if portOf(t, srvC, dig(srvC, probe, "httpGet", "port")) != srvPort {
			t.Errorf("kete-server %s is not on the server's port", probe)
		}
		// The dashboard answers every other path with a page: a probe path must be an
		// endpoint of its own, which answers JSON.
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("kete-server %s GET %s = %d %s, want 200 JSON", probe, p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	checkMetricsAnnotations(t, srvDep, srvPort, ts.URL, "kete_server_")

	// --- Keycloak with the kete sidecar ---
	sts := find(t, objs, "StatefulSet", "keycloak")
	kc := container(t, sts, "keycloak")
	kete := container(t, sts, "kete")
	cfgDir := volumeMount(t, sts, kete, "configMap", "kete-sidecar")
	if args := fmt.Sprint(list(kete, "args")); args != "[run --config "+path.Join(cfgDir, "kete.properties")+"]" {
		t.Errorf("kete args = %s, want run --config <the mounted kete.properties>", args)
	}
	secretsDir := volumeMount(t, sts, kete, "secret", "kete-sidecar-secrets")
	sidecarSecret := find(t, objs, "Secret", "kete-sidecar-secrets")
	files := secretFiles(t, sidecarSecret)
	props := str(find(t, objs, "ConfigMap", "kete-sidecar"), "data", "kete.properties")
	// The ${file:} references read the Secret's files, here written to a temporary dir.
	local := strings.ReplaceAll(props, "${file:"+secretsDir+"/", "${file:"+files+"/")
	cfg, err := config.Parse([]byte(local), "properties", nil)
	if err != nil {
		t.Fatalf("kete-sidecar kete.properties: %v", err)
	}
	opsPort := portOf(t, kete, "kete-ops")
	wh := cfg.Sources.Webhook
	if !wh.Enabled || wh.Secret == "" || listenPort(t, wh.Listen) != opsPort {
		t.Errorf("webhook enabled %v, secret set %v, listen %s; want on, with a secret, on the container port %d", wh.Enabled, wh.Secret != "", wh.Listen, opsPort)
	}

	// Keycloak posts to the sidecar on localhost, signed with the secret kete checks.
	env := map[string]any{}
	for _, e := range list(kc, "env") {
		env[str(e, "name")] = e
	}
	if got, want := str(env["WEBHOOK_URI"], "value"), fmt.Sprintf("http://127.0.0.1:%d%s", opsPort, wh.Path); got != want {
		t.Errorf("Keycloak WEBHOOK_URI = %q, want %q (kete's webhook listen port and path)", got, want)
	}
	ref := dig(env["WEBHOOK_SECRET"], "valueFrom", "secretKeyRef")
	if str(ref, "name") != "kete-sidecar-secrets" || str(dig(sidecarSecret, "stringData"), str(ref, "key")) != wh.Secret {
		t.Errorf("Keycloak's WEBHOOK_SECRET (%v) is not the secret kete checks", ref)
	}

	// The spool is on the pod's own volume, writable by kete's user.
	spoolMount := ""
	for _, m := range list(kete, "volumeMounts") {
		if str(m, "name") == "spool" {
			spoolMount = str(m, "mountPath")
		}
	}
	if spoolMount == "" || cfg.Spool.Dir != spoolMount {
		t.Errorf("kete.spool.dir = %s, spool volume mounted at %q", cfg.Spool.Dir, spoolMount)
	}
	if str(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name") != "spool" {
		t.Errorf("the StatefulSet has no spool volume claim")
	}
	if dig(sts, "spec", "template", "spec", "securityContext", "fsGroup") != 65532 || dig(kete, "securityContext", "runAsNonRoot") != true {
		t.Errorf("kete must run as the image's user 65532 with the spool volume's group")
	}

	// The route reaches the server's Service, with an API key the server's app accepts.
	r := cfg.Route("server")
	if r == nil {
		t.Fatal("no route server")
	}
	u, err := url.Parse(strings.Replace(r.Destination.URL, "${realmLowerCase}", "acme", 1))
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "kete-server" || u.Port() != strconv.Itoa(svcPort) {
		t.Errorf("route url %s does not reach Service kete-server:%d", r.Destination.URL, svcPort)
	}
	appID, topic, ok := strings.Cut(strings.TrimPrefix(u.Path, "/apps/"), "/publish/")
	if !ok || appID != apps[0].AppID {
		t.Fatalf("route url %s does not publish to app %s", u.Path, apps[0].AppID)
	}
	keys, err := auth.NewAPIKeys(apps[0].APIKeys)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := keys.Verify(r.Destination.Headers["X-API-Key"])
	if err != nil || !auth.CanPublish(claims.Permissions, topic) {
		t.Errorf("the sidecar's X-API-Key is refused by app %s for topic %s: %v", appID, topic, err)
	}

	// A daemon started from this configuration serves the probe and metrics paths.
	env2 := []string{"KETE_SOURCES_WEBHOOK_LISTEN=127.0.0.1:0", "KETE_SPOOL_DIR=" + t.TempDir()}
	runCfg, err := config.Parse([]byte(local), "properties", env2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(context.Background(), runCfg, daemonOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopNow()
	base := "http://" + d.opsAddr.String()
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		p := str(kete, probe, "httpGet", "path")
		if portOf(t, kete, dig(kete, probe, "httpGet", "port")) != opsPort {
			t.Errorf("kete %s is not on the webhook listener's port", probe)
		}
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("kete %s GET %s: 404, the daemon has no such path", probe, p)
		}
	}
	if str(kete, "livenessProbe", "httpGet", "path") != "/healthz" || str(kete, "readinessProbe", "httpGet", "path") != "/readyz" {
		t.Errorf("kete probes: liveness on /healthz, readiness on /readyz")
	}
	checkMetricsAnnotations(t, sts, opsPort, base, "kete_spool_bytes")
}

// checkMetricsAnnotations: the pod's prometheus.io annotations name the port and path
// where base serves metrics containing want.
func checkMetricsAnnotations(t *testing.T, workload obj, port int, base, want string) {
	t.Helper()
	a := dig(workload, "spec", "template", "metadata", "annotations")
	if str(a, "prometheus.io/scrape") != "true" || str(a, "prometheus.io/port") != strconv.Itoa(port) {
		t.Errorf("%s: prometheus.io annotations %v, want scrape and port %d", str(workload, "metadata", "name"), a, port)
	}
	resp, err := http.Get(base + str(a, "prometheus.io/path"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(regexp.QuoteMeta(want)).Match(body) {
		t.Errorf("%s: GET %s = %d, no %s", str(workload, "metadata", "name"), str(a, "prometheus.io/path"), resp.StatusCode, want)
	}
}
