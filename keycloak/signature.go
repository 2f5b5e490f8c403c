package keycloak

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// P2SignatureHeader is the header in which p2-inc keycloak-events signs its webhooks.
const P2SignatureHeader = "X-Keycloak-Signature"

// ErrSignatureMismatch is returned (wrapped) when a webhook's signature does not match its body.
var ErrSignatureMismatch = errors.New("keycloak: webhook signature does not match the body")

// VerifyP2Signature checks the X-Keycloak-Signature of a p2-inc keycloak-events webhook.
// p2-inc's HttpSenderEventListenerProvider signs the JSON it posts with HmacSHA256 (its
// default hmacAlgorithm) keyed by the webhook's secret and sends the digest as lower-case
// hex; this accepts either case and an optional "sha256=" prefix. body must be the raw
// request body, unparsed.
func VerifyP2Signature(body []byte, secret, header string) error {
	if secret == "" {
		return errors.New("keycloak: no webhook secret to verify " + P2SignatureHeader + " with")
	}
	sig := strings.TrimSpace(header)
	if sig == "" {
		return fmt.Errorf("keycloak: %s header is missing or empty", P2SignatureHeader)
	}
	if len(sig) > 7 && strings.EqualFold(sig[:7], "sha256=") {
		sig = sig[7:]
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("keycloak: %s header must be %d hex digits of HMAC-SHA256, got %d characters", P2SignatureHeader, 2*sha256.Size, len(sig))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w (%s)", ErrSignatureMismatch, P2SignatureHeader)
	}
	return nil
}

// SignP2 computes the X-Keycloak-Signature p2-inc would send for body, for tests and for
// forwarding a webhook on.
func SignP2(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
