package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Key sources of [Key].Source.
const (
	SourceRaw  = "raw"  // Key holds a PEM public key or an HMAC secret
	SourceJWKS = "jwks" // JWKSURI names a JSON Web Key Set
)

// Key is an app's authKey or adminKey as the apps file gives it (Realtime Pub/Sub field
// names). Audience, Issuer and Algorithms decode from a string or a list.
type Key struct {
	Source     string   `json:"source" yaml:"source"`                         // "raw" | "jwks"; empty: "jwks" when only jwksUri is set, "raw" when only key is
	Key        string   `json:"key,omitempty" yaml:"key,omitempty"`           // PEM public key (RSA, EC, Ed25519; PKIX, PKCS#1 or a certificate) or an HMAC secret
	Algorithms []string `json:"algorithms" yaml:"algorithms"`                 // only these are accepted; empty: every algorithm the key type allows
	Issuer     []string `json:"issuer,omitempty" yaml:"issuer,omitempty"`     // accepted issuers; empty = any
	Audience   []string `json:"audience,omitempty" yaml:"audience,omitempty"` // the token's aud must hold one of these; empty = not checked
	JWKSURI    string   `json:"jwksUri,omitempty" yaml:"jwksUri,omitempty"`
}

// stringList decodes from a string, a list of strings or null.
type stringList []string

// UnmarshalJSON takes "x" as [x], "" and null as none, and a list as is.
func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = splitNonEmpty(one)
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %s", abbreviate(string(b)))
	}
	*s = many
	return nil
}

// UnmarshalYAML is UnmarshalJSON for YAML scalars and sequences.
func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*s = nil
			return nil
		}
		*s = splitNonEmpty(n.Value)
		return nil
	case yaml.SequenceNode:
		var many []string
		if err := n.Decode(&many); err != nil {
			return fmt.Errorf("line %d: want a list of strings: %w", n.Line, err)
		}
		*s = many
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// splitNonEmpty turns "" into no entries and anything else into one.
func splitNonEmpty(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return []string{v}
}

type keyWire struct {
	Source     string     `json:"source" yaml:"source"`
	Key        string     `json:"key" yaml:"key"`
	Algorithms stringList `json:"algorithms" yaml:"algorithms"`
	Issuer     stringList `json:"issuer" yaml:"issuer"`
	Audience   stringList `json:"audience" yaml:"audience"`
	JWKSURI    string     `json:"jwksUri" yaml:"jwksUri"`
}

func (w keyWire) key() Key {
	return Key{Source: w.Source, Key: w.Key, Algorithms: w.Algorithms, Issuer: w.Issuer, Audience: w.Audience, JWKSURI: w.JWKSURI}
}

// UnmarshalJSON accepts audience, issuer and algorithms as a string or a list, as the
// Realtime docs write `"audience": "https://example.com"` and `"issuer": []`.
//
// Unknown fields are an error, not ignored: a misspelt "audience" would otherwise turn the
// audience check off without a word.
func (k *Key) UnmarshalJSON(b []byte) error {
	var w keyWire
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return fmt.Errorf("auth key: %w", err)
	}
	*k = w.key()
	return nil
}

// UnmarshalYAML is UnmarshalJSON for YAML apps files (gopkg.in/yaml.v3).
func (k *Key) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch name := n.Content[i].Value; name {
			case "source", "key", "algorithms", "issuer", "audience", "jwksUri":
			default:
				return fmt.Errorf("auth key: line %d: unknown field %q (want source, key, algorithms, issuer, audience or jwksUri)", n.Content[i].Line, name)
			}
		}
	}
	var w keyWire
	if err := n.Decode(&w); err != nil {
		return fmt.Errorf("auth key: %w", err)
	}
	*k = w.key()
	return nil
}

// keyFamily is the kind of key an algorithm needs.
type keyFamily int

const (
	familyHMAC keyFamily = iota + 1
	familyRSA
	familyEC
	familyEd25519
)

// String names the family in error messages.
func (f keyFamily) String() string {
	switch f {
	case familyHMAC:
		return "HMAC secret"
	case familyRSA:
		return "RSA key"
	case familyEC:
		return "EC key"
	case familyEd25519:
		return "Ed25519 key"
	}
	return "unknown key"
}

// algorithmFamily says which key family an algorithm name needs.
func algorithmFamily(alg string) (keyFamily, bool) {
	switch alg {
	case "HS256", "HS384", "HS512":
		return familyHMAC, true
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return familyRSA, true
	case "ES256", "ES384", "ES512":
		return familyEC, true
	case "EdDSA":
		return familyEd25519, true
	}
	return 0, false
}

