package keycloaktest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kete-dev/kete/keycloak"
)

// writeJSON answers as Keycloak's JAX-RS resources do: JSON, null members left out.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// oauthError is RFC 6749 §5.2's error response, as Keycloak's token endpoint sends it.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// handleToken mirrors the OpenID Connect token endpoint, POST
// /realms/{realm}/protocol/openid-connect/token (Keycloak "Securing applications: OIDC
// endpoints", https://www.keycloak.org/securing-apps/oidc-layers#_oidc-endpoints), for the
// client_credentials grant (client_secret_basic or client_secret_post) and the password
// grant (Resource Owner Password Credentials, used with admin-cli). Errors use Keycloak's
// codes and statuses: 401 invalid_client for bad client credentials, 401
// unauthorized_client for a client without a service account, 401 invalid_grant for bad
// user credentials, 400 unsupported_grant_type, and 400 invalid_scope "Invalid scopes: …"
// for a requested scope that is not one of the client's default or optional client
// scopes (OAuth2GrantTypeBase.getRequestedScopes with TokenManager.isValidScope). The
// scope claim holds the client's default scopes and the requested optional ones.
//
// Simplified: no roles claims, no dynamic scopes.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rl := s.realms[r.PathValue("realm")]
	if rl == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
		return
	}
	rl.tokenCalls++
	if s.writeFault(w) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid form body")
		return
	}
	clientID, secret := clientCredentials(r)
	grant := r.PostForm.Get("grant_type")
	if grant == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing form parameter: grant_type")
		return
	}
	c := rl.client(clientID)
	if c == nil || !c.Enabled || (!c.PublicClient && (secret == "" || secret != c.Secret)) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials")
		return
	}
	who, ok := authenticateGrant(w, r, rl, c, grant)
	if !ok {
		return
	}
	requested := r.PostForm.Get("scope")
	if !isValidScope(c, requested) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid scopes: "+requested)
		return
	}
	s.issueToken(w, rl, c, who, grantedScope(rl, c, requested))
}

// writeFault answers with the next queued fault, if any, and reports whether it did.
func (s *Server) writeFault(w http.ResponseWriter) bool {
	if len(s.faults) == 0 {
		return false
	}
	f := &s.faults[0]
	f.left--
	status, body := f.status, f.body
	if f.left <= 0 {
		s.faults = s.faults[1:]
	}
	if json.Valid([]byte(body)) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return true
}

// clientCredentials reads the client's id and secret from HTTP Basic auth
// (client_secret_basic) or else from the form (client_secret_post).
func clientCredentials(r *http.Request) (clientID, secret string) {
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	// RFC 6749 §2.3.1: client_secret_basic form-encodes id and secret; Keycloak decodes.
	if v, err := url.QueryUnescape(clientID); err == nil {
		clientID = v
	}
	if v, err := url.QueryUnescape(secret); err == nil {
		secret = v
	}
	return clientID, secret
}

// subject is whom a token is issued to.
type subject struct {
	sub, username string
	session       string // the password grant's user session; blank for a service account
}

// authenticateGrant checks the grant against client c: client_credentials needs a
// confidential client with a service account, password needs direct access grants and a
// user's credentials. On a refusal it has answered with Keycloak's error and reports false.
func authenticateGrant(w http.ResponseWriter, r *http.Request, rl *realm, c *Client, grant string) (subject, bool) {
	switch grant {
	case "client_credentials":
		if c.PublicClient {
			oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Public client not allowed to retrieve service account")
			return subject{}, false
		}
		if !c.ServiceAccountsEnabled {
			oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Client not enabled to retrieve service account")
			return subject{}, false
		}
		return subject{sub: c.ServiceAccountUserID, username: "service-account-" + strings.ToLower(c.ClientID)}, true
	case "password":
		if !c.DirectAccessGrantsEnabled {
			oauthError(w, http.StatusBadRequest, "unauthorized_client", "Client not allowed for direct access grants")
			return subject{}, false
		}
		var u *user
		for _, cand := range rl.users {
			if strings.EqualFold(cand.username, r.PostForm.Get("username")) && cand.password == r.PostForm.Get("password") {
				u = cand
			}
		}
		if u == nil {
			oauthError(w, http.StatusUnauthorized, "invalid_grant", "Invalid user credentials")
			return subject{}, false
		}
		return subject{sub: u.id, username: strings.ToLower(u.username), session: newUUID()}, true
	}
	oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type")
	return subject{}, false
}

// issueToken signs an access token for who and answers with Keycloak's token response;
// a password grant's answer also carries a refresh token and the session.
func (s *Server) issueToken(w http.ResponseWriter, rl *realm, c *Client, who subject, scope string) {
	now := time.Now()
	jti := newUUID()
	claims := map[string]any{
		"exp":                now.Add(s.lifetime).Unix(),
		"iat":                now.Unix(),
		"jti":                jti,
		"iss":                keycloak.IssuerURL(s.URL, rl.name),
		"aud":                "account",
		"sub":                who.sub,
		"typ":                "Bearer",
		"azp":                c.ClientID,
		"scope":              scope,
		"preferred_username": who.username,
	}
	if who.session != "" {
		claims["sid"] = who.session
	} else {
		claims["client_id"] = c.ClientID
	}
	tok, err := s.sign(claims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	s.issued[jti] = now
	resp := map[string]any{
		"access_token":       tok,
		"expires_in":         int64(s.lifetime / time.Second),
		"refresh_expires_in": 0,
		"token_type":         "Bearer",
		"not-before-policy":  0,
		"scope":              scope,
	}
	if who.session != "" {
		resp["refresh_token"] = randomHex(32)
		resp["refresh_expires_in"] = 1800
		resp["session_state"] = who.session
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleCerts mirrors the realm's JWKS endpoint, GET
// /realms/{realm}/protocol/openid-connect/certs: the RS256 signing key with its kid.
// Simplified: one key shared by all realms, no x5c certificate chain.
func (s *Server) handleCerts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ok := s.realms[r.PathValue("realm")] != nil
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
		return
	}
	pub := s.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kid": s.kid, "kty": "RSA", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// handleDiscovery mirrors /realms/{realm}/.well-known/openid-configuration, with the
// members kete and JWT libraries read.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("realm")
	s.mu.Lock()
	ok := s.realms[name] != nil
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                keycloak.IssuerURL(s.URL, name),
		"token_endpoint":                        keycloak.TokenURL(s.URL, name),
		"jwks_uri":                              keycloak.JWKSURL(s.URL, name),
		"grant_types_supported":                 []string{"client_credentials", "password"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

// sign makes a compact RS256 JWS of claims with the server's key id.
func (s *Server) sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

type tokenClaims struct {
	Exp int64  `json:"exp"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Jti string `json:"jti"`
}

// verify checks a bearer token as Keycloak's admin API does: our signature, not expired
// (exp is whole seconds, valid through that second), not revoked. Caller holds s.mu.
func (s *Server) verify(tok string) (tokenClaims, error) {
	var c tokenClaims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWS")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return c, err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, err
	}
	if time.Now().Unix() > c.Exp {
		return c, errors.New("expired")
	}
	if s.revoked[c.Jti] {
		return c, errors.New("revoked")
	}
	return c, nil
}
