package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kete-dev/kete/internal/pemkey"
)

// MintClaims describe a token to mint.
type MintClaims struct {
	Subject     string
	Issuer      string
	Audience    []string       // one entry is written as a string, more as a list
	Permissions []string       // written as the permissions claim when not empty
	TTL         time.Duration  // exp = iat + TTL; 0 writes no exp, which verifiers refuse unless told otherwise
	Kid         string         // key id header, for JWKS verifiers
	Extra       map[string]any // further claims (e.g. scope); may not name a claim set above
	IssuedAt    time.Time      // zero = now
	NotBefore   time.Time      // zero = no nbf
	ID          string         // jti; empty = 16 random bytes in hex
}

// reservedClaim is true for the claims Mint writes from MintClaims' fields.
func reservedClaim(name string) bool {
	switch name {
	case "sub", "iss", "aud", "exp", "nbf", "iat", "jti", "permissions":
		return true
	}
	return false
}

// Mint signs a token, for `kete token` and tests. key is a []byte secret for HS* and a
// crypto.Signer (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey) for the others;
// LoadSigningKey reads either from a file. The key must fit alg as NewVerifier demands.
func Mint(alg string, key any, c MintClaims) (string, error) {
	fam, ok := algorithmFamily(alg)
	if !ok {
		return "", fmt.Errorf("mint: algorithm %q is not supported (want one of %s)", alg, strings.Join(Algorithms(), ", "))
	}
	if err := checkSigningKey(alg, fam, key); err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	claims := jwt.MapClaims{}
	for name, v := range c.Extra {
		if reservedClaim(name) {
			return "", fmt.Errorf("mint: extra claim %q is set from MintClaims; use its field", name)
		}
		claims[name] = v
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	claims["iat"] = iat.Unix()
	if c.TTL > 0 {
		claims["exp"] = iat.Add(c.TTL).Unix()
	}
	if !c.NotBefore.IsZero() {
		claims["nbf"] = c.NotBefore.Unix()
	}
	if c.Subject != "" {
		claims["sub"] = c.Subject
	}
	if c.Issuer != "" {
		claims["iss"] = c.Issuer
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		claims["aud"] = c.Audience[0]
	default:
		claims["aud"] = c.Audience
	}
	if len(c.Permissions) > 0 {
		claims["permissions"] = c.Permissions
	}
	id := c.ID
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("mint: token id: %w", err)
		}
		id = hex.EncodeToString(b[:])
	}
	claims["jti"] = id
	t := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	if c.Kid != "" {
		t.Header["kid"] = c.Kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("mint %s: %w", alg, err)
	}
	return s, nil
}

// checkSigningKey applies NewVerifier's rules to a signing key, so that Mint never makes a
// token no verifier would accept.
func checkSigningKey(alg string, fam keyFamily, key any) error {
	switch k := key.(type) {
	case []byte:
		if fam != familyHMAC {
			return fmt.Errorf("algorithm %q needs a private key, got an HMAC secret", alg)
		}
		if looksLikePEM(string(k)) {
			return fmt.Errorf("algorithm %q: an HMAC secret must not be a PEM key", alg)
		}
		if n := hmacMinLen(alg); len(k) < n {
			return fmt.Errorf("HMAC secret is %d bytes; %s needs at least %d", len(k), alg, n)
		}
		return nil
	case crypto.Signer:
		if fam == familyHMAC {
			return fmt.Errorf("algorithm %q needs an HMAC secret ([]byte), got %T", alg, key)
		}
		_, err := publicKeyAlgorithms(k.Public(), []string{alg})
		if err != nil {
			return err
		}
		switch key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return nil
		}
		return fmt.Errorf("signer of type %T is not supported (want *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey)", key)
	}
	return fmt.Errorf("key of type %T cannot sign (want []byte for HS*, a crypto.Signer otherwise)", key)
}

// LoadSigningKey reads a signing key for Mint: for HS* the bytes are the secret (white
// space around it removed, as NewVerifier does); otherwise a PEM private key in PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY") form. Encrypted
// keys are not supported. The key must fit alg.
func LoadSigningKey(pemOrSecret []byte, alg string) (any, error) {
	fam, ok := algorithmFamily(alg)
	if !ok {
		return nil, fmt.Errorf("algorithm %q is not supported (want one of %s)", alg, strings.Join(Algorithms(), ", "))
	}
	if fam == familyHMAC {
		secret := bytes.Clone(bytes.TrimSpace(pemOrSecret))
		if err := checkSigningKey(alg, fam, secret); err != nil {
			return nil, err
		}
		return secret, nil
	}
	block, _ := pem.Decode([]byte(normalizePEM(string(pemOrSecret))))
	if block == nil {
		return nil, fmt.Errorf("algorithm %q needs a PEM private key; the data is not PEM", alg)
	}
	key, ok, err := pemkey.Parse(block)
	switch {
	case ok:
	case block.Type == "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted PEM keys are not supported; decrypt it first (openssl pkey)")
	case block.Type == "PUBLIC KEY", block.Type == "RSA PUBLIC KEY", block.Type == "CERTIFICATE":
		return nil, fmt.Errorf("PEM %q holds a public key; signing needs the private key", block.Type)
	default:
		return nil, fmt.Errorf("PEM block type %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM %q: %w", block.Type, err)
	}
	if err := checkSigningKey(alg, fam, key); err != nil {
		return nil, err
	}
	return key, nil
}

// PublicKeyPEM writes the public half of a signing key as a PKIX "PUBLIC KEY" block, the
// form an app's authKey takes; `kete token` prints it next to a new key.
func PublicKeyPEM(signer crypto.Signer) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}
