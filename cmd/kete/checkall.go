package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

// checkFiles is `kete check`: a configuration (--config or a file argument), an apps
// file on its own (--apps, or a file argument that is a list of apps), or both.
func checkFiles(ctx context.Context, cfgPath, appsPath string, args []string, stdout io.Writer) error {
	switch {
	case len(args) > 1:
		return fmt.Errorf("%w: one file at a time, got %q", errUsage, args)
	case len(args) == 1 && isAppsFile(args[0]) && appsPath == "":
		appsPath = args[0]
	case len(args) == 1 && cfgPath == "":
		cfgPath = args[0]
	case len(args) == 1:
		return fmt.Errorf("%w: %s: give the configuration with --config or as the argument, not both", errUsage, args[0])
	}
	c := &deploymentCheck{w: stdout}
	if cfgPath != "" || appsPath == "" {
		// Without a file, the environment alone (KETE's dotted variables or KETE_…).
		cfg, err := loadConfig(ctx, cfgPath)
		if err != nil {
			return err
		}
		if appsPath != "" {
			cfg.Server.AppsFile = appsPath
		}
		if err := cfg.Describe(stdout); err != nil {
			return err
		}
		c.config(cfg)
		return c.finish()
	}
	c.printf("apps file %s\n", appsPath)
	c.appsFile(appsPath)
	return c.finish()
}

// flagGiven reports whether the flag called name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// deploymentCheck prints and checks, beyond the routes, what `kete run` or `kete server`
// would start from the same configuration: the sources, the spool, each listener, the
// bundled server with its broker and each app of its apps file. What would make a start
// fail is a problem (exit status 1); what would start but do nothing useful is a warning.
type deploymentCheck struct {
	w        io.Writer
	problems []string
	warnings []string
}

func (c *deploymentCheck) printf(format string, args ...any) { fmt.Fprintf(c.w, format, args...) }

func (c *deploymentCheck) line(label, format string, args ...any) {
	c.printf("  %-15s %s\n", label+":", fmt.Sprintf(format, args...))
}

func (c *deploymentCheck) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// config checks a loaded configuration; routes were described already.
func (c *deploymentCheck) config(cfg *config.Config) {
	runsDaemon := cfg.ConfiguresDaemon() || len(cfg.Routes) > 0 || cfg.Server.Enabled
	runsServer := cfg.Server.Enabled || cfg.Server.AppsFile != "" || !runsDaemon
	if runsDaemon {
		c.sources(cfg)
		c.spool(cfg.Spool)
	}
	c.listeners(cfg, runsDaemon, runsServer)
	if runsServer {
		c.server(cfg.Server)
	}
}

func (c *deploymentCheck) sources(cfg *config.Config) {
	c.printf("\nsources (kete run)\n")
	wh := cfg.Sources.Webhook
	if wh.Enabled {
		how := "none (anyone who reaches the port can post)"
		switch {
		case wh.Secret != "":
			how = "HMAC secret " + redact.Mask
		case wh.BearerToken != "":
			how = "bearer token " + redact.Mask
		case wh.BasicUsername != "":
			how = "basic " + wh.BasicUsername + ":" + redact.Mask
		}
		c.line("webhook", "on, POST %s on %s, auth %s, max-bytes %d", wh.Path, wh.Listen, how, wh.MaxBytes)
	} else {
		c.line("webhook", "off")
	}
	if p := cfg.Sources.Keycloak; p.Enabled {
		k := cfg.Keycloak
		who := "client " + k.ClientID + " secret " + redact.Mask
		if k.Username != "" {
			who = "user " + k.Username + " password " + redact.Mask
		}
		c.line("keycloak poll", "on, realms %s every %s (lookback %s), %s as %s", strings.Join(p.Realms, ", "), p.Interval, p.Lookback, redact.URL(k.URL), who)
	} else {
		c.line("keycloak poll", "off")
	}
	c.line("stdin", "with kete run --stdin")
}

// spool says where the spool is and refuses a path the daemon could not use.
func (c *deploymentCheck) spool(s config.SpoolSettings) {
	c.printf("\nspool\n")
	abs, err := filepath.Abs(s.Dir)
	if err != nil {
		abs = s.Dir
	}
	state := "exists"
	switch st, err := os.Stat(s.Dir); {
	case err == nil && !st.IsDir():
		c.problem("kete.spool.dir=%s: not a directory", s.Dir)
		state = "not a directory"
	case errors.Is(err, os.ErrNotExist):
		state = "created at start"
		if parent := existingParent(abs); parent != "" {
			if st, err := os.Stat(parent); err == nil && !st.IsDir() {
				c.problem("kete.spool.dir=%s: %s is not a directory", s.Dir, parent)
			}
		}
	case err != nil:
		c.problem("kete.spool.dir=%s: %v", s.Dir, err)
		state = err.Error()
	}
	c.line("dir", "%s (%s; %s)", s.Dir, abs, state)
	c.line("max-bytes", "%d (full: the webhook answers 503 with Retry-After)", s.MaxBytes)
}

