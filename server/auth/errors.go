package auth

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Codes of [Error], stable strings clients may branch on.
const (
	CodeTokenMissing     = "token_missing"       // no token or API key in the request
	CodeTokenMalformed   = "token_malformed"     // not a JWT at all
	CodeTokenExpired     = "token_expired"       // exp has passed (beyond the leeway)
	CodeTokenNotYetValid = "token_not_yet_valid" // nbf or iat lies in the future
	CodeTokenInvalid     = "token_invalid"       // signature, algorithm, key id, issuer, audience or claims
	CodeAPIKeyInvalid    = "apikey_invalid"      // the API key matches no configured key
	CodeKeysUnavailable  = "keys_unavailable"    // the JWKS endpoint could not be read: retry later (503)
	CodeForbidden        = "forbidden"           // authenticated, but not allowed (403)
	CodeSourceForbidden  = "source_denied"       // the source address is denied (403)
)

// Error is why a request was refused. It is safe to show to the client: Reason never echoes
// data taken from the token. Its JSON form is the "error" member of the body WriteHTTP sends.
type Error struct {
	Status int    `json:"-"`       // HTTP status: 401, or 403/503 for the codes that say so
	Code   string `json:"code"`    // one of the Code… constants
	Reason string `json:"message"` // a sentence for humans
}

// Error returns the reason, so that an *Error reads well in logs.
func (e *Error) Error() string { return e.Reason }

// WriteHTTP answers the request with the error: {"error":{"code":…,"message":…}} and the
// status. A 401 also carries a WWW-Authenticate header as RFC 6750 describes.
func (e *Error) WriteHTTP(w http.ResponseWriter) {
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		if e.Code == CodeTokenMissing {
			h.Set("WWW-Authenticate", `Bearer realm="kete"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="kete", error="invalid_token", error_description=`+strconv.Quote(e.Reason))
		}
	}
	body, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e})
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// Forbidden is the error for an authenticated caller who lacks a permission; it exists so
// the server answers 403 in the same shape as every 401.
func Forbidden(reason string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Reason: reason}
}

func unauthorized(code, reason string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Reason: reason}
}
