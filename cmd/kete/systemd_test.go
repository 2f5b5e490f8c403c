package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/config"
)

// unitFile reads a systemd unit: each section's keys with every value given (a key may
// repeat), and the comment lines.
func unitFile(t *testing.T, path string) (map[string]map[string][]string, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string]map[string][]string{}
	var comments []string
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			comments = append(comments, line)
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			sections[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: not key=value in a section: %q", path, line)
			}
			sections[section][k] = append(sections[section][k], v)
		}
	}
	return sections, comments
}

// TestSystemdUnit checks examples/kete.service against the example configuration it
// says to install: the --config path is where that file goes, the spool lands in the
// state directory (the one writable place under ProtectSystem=strict), the ports need no
// capability (the unit drops them all), the stop timeout outlasts kete's own, and the
// hardening and restart policy are there.
func TestSystemdUnit(t *testing.T) {
	t.Chdir("../..")
	unit, comments := unitFile(t, "examples/kete.service")
	svc := unit["Service"]
	one := func(k string) string {
		t.Helper()
		if len(svc[k]) != 1 {
			t.Fatalf("[Service] %s given %d times, want once", k, len(svc[k]))
		}
		return svc[k][0]
	}
	exec := strings.Fields(one("ExecStart"))
	if len(exec) != 4 || filepath.Base(exec[0]) != "kete" || exec[1] != "run" || exec[2] != "--config" {
		t.Fatalf("ExecStart = %v, want kete run --config FILE", exec)
	}
	cfgPath := exec[3]

	// The configuration installed at cfgPath, by the unit's own instructions.
	var example string
	install := regexp.MustCompile(`install .*\s(examples/\S+\.(?:properties|yaml|json))\s+(\S+)$`)
	for _, c := range comments {
		if m := install.FindStringSubmatch(c); m != nil && m[2] == cfgPath {
			example = m[1]
		}
	}
	if example == "" {
		t.Fatalf("the unit does not say which example to install as %s", cfgPath)
	}
	cfg, err := config.Load(example, nil)
	if err != nil {
		t.Fatalf("%s: %v", example, err)
	}

	state := "/var/lib/" + one("StateDirectory")
	if wd := one("WorkingDirectory"); wd != state {
		t.Errorf("WorkingDirectory = %s, want the state directory %s (a relative spool lands there)", wd, state)
	}
	spool := cfg.Spool.Dir
	if !filepath.IsAbs(spool) {
		spool = filepath.Join(one("WorkingDirectory"), spool)
	}
	if rel, err := filepath.Rel(state, spool); err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("kete.spool.dir %s of %s resolves to %s, outside the state directory %s: unwritable under ProtectSystem=strict", cfg.Spool.Dir, example, spool, state)
	}
	for _, addr := range []string{cfg.Sources.Webhook.Listen} {
		if p := listenPortOf(t, addr); p > 0 && p < 1024 {
			t.Errorf("listen %s needs CAP_NET_BIND_SERVICE, which the unit drops", addr)
		}
	}
	if stop, err := time.ParseDuration(one("TimeoutStopSec")); err != nil || stop <= 10*time.Second {
		t.Errorf("TimeoutStopSec = %s, want more than kete's --shutdown-timeout (10s)", one("TimeoutStopSec"))
	}
	if one("Restart") != "on-failure" {
		t.Errorf("Restart = %s, want on-failure", one("Restart"))
	}
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"DynamicUser": "yes", "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	} {
		if got := one(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if unit["Install"]["WantedBy"] == nil {
		t.Error("no [Install] WantedBy: systemctl enable would do nothing")
	}
}

func listenPortOf(t *testing.T, addr string) int {
	t.Helper()
	if err := config.CheckListenAddress(addr); err != nil {
		t.Fatal(err)
	}
	return listenPort(t, addr)
}
