package config

import (
	"crypto/tls"
	"errors"
	"strings"
)

// keteSharedFields are the keys every KETE destination shares (DestinationConfig.java
// and TlsMaterial.java, FortuneN/kete; docs/user-guide/destinations/overview.md, "TLS
// Properties Reference", and routes.md, "Route Properties"). Each is read with KETE's
// meaning where it has one for a WebSocket, else accepted with a warning that says why
// it changes nothing; a value KETE itself would refuse is an error.
func keteSharedFields(d *DestinationSettings) []field {
	return []field{
		{key: "destination.tls.version", set: tlsVersionVar(&d.TLS.Version)},
		{key: "destination.tls.trust-store.type", set: storeTypeVar},
		{key: "destination.tls.key-store.type", set: storeTypeVar},
		{key: "destination.tls.trust-store.trust-manager-algorithm", set: managerAlgorithmVar},
		{key: "destination.tls.key-store.key-manager-algorithm", set: managerAlgorithmVar},
		{key: "destination.authentication-type", set: func(_, v string) error {
			return ignored("accepted: KETE's websocket destination reads no authentication-type (its methods are per destination); a bearer token comes from destination.oauth.*, other credentials from destination.headers.*")
		}},
		{key: "destination.content-encoding", set: func(_, v string) error {
			switch strings.ToLower(v) {
			case "gzip", "deflate":
				return ignored("accepted: KETE applies content encodings only to HTTP- and SDK-based destinations, not websocket, and neither does kete; frames carry the serializer's bytes")
			}
			return errors.New("want gzip or deflate (KETE refuses other content encodings)")
		}},
		{key: "destination.content-transfer-encoding", set: func(_, v string) error {
			if strings.EqualFold(v, "base64") {
				return ignored("accepted: KETE applies content transfer encodings only to HTTP- and SDK-based destinations, not websocket, and neither does kete; frames carry the serializer's bytes")
			}
			return errors.New("want base64 (KETE refuses other content transfer encodings)")
		}},
	}
}

// TLS versions as destination.tls.version names them (Java's SSLContext protocols).
const (
	tlsVersionAny = "TLS"
	tlsVersion12  = "TLSv1.2"
	tlsVersion13  = "TLSv1.3"
)

func tlsVersionVar(p *string) func(string, string) error {
	return func(_, v string) error {
		for _, known := range []string{tlsVersionAny, tlsVersion12, tlsVersion13} {
			if strings.EqualFold(v, known) {
				*p = known
				return nil
			}
		}
		switch strings.ToLower(v) {
		case "tlsv1", "tlsv1.1", "sslv3", "ssl":
			return errors.New("TLS 1.0, 1.1 and SSL are off in current JDKs and in kete: write TLS, TLSv1.2 or TLSv1.3")
		}
		return errors.New("want TLS, TLSv1.2 or TLSv1.3")
	}
}

// applyTLSVersion narrows cfg to what destination.tls.version asks for. kete's floor is
// TLS 1.2 whatever the version (tlsconfig.Client); TLSv1.2 caps it there, as a Java
// context made for TLSv1.2 enables nothing newer.
func applyTLSVersion(cfg *tls.Config, version string) {
	if cfg != nil && version == tlsVersion12 {
		cfg.MaxVersion = tls.VersionTLS12
	}
}

func storeTypeVar(_, v string) error {
	return ignored("accepted: KETE's type names the JVM KeyStore it loads certificates into; kete reads the format from loader.kind and needs no type")
}

func managerAlgorithmVar(_, v string) error {
	return ignored("accepted: a JVM trust/key manager algorithm (PKIX, SunX509); Go verifies chains by PKIX path validation whatever it says")
}
