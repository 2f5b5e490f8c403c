package config

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/internal/redact"
)

// Describe writes what each route will do, for `kete check` and for people: its matchers,
// serializer, URL template with the URL it renders for an example event, frames, TLS,
// OAuth, headers, pool and retry; then the warnings. Secrets read ****.
func (c *Config) Describe(w io.Writer) error {
	ew := &errWriter{w: w}
	if !c.Enabled {
		ew.printf("kete.enabled=false: no route is built, no event is forwarded\n")
	}
	if len(c.Routes) == 0 {
		ew.printf("no routes\n")
	}
	for i := range c.Routes {
		if i > 0 {
			ew.printf("\n")
		}
		describeRoute(ew, &c.Routes[i], c.spooledRetry(&c.Routes[i]))
	}
	for _, p := range c.Warnings {
		ew.printf("warning: %s\n", p)
	}
	if w := c.NoSourceWarning(); w != "" && c.ConfiguresDaemon() {
		ew.printf("warning: %s\n", w)
	}
	for _, n := range c.RealmMatcherNotes() {
		ew.printf("note: %s\n", n)
	}
	for _, n := range c.KETEChanges() {
		ew.printf("changed from KETE: %s\n", n)
	}
	return ew.err
}

// describeRoute prints one route; retry is the policy `kete run` applies to it.
func describeRoute(w *errWriter, r *RouteSettings, retry kete.Retry) {
	if r.Skipped != "" {
		w.printf("route %s (skipped: %s)\n", r.Name, r.Skipped)
		return
	}
	state := "enabled"
	if !r.Enabled {
		state = "disabled"
	}
	w.printf("route %s (%s)\n", r.Name, state)
	line := func(label, format string, args ...any) {
		w.printf("  %-15s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("realms", "%s", describeMatchers(r.RealmMatchers, r.RealmMatchMode, "every realm"))
	line("events", "%s", describeMatchers(r.EventMatchers, r.EventMatchMode, "every event"))
	ser := r.Serializer.Kind.String()
	if r.serializer != nil {
		ser += " (" + r.serializer.ContentType() + ")"
	}
	if r.Serializer.Template != "" {
		ser += fmt.Sprintf(", template %q", r.Serializer.Template)
	}
	line("serializer", "%s", ser)
	d := &r.Destination
	line("destination", "%s", d.Kind)
	line("url", "%s", redact.URL(d.URL))
	if d.url != nil {
		e := SampleEvent(r)
		if example, err := destination.RenderURL(d.URL, e); err == nil {
			line("example", "%s (%s in realm %s)", redact.URL(example), e.EventType(), e.Realm())
		}
	}
	frames := "text"
	if d.BinaryMode {
		frames = "binary"
	}
	if len(d.Subprotocols) > 0 {
		frames += ", subprotocols " + strings.Join(d.Subprotocols, ", ")
	}
	line("frames", "%s", frames)
	heartbeat := "heartbeat " + seconds(d.ConnectionLostTimeout)
	if d.ConnectionLostTimeout == 0 {
		heartbeat = "heartbeat off"
	}
	line("connect", "timeout %s, %s", seconds(d.ConnectTimeout), heartbeat)
	names := make([]string, 0, len(d.Headers))
	for name := range d.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		line("header", "%s: %s", name, redact.Header(name, d.Headers[name]))
	}
	line("tls", "%s", describeTLS(d.TLS))
	line("oauth", "%s", describeOAuth(d.OAuth))
	p := d.Pool
	line("pool", "min-idle %d, max-idle %d, max-total %d, max-wait %s (per rendered URL)", p.MinIdle, p.MaxIdle, p.MaxTotal, seconds(p.MaxWait))
	line("retry", "%s", describeRetry(retry))
}

func describeMatchers(ms []MatcherSettings, mode kete.MatchMode, none string) string {
	if len(ms) == 0 {
		return none
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Name + "=" + m.Spec
	}
	if len(ms) == 1 {
		return parts[0]
	}
	return string(mode) + " of " + strings.Join(parts, "; ")
}

func describeTLS(t TLSSettings) string {
	if !t.Enabled {
		return "off"
	}
	s := "on, verify-hostname " + fmt.Sprint(t.VerifyHostname)
	s += ", trust-store " + describeStore(t.TrustStore, "system roots")
	s += ", key-store " + describeStore(t.KeyStore, "none")
	return s
}

func describeStore(s StoreSettings, none string) string {
	if !s.Given() {
		return none
	}
	l := s.Loader
	switch {
	case l.Path != "":
		return l.Kind.String() + " " + l.Path
	case l.Base64 != "", l.Text != "":
		return l.Kind.String() + " " + redact.Mask
	}
	return l.Kind.String()
}

func describeOAuth(o OAuthSettings) string {
	if !o.Enabled {
		return "off"
	}
	parts := []string{o.Mode.String()}
	if o.Mode == OAuthInternal {
		parts = append(parts, "realm "+o.Realm)
		if o.TokenURL != "" {
			parts = append(parts, "token-url "+redact.URL(o.TokenURL))
		}
	} else {
		parts = append(parts, "token-url "+redact.URL(o.TokenURL))
	}
	parts = append(parts, "client-id "+o.ClientID)
	if o.ClientSecret != "" {
		parts = append(parts, "client-secret "+redact.Mask)
	}
	if o.Scope != "" {
		parts = append(parts, fmt.Sprintf("scope %q", o.Scope))
	}
	if o.Timeout > 0 {
		parts = append(parts, "timeout "+seconds(o.Timeout))
	}
	return strings.Join(parts, ", ")
}

// describeRetry says what `kete run` does under retry (see SpooledRoute.Retry): with
// max-attempts unset it retries while the spool has room (the library's WithRetry keeps
// KETE's 3), then dead-letters nothing.
func describeRetry(retry kete.Retry) string {
	if !retry.Enabled {
		return "off (one attempt)"
	}
	attempts := fmt.Sprintf("%d attempts, then dead-lettered", retry.MaxAttempts)
	if retry.MaxAttempts == 0 {
		attempts = "until delivered (set retry.max-attempts to dead-letter after N)"
	}
	return fmt.Sprintf("%s, first wait %s, max wait %s", attempts, seconds(retry.WaitDuration), seconds(retry.MaxWait))
}

// seconds prints whole seconds as 60s rather than time.Duration's 1m0s.
func seconds(d time.Duration) string {
	if d > 0 && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// errWriter keeps the first write error so Describe can print without checking each line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
