package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// APIKey is one configured key for clients that cannot mint JWTs. Only the key's hash is
// stored (see HashAPIKey).
type APIKey struct {
	Name        string   `json:"name" yaml:"name"`
	Hash        string   `json:"hash" yaml:"hash"` // "sha256:<64 hex digits>"
	Permissions []string `json:"permissions" yaml:"permissions"`
	Subject     string   `json:"subject,omitempty" yaml:"subject,omitempty"` // default "apikey:"+Name
}

const hashPrefix = "sha256:"

// HashAPIKey returns the form an API key is stored in: "sha256:" and the lower-case hex
// SHA-256 of the key. A plain hash is enough because keys are random (GenerateAPIKey makes
// 256-bit ones); it is not meant for passwords people choose.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// GenerateAPIKey returns a new random key, "kete_" and 43 base64url characters (256 bits).
// It never contains a dot, so FromRequest cannot mistake it for a JWT.
func GenerateAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return "kete_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// APIKeys verifies presented keys against the configured hashes. Safe for concurrent use.
type APIKeys struct {
	keys []apiKeyEntry
}

type apiKeyEntry struct {
	sum         [sha256.Size]byte
	subject     string
	permissions []string
}

// NewAPIKeys checks the configured keys: every key needs a unique name and a hash in the
// form HashAPIKey writes; two keys may not share a hash. All problems are reported at once,
// each naming its key.
func NewAPIKeys(list []APIKey) (*APIKeys, error) {
	k := &APIKeys{}
	var errs []error
	names := map[string]bool{}
	sums := map[[sha256.Size]byte]string{}
	for i, key := range list {
		label := fmt.Sprintf("API key %q", key.Name)
		if strings.TrimSpace(key.Name) == "" {
			label = fmt.Sprintf("API key #%d", i+1)
			errs = append(errs, fmt.Errorf("%s: name is empty", label))
		} else if names[key.Name] {
			errs = append(errs, fmt.Errorf("%s: name is used twice", label))
		}
		names[key.Name] = true
		sum, err := parseKeyHash(key.Hash)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
			continue
		}
		if other, dup := sums[sum]; dup {
			errs = append(errs, fmt.Errorf("%s: has the same hash as API key %q", label, other))
			continue
		}
		sums[sum] = key.Name
		subject := key.Subject
		if subject == "" {
			subject = "apikey:" + key.Name
		}
		k.keys = append(k.keys, apiKeyEntry{sum: sum, subject: subject, permissions: slices.Clone(key.Permissions)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

func parseKeyHash(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(strings.TrimSpace(h), hashPrefix)
	if !ok {
		return sum, fmt.Errorf("hash must start with %q (see HashAPIKey), got %q", hashPrefix, abbreviate(h))
	}
	b, err := hex.DecodeString(hexPart)
	if err != nil || len(b) != sha256.Size {
		return sum, fmt.Errorf("hash must be %q and 64 hex digits, got %q", hashPrefix, abbreviate(h))
	}
	copy(sum[:], b)
	return sum, nil
}

// Len is the number of configured keys; the server skips API keys when it is 0.
func (k *APIKeys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// Verify returns the claims of the configured key that key hashes to. The comparison is
// constant-time and looks at every configured key. Subject is the key's Subject, or
// "apikey:"+Name. The error is always an *Error.
func (k *APIKeys) Verify(key string) (*Claims, error) {
	if key == "" {
		return nil, unauthorized(CodeTokenMissing, "an API key is required")
	}
	sum := sha256.Sum256([]byte(key))
	found := -1
	if k != nil {
		for i := range k.keys {
			if subtle.ConstantTimeCompare(sum[:], k.keys[i].sum[:]) == 1 && found < 0 {
				found = i
			}
		}
	}
	if found < 0 {
		return nil, unauthorized(CodeAPIKeyInvalid, "API key is not valid")
	}
	e := k.keys[found]
	return &Claims{Subject: e.subject, Permissions: slices.Clone(e.permissions)}, nil
}
