package config

import (
	"errors"
	"strings"

	"github.com/kete-dev/kete/tlsconfig"
)

// finishTLS checks the stores and, for an enabled route with TLS on, loads them, so
// that a missing file or a wrong password shows up when the config is checked.
func (d *decoder) finishTLS(r *RouteSettings, p string) {
	t := &r.Destination.TLS
	prefix := p + "destination.tls."
	if !t.Enabled {
		hint := "set destination.tls.enabled=true" // host, port and path
		if d.given(p + "destination.url") {
			hint = "use a wss:// URL" // tls.enabled=true is an error with ws://
		}
		for _, k := range d.givenUnder(prefix) {
			if k != prefix+"enabled" {
				d.warn(k, "ignored: TLS is off ("+hint+")")
			}
		}
		return
	}
	trustOK := d.checkStore(prefix+"trust-store", t.TrustStore)
	keyOK := d.checkStore(prefix+"key-store", t.KeyStore)
	if !r.Enabled || !trustOK || !keyOK {
		return
	}
	cfg, err := tlsconfig.Client(clientTLSOptions(p, *t))
	if err != nil {
		d.add(storeProblem(err, prefix))
		return
	}
	applyTLSVersion(cfg, t.Version)
	r.Destination.tlsConfig = cfg
}

func clientTLSOptions(p string, t TLSSettings) tlsconfig.Options {
	o := tlsconfig.Options{VerifyHostname: t.VerifyHostname}
	if t.TrustStore.Given() {
		o.TrustStore = tlsStore(p+"destination.tls.trust-store", t.TrustStore)
	}
	if t.KeyStore.Given() {
		o.KeyStore = tlsStore(p+"destination.tls.key-store", t.KeyStore)
	}
	return o
}

func tlsStore(name string, s StoreSettings) *tlsconfig.Store {
	return &tlsconfig.Store{
		Name:        name,
		Loader:      tlsconfig.Loader{Kind: s.Loader.Kind, Path: s.Loader.Path, Base64: s.Loader.Base64, Text: s.Loader.Text},
		Password:    s.Password,
		KeyPassword: s.KeyPassword,
	}
}

// storeProblem splits an error of tlsconfig into the key to blame and the reason: the
// store a *tlsconfig.StoreError names (its Name is the store's key), else the section.
func storeProblem(err error, prefix string) (key, reason string) {
	if se := (*tlsconfig.StoreError)(nil); errors.As(err, &se) && strings.HasPrefix(se.Store, prefix) {
		return se.Store, se.Err.Error()
	}
	return strings.TrimSuffix(prefix, "."), err.Error()
}

// checkStore checks that a store's loader names one source that fits its kind.
func (d *decoder) checkStore(key string, s StoreSettings) bool {
	if !s.Given() {
		return true
	}
	l := s.Loader
	if l.Kind == "" {
		d.add(key+".loader.kind", "required: one of "+tlsconfig.KindList())
		return false
	}
	ok := true
	want := l.Kind.Source()
	for _, src := range []struct{ name, value string }{{"path", l.Path}, {"base64", l.Base64}, {"text", l.Text}} {
		switch {
		case src.name == want && src.value == "":
			d.add(key+".loader."+src.name, "required by loader.kind="+l.Kind.String())
			ok = false
		case src.name != want && src.value != "":
			d.add(key+".loader."+src.name, "not used by loader.kind="+l.Kind.String()+"; set loader."+want)
			ok = false
		}
	}
	return ok
}
