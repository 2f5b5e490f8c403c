package auth

import (
	"net/http"
	"strings"
)

// Credentials are what a request presents. The server tries Token first, then APIKey.
type Credentials struct {
	Token    string // a JWT
	APIKey   string // a key for APIKeys
	Username string // from Basic auth or ?username=; informational, APIKeys does not check it
}

// Empty reports whether the request presented nothing to check.
func (c Credentials) Empty() bool { return c.Token == "" && c.APIKey == "" }

// FromRequest finds credentials in a request. Headers come before the query string, which
// exists for browser WebSocket clients that cannot set headers.
//
// Token, first found: "Authorization: Bearer <jwt>"; "Authorization: Basic" whose password
// has exactly two dots (a JWT, as Drogue's "username + token" form); ?access_token=
// (Realtime clients); ?token= (Drogue).
//
// APIKey, first found: "X-API-Key: <key>"; "Authorization: Basic" whose password is not
// JWT-shaped (username + key, Drogue style); ?api_key=. API keys therefore must not contain
// two dots; GenerateAPIKey's never do.
//
// Username: the Basic user name, else ?username=.
func FromRequest(r *http.Request) Credentials {
	var c Credentials
	if auth := strings.TrimSpace(r.Header.Get("Authorization")); auth != "" {
		scheme, rest, _ := strings.Cut(auth, " ")
		rest = strings.TrimSpace(rest)
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			c.Token = rest
		case strings.EqualFold(scheme, "Basic"):
			if user, pass, ok := r.BasicAuth(); ok {
				c.Username = user
				if looksLikeJWT(pass) {
					c.Token = pass
				} else {
					c.APIKey = pass
				}
			}
		}
	}
	if c.APIKey == "" {
		c.APIKey = strings.TrimSpace(r.Header.Get("X-API-Key"))
	}
	if c.Token == "" || c.APIKey == "" || c.Username == "" {
		q := r.URL.Query()
		if c.Token == "" {
			c.Token = firstNonEmpty(q.Get("access_token"), q.Get("token"))
		}
		if c.APIKey == "" {
			c.APIKey = q.Get("api_key")
		}
		if c.Username == "" {
			c.Username = q.Get("username")
		}
	}
	return c
}

// looksLikeJWT is true for the compact JWS shape: three parts separated by two dots.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