// existingParent is the nearest ancestor of path that exists, or "".
func existingParent(path string) string {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); err == nil {
			return dir
		}
		if dir == filepath.Dir(dir) {
			return ""
		}
	}
}

// listeners prints each address kete would bind, with what it serves, and refuses two
// listeners on one port.
func (c *deploymentCheck) listeners(cfg *config.Config, daemon, server bool) {
	type listener struct{ key, addr, serves string }
	var ls []listener
	if daemon {
		serves := "/metrics, /healthz, /readyz"
		if wh := cfg.Sources.Webhook; wh.Enabled {
			serves = "webhook POST " + wh.Path + ", " + serves
		}
		ls = append(ls, listener{"kete.sources.webhook.listen", cfg.Sources.Webhook.Listen, serves})
	}
	if server {
		s := cfg.Server
		scheme := "http"
		if s.TLS.Enabled {
			scheme = "https"
		}
		what := "bundled server (kete server"
		if s.Enabled {
			what += ", and kete run: kete.server.enabled"
		}
		ls = append(ls, listener{"kete.server.listen", s.Listen,
			what + "): dashboard " + dashboardURL(scheme, s.Listen) + ", /apps/{appId}, /api/…, /metrics, /readyz"})
	}
	c.printf("\nlisteners\n")
	for _, l := range ls {
		c.line(l.addr, "%s", l.serves)
	}
	if len(ls) == 2 && cfg.Server.Enabled && samePort(ls[0].addr, ls[1].addr) {
		c.problem("%s=%s and %s=%s: one port for two listeners; kete run would fail to bind the second", ls[0].key, ls[0].addr, ls[1].key, ls[1].addr)
	}
}

