package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/tlsconfig"
)

// The settings below take one of a fixed set of values. Each is read once, when the
// configuration is decoded, into a typed value, so that no later code compares strings;
// a value outside the set fails there with the key and what is allowed.

// OAuthMode is destination.oauth.mode: where a route's OAuth client lives.
type OAuthMode int

// OAuth modes; the zero value is KETE's default.
const (
	// OAuthExternal asks a token server of your own (token-url) with client credentials.
	OAuthExternal OAuthMode = iota
	// OAuthInternal registers a client in the attached Keycloak (kete.keycloak.*).
	OAuthInternal
)

var oauthModeNames = []string{OAuthExternal: "external", OAuthInternal: "internal"}

func (m OAuthMode) String() string {
	if int(m) < len(oauthModeNames) {
		return oauthModeNames[m]
	}
	return fmt.Sprintf("OAuthMode(%d)", int(m))
}

// ParseOAuthMode reads external or internal, in any case.
func ParseOAuthMode(s string) (OAuthMode, error) {
	for m, name := range oauthModeNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return OAuthMode(m), nil
		}
	}
	return 0, fmt.Errorf("want one of %s", strings.Join(oauthModeNames, ", "))
}

// DestinationKind is destination.kind. kete runs DestinationWebSocket; a route of one
// of KETE's other kinds (keteDestinationKinds) is skipped, its kind kept to say why.
type DestinationKind string

// DestinationWebSocket is the one destination kind kete runs, and the default.
const DestinationWebSocket DestinationKind = "websocket"

func (k DestinationKind) String() string { return string(k) }

// ParseDestinationKind reads websocket in any case. KETE's other kinds never reach it
// (their routes are skipped); anything else is a typo.
func ParseDestinationKind(s string) (DestinationKind, error) {
	if strings.EqualFold(strings.TrimSpace(s), string(DestinationWebSocket)) {
		return DestinationWebSocket, nil
	}
	return "", errors.New("unknown destination kind: want websocket (a route of one of KETE's other kinds, such as kafka or http, is skipped with a warning)")
}

// BrokerKind is which broker carries the bundled server's publications.
type BrokerKind int

// Broker kinds; the zero value is the default.
const (
	// BrokerMemory serves one node.
	BrokerMemory BrokerKind = iota
	// BrokerNATS lets several nodes act as one, through NATS (kete.server.nats.*).
	BrokerNATS
)

func (k BrokerKind) String() string {
	if k == BrokerNATS {
		return "nats"
	}
	return "memory"
}

// Broker is kete.server.broker: "memory" (the zero value) or a nats:// or tls:// URL.
type Broker struct {
	Kind BrokerKind
	// URL is the NATS server as given, for BrokerNATS; blank for BrokerMemory.
	URL string
}

// MemoryBroker is kete.server.broker's default, the memory broker.
var MemoryBroker = Broker{}

// String is the setting as written: memory, or the URL.
func (b Broker) String() string {
	if b.Kind == BrokerNATS {
		return b.URL
	}
	return BrokerMemory.String()
}

// TLS reports whether the URL itself asks for TLS (tls://), whatever
// kete.server.nats.tls.enabled says.
func (b Broker) TLS() bool {
	scheme, _, _ := strings.Cut(b.URL, "://")
	return b.Kind == BrokerNATS && strings.EqualFold(scheme, "tls")
}

// ParseBroker reads memory, in any case, or a nats:// or tls:// URL.
func ParseBroker(s string) (Broker, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, BrokerMemory.String()) {
		return MemoryBroker, nil
	}
	if err := checkURL(s, "nats", "tls"); err != nil {
		return Broker{}, errors.New("want memory or a nats:// URL")
	}
	return Broker{Kind: BrokerNATS, URL: s}, nil
}

func loaderKindVar(p *tlsconfig.LoaderKind) func(string, string) error {
	return func(_, v string) error {
		k, err := tlsconfig.ParseLoaderKind(v)
		if err != nil {
			return errors.New("want one of " + tlsconfig.KindList())
		}
		*p = k
		return nil
	}
}

func clientAuthVar(p *tlsconfig.ClientAuth) func(string, string) error {
	return func(_, v string) error {
		a, err := tlsconfig.ParseClientAuth(v)
		if err != nil {
			return fmt.Errorf("want %s, %s or %s", tlsconfig.ClientAuthNone, tlsconfig.ClientAuthRequest, tlsconfig.ClientAuthRequire)
		}
		*p = a
		return nil
	}
}

// SerializerKind is serializer.kind: one of serializer.Kinds(), the serializer
// package's list, stored in lower case.
type SerializerKind string

func (k SerializerKind) String() string { return string(k) }

// ParseSerializerKind reads one of serializer.Kinds() in any case.
func ParseSerializerKind(s string) (SerializerKind, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(serializer.Kinds(), k) {
		return "", fmt.Errorf("%q: unknown, want one of %s", s, strings.Join(serializer.Kinds(), ", "))
	}
	return SerializerKind(k), nil
}