// Algorithms lists every algorithm name a Key may list, for docs and error messages.
func Algorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}
}

func asymmetricAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// hmacMinLen is the shortest secret RFC 7518 §3.2 allows for the algorithm.
func hmacMinLen(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 32
}

// ecAlgorithm is the one ES algorithm that goes with a curve.
func ecAlgorithm(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

const minRSABits = 2048

// publicKeyAlgorithms checks that key fits every algorithm in algs (empty: all that fit)
// and returns the list to accept.
func publicKeyAlgorithms(key crypto.PublicKey, algs []string) ([]string, error) {
	var fits []string
	switch k := key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA key has %d bits; at least %d are required", bits, minRSABits)
		}
		fits = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		alg := ecAlgorithm(k.Curve)
		if alg == "" {
			return nil, fmt.Errorf("EC key on curve %s is not supported (want P-256, P-384 or P-521)", k.Curve.Params().Name)
		}
		fits = []string{alg}
	case ed25519.PublicKey:
		fits = []string{"EdDSA"}
	default:
		return nil, fmt.Errorf("public key of type %T is not supported (want RSA, EC or Ed25519)", key)
	}
	if len(algs) == 0 {
		return fits, nil
	}
	for _, alg := range algs {
		fam, _ := algorithmFamily(alg)
		if fam == familyHMAC {
			return nil, fmt.Errorf("algorithm %q cannot be used with a PEM key: an HMAC secret must never be a public key, "+
				"or anyone holding the public key could sign tokens", alg)
		}
		if !slices.Contains(fits, alg) {
			return nil, fmt.Errorf("algorithm %q does not fit this %s (it fits %s)", alg, familyOf(key), strings.Join(fits, ", "))
		}
	}
	return algs, nil
}

func familyOf(key any) keyFamily {
	switch key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return familyRSA
	case *ecdsa.PublicKey, *ecdsa.PrivateKey:
		return familyEC
	case ed25519.PublicKey, ed25519.PrivateKey:
		return familyEd25519
	case []byte:
		return familyHMAC
	}
	return 0
}

// checkAlgorithmNames rejects unknown names (and "none") before anything else is looked at.
func checkAlgorithmNames(algs []string) error {
	var errs []error
	for _, alg := range algs {
		if _, ok := algorithmFamily(alg); !ok {
			errs = append(errs, fmt.Errorf("algorithm %q is not supported (want one of %s)", alg, strings.Join(Algorithms(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// looksLikePEM is true for text that holds a PEM block; such text is never an HMAC secret.
func looksLikePEM(s string) bool { return strings.Contains(s, "-----BEGIN ") }

// normalizePEM turns the literal two-character sequence `\n` into newlines when the text
// has no real newline: keys pasted into one-line YAML or env values arrive that way.
func normalizePEM(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	return s
}

// parsePublicKeyPEM reads a PKIX or PKCS#1 public key, or the key of a certificate.
func parsePublicKeyPEM(text string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(normalizePEM(text)))
	if block == nil {
		return nil, errors.New("key is not a valid PEM block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM %q: %w", block.Type, err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM %q: %w", block.Type, err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM %q: %w", block.Type, err)
		}
		return c.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("PEM %q is a private key: give the public key (the private key stays with the token issuer)", block.Type)
	}
	return nil, fmt.Errorf("PEM block type %q is not a public key (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", block.Type)
}

// hmacSecret validates a raw HMAC secret against the algorithms (empty: every HS algorithm
// the secret is long enough for) and returns the secret bytes and the accepted algorithms.
func hmacSecret(text string, algs []string) ([]byte, []string, error) {
	secret := []byte(strings.TrimSpace(text))
	if len(secret) == 0 {
		return nil, nil, errors.New("key is empty: give a PEM public key or an HMAC secret")
	}
	if len(algs) == 0 {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			if len(secret) >= hmacMinLen(alg) {
				algs = append(algs, alg)
			}
		}
		if len(algs) == 0 {
			return nil, nil, fmt.Errorf("HMAC secret is %d bytes; HS256 needs at least 32", len(secret))
		}
		return secret, algs, nil
	}
	for _, alg := range algs {
		if fam, _ := algorithmFamily(alg); fam != familyHMAC {
			return nil, nil, fmt.Errorf("algorithm %q needs a PEM public key, but the key is not PEM (an HMAC secret?)", alg)
		}
		if n := hmacMinLen(alg); len(secret) < n {
			return nil, nil, fmt.Errorf("HMAC secret is %d bytes; %s needs at least %d", len(secret), alg, n)
		}
	}
	return secret, algs, nil
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