// samePort reports whether two listen addresses would collide: the same port (not 0) on
// the same host, or on any host when either listens on all of them.
func samePort(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

func (c *deploymentCheck) server(s config.ServerSettings) {
	c.printf("\nserver\n")
	c.line("tls", "%s", onOff(s.TLS.Enabled))
	switch s.Broker.Kind {
	case config.BrokerMemory:
		c.line("broker", "memory (one node)")
	case config.BrokerNATS:
		c.nats(s)
	}
	if s.AppsFile == "" {
		if s.Enabled {
			c.warnings = append(c.warnings, "kete.server.enabled=true without kete.server.apps-file: the server has no apps and refuses every connection")
		}
		c.line("apps-file", "none (kete server needs --apps FILE or kete.server.apps-file)")
		return
	}
	c.line("apps-file", "%s", s.AppsFile)
	if _, err := os.Stat(s.AppsFile); errors.Is(err, os.ErrNotExist) {
		wd, _ := os.Getwd()
		c.problem("kete.server.apps-file=%s: no such file (a relative path is read from the directory kete runs in, %s)", s.AppsFile, wd)
		return
	}
	c.appsFile(s.AppsFile)
}

func (c *deploymentCheck) nats(s config.ServerSettings) {
	n := s.NATS
	var parts []string
	for _, f := range []struct{ key, path string }{
		{"kete.server.nats.credentials-file", n.CredentialsFile},
		{"kete.server.nats.nkey-seed-file", n.NKeySeedFile},
	} {
		if f.path == "" {
			continue
		}
		parts = append(parts, strings.TrimPrefix(f.key, "kete.server.nats.")+" "+f.path)
		if fh, err := os.Open(f.path); err != nil {
			c.problem("%s=%s: %v", f.key, f.path, errors.Unwrap(err))
		} else {
			fh.Close()
		}
	}
	if n.User != "" {
		parts = append(parts, "user "+n.User+" password "+redact.Mask)
	}
	if n.Token != "" {
		parts = append(parts, "token "+redact.Mask)
	}
	tls := "tls off"
	if n.TLS.Enabled || s.Broker.TLS() {
		tls = "tls on"
		if _, err := s.NATSTLSConfig(); err != nil {
			c.problem("kete.server.nats.tls: %v", err)
		}
	}
	parts = append(parts, tls)
	if h := n.History; h.Enabled {
		parts = append(parts, fmt.Sprintf("history in stream %s (%s, %d replicas, max-age %s, %d per topic)", h.Stream, h.Storage, h.Replicas, h.MaxAge, h.MaxMsgsPerTopic))
	}
	c.line("broker", "%s (several nodes as one): %s", redact.URL(s.Broker.URL), strings.Join(parts, ", "))
}

// appsFile checks the apps file with the server's loader and prints each app.
func (c *deploymentCheck) appsFile(path string) {
	apps, problems := appsFileProblems(path)
	c.problems = append(c.problems, problems...)
	if problems != nil {
		return
	}
	if len(apps) == 0 {
		c.warnings = append(c.warnings, "apps file "+path+": no apps: the server refuses every connection")
	}
	for _, a := range apps {
		describeApp(c, a)
	}
}

// describeApp prints one app as the server will serve it; key material reads ****.
func describeApp(c *deploymentCheck, a server.App) {
	state := "enabled"
	if !a.Enabled {
		state = "disabled: every connection and API call is refused"
	}
	c.printf("\napp %s (%s)\n", a.AppID, state)
	if a.Name != "" {
		c.line("name", "%s", a.Name)
	}
	c.line("authKey", "%s", describeKey(a.AuthKey))
	c.line("adminKey", "%s", describeKey(a.AdminKey))
	if len(a.APIKeys) > 0 {
		names := make([]string, len(a.APIKeys))
		for i, k := range a.APIKeys {
			names[i] = fmt.Sprintf("%s (%d permissions)", k.Name, len(k.Permissions))
		}
		c.line("apiKeys", "%s", strings.Join(names, ", "))
	}
	c.line("clients from", "%s", sources(a.ClientSourceAddress))
	c.line("admin from", "%s", sources(a.AdminSourceAddress))
	origins := "any (no Origin check)"
	if len(a.AllowedOrigins) > 0 {
		origins = strings.Join(a.AllowedOrigins, ", ")
	}
	c.line("origins", "%s", origins)
	limit := "unlimited"
	if a.MaxConnections > 0 {
		limit = strconv.Itoa(a.MaxConnections)
	}
	one := string(a.OneConnectionPerUser)
	if one == "" {
		one = "off"
	}
	c.line("connections", "max %s, one per user %s, inbound topic %s, acks %s", limit, one, onOff(a.EnableWebSocketInboundTopic), onOff(a.ClientInboundAckEnabled))
	if a.HistorySize > 0 {
		c.line("history", "%d per topic, ttl %s", a.HistorySize, time.Duration(a.HistoryTTL).String())
	}
}

func describeKey(k auth.Key) string {
	if k.Source == "" && k.Key == "" && k.JWKSURI == "" {
		return "none (refused)"
	}
	var parts []string
	if k.JWKSURI != "" {
		parts = append(parts, "jwks "+redact.URL(k.JWKSURI)+" (not fetched by check)")
	} else {
		parts = append(parts, "raw "+redact.Mask)
	}
	if len(k.Algorithms) > 0 {
		parts = append(parts, strings.Join(k.Algorithms, ", "))
	}
	if len(k.Issuer) > 0 {
		parts = append(parts, "issuer "+strings.Join(k.Issuer, ", "))
	}
	if len(k.Audience) > 0 {
		parts = append(parts, "audience "+strings.Join(k.Audience, ", "))
	}
	return strings.Join(parts, ", ")
}

func sources(addrs []string) string {
	if len(addrs) == 0 {
		return "any address"
	}
	return strings.Join(addrs, ", ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// finish prints the warnings and returns every problem as one error, one per line, as
// the configuration's own ValidationError does.
func (c *deploymentCheck) finish() error {
	for _, w := range c.warnings {
		c.printf("warning: %s\n", w)
	}
	return problemsError(c.problems)
}

// problemsError lists problems one per line under a count, or is nil without any.
func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%d %s:\n  %s", len(problems), plural(len(problems), "problem", "problems"), strings.Join(problems, "\n  "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// isAppsFile reports whether path holds a server apps file rather than a configuration:
// a JSON or YAML list, or a mapping whose only key is apps.
func isAppsFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".yaml", ".yml":
	default:
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	s := strings.TrimSpace(stripComments(string(b)))
	return strings.HasPrefix(s, "[") || strings.HasPrefix(s, "- ") || strings.HasPrefix(s, "apps:") || strings.HasPrefix(s, `{"apps"`)
}

func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// dashboardURL is the link to print for a listener on addr: a wildcard host ("", 0.0.0.0,
// ::) becomes 127.0.0.1, which a browser on the same machine can open, where
// http://[::]:8080/ is not a page.
func dashboardURL(scheme, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}
