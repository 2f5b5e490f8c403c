package config

import (
	"fmt"
)

// KETEChanges lists where this configuration relies on a KETE default that kete changed,
// each with what changed and the key that restores KETE's behaviour (or why none does).
// `kete check` prints them, so that a route moved from KETE does not change unseen.
// KETE's defaults are from its TlsMaterial.java and docs/user-guide/destinations/
// overview.md ("TLS Properties Reference", "Password fallbacks"), FortuneN/kete.
func (c *Config) KETEChanges() []string {
	var out []string
	for _, r := range c.Routes {
		if !r.Enabled {
			continue
		}
		p := "kete.routes." + r.Name + ".destination.tls."
		t := r.Destination.TLS
		if !t.Enabled {
			continue
		}
		if !c.Explicit(p + "verify-hostname") {
			out = append(out, fmt.Sprintf("route %s: kete checks the server's host name against its certificate (KETE's default: it does not); to restore KETE's: %sverify-hostname=false", r.Name, p))
		}
		for _, s := range []struct {
			name  string
			store StoreSettings
		}{{"trust-store", t.TrustStore}, {"key-store", t.KeyStore}} {
			format := s.store.Loader.Kind.Format()
			if (format == "pkcs12" || format == "jks") && !c.Explicit(p+s.name+".password") {
				out = append(out, fmt.Sprintf("route %s: kete opens the %s with no password and guesses none (KETE also tried \"\", changeit and secret); if the store has one, set %s%s.password (changeit is the JDK's default)", r.Name, s.name, p, s.name))
			}
		}
		if t.TrustStore.Given() {
			out = append(out, fmt.Sprintf("route %s: the trust store replaces the system CAs (KETE added the JVM's CAs to it); no key restores that: put the CAs the server needs in %strust-store, or leave it out to trust the system CAs", r.Name, p))
		}
	}
	return out
}
