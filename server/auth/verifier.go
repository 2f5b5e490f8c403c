package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenBytes bounds the token text; real access tokens stay well below it.
const maxTokenBytes = 32 << 10

// Options tune a Verifier. The zero value works.
type Options struct {
	// HTTPClient fetches the JWKS. Default: a client with a 10s timeout. Give one with a
	// tlsconfig.Client transport for a private CA or mTLS.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed on exp, nbf and iat. 0 means 30s; negative means none.
	Leeway time.Duration
	// Now is the clock tokens are checked against. Default time.Now.
	Now func() time.Time
	// AllowNoExpiry accepts tokens without exp. Off by default: a token without exp is valid
	// forever, and Realtime tokens always carry one.
	AllowNoExpiry bool
	// JWKSRefreshInterval is how often the JWKS is fetched again. Default 1h.
	JWKSRefreshInterval time.Duration
	// JWKSMinRefreshInterval is the least time between two fetches caused by tokens with an
	// unknown kid; such a token arriving sooner is refused at once. 0 means 1m; negative
	// means no limit (tests).
	JWKSMinRefreshInterval time.Duration
	// JWKSRetryInterval is the first wait before fetching again while no JWKS fetch has
	// worked yet; it doubles up to 30s (or to itself, when longer). Default 1s.
	JWKSRetryInterval time.Duration
	// JWKSFetchTimeout bounds one JWKS fetch, connection and body included, whatever
	// HTTPClient's own timeout. Default 10s.
	JWKSFetchTimeout time.Duration
	// Logger reports JWKS fetch failures. Default slog.Default().
	Logger *slog.Logger
}

// Verifier checks tokens against one Key. It is safe for concurrent use.
type Verifier struct {
	algs     []string
	issuers  []string
	audience []string
	static   any        // the raw key: a public key or an HMAC secret
	jwks     *jwksCache // when the source is jwks
	parser   *jwt.Parser
	noExpiry bool
}

// Claims is what the server learns from a valid token or API key.
type Claims struct {
	Subject     string
	Permissions []string  // from permissions, else scp, else scope
	ExpiresAt   time.Time // zero = none
	Issuer      string
	ID          string   // jti
	Audience    []string // aud
	IssuedAt    time.Time
}

// NewVerifier validates the key configuration and returns a Verifier for it: the PEM must
// parse, every algorithm must fit the key type (an HS* algorithm with a PEM key is an
// error, which blocks the "HS256 signed with the RSA public key" attack), and jwks needs
// jwksUri. For jwks it starts a goroutine, running until ctx ends or Close is called, that
// fetches the key set at once and then keeps it fresh; NewVerifier does not wait for it (a
// failure is logged, not returned: the identity provider may start after us, or hang), and
// tokens get 503 keys_unavailable until keys arrive.
func NewVerifier(ctx context.Context, k Key, o Options) (*Verifier, error) {
	if err := checkAlgorithmNames(k.Algorithms); err != nil {
		return nil, err
	}
	v := &Verifier{
		issuers:  slices.Clone(k.Issuer),
		audience: slices.Clone(k.Audience),
		noExpiry: o.AllowNoExpiry,
	}
	source := strings.ToLower(strings.TrimSpace(k.Source))
	if source == "" {
		switch {
		case k.JWKSURI != "" && strings.TrimSpace(k.Key) == "":
			source = SourceJWKS
		case k.JWKSURI == "" && strings.TrimSpace(k.Key) != "":
			source = SourceRaw
		}
	}
	switch source {
	case SourceRaw:
		if k.JWKSURI != "" {
			return nil, fmt.Errorf("source %q takes key, not jwksUri %q", SourceRaw, k.JWKSURI)
		}
		if looksLikePEM(k.Key) {
			pub, err := parsePublicKeyPEM(k.Key)
			if err != nil {
				return nil, err
			}
			algs, err := publicKeyAlgorithms(pub, k.Algorithms)
			if err != nil {
				return nil, err
			}
			v.static, v.algs = pub, algs
		} else {
			secret, algs, err := hmacSecret(k.Key, k.Algorithms)
			if err != nil {
				return nil, err
			}
			v.static, v.algs = secret, algs
		}
	case SourceJWKS:
		if strings.TrimSpace(k.Key) != "" {
			return nil, fmt.Errorf("source %q takes jwksUri, not key", SourceJWKS)
		}
		u, err := url.Parse(k.JWKSURI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("jwksUri %q is not an http(s) URL", k.JWKSURI)
		}
		for _, alg := range k.Algorithms {
			if fam, _ := algorithmFamily(alg); fam == familyHMAC {
				return nil, fmt.Errorf("algorithm %q cannot be used with a JWKS: only asymmetric keys are taken from a key set", alg)
			}
		}
		v.algs = slices.Clone(k.Algorithms)
		if len(v.algs) == 0 {
			v.algs = asymmetricAlgorithms()
		}
		client := o.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		every := o.JWKSRefreshInterval
		if every <= 0 {
			every = time.Hour
		}
		minInterval := o.JWKSMinRefreshInterval
		switch {
		case minInterval == 0:
			minInterval = time.Minute
		case minInterval < 0:
			minInterval = 0
		}
		logger := o.Logger
		if logger == nil {
			logger = slog.Default()
		}
		fetchTimeout := o.JWKSFetchTimeout
		if fetchTimeout <= 0 {
			fetchTimeout = 10 * time.Second
		}
		retry := o.JWKSRetryInterval
		if retry <= 0 {
			retry = time.Second
		}
		v.jwks = newJWKSCache(ctx, k.JWKSURI, client, every, minInterval, fetchTimeout, retry, logger)
	default:
		return nil, fmt.Errorf("source %q is not supported (want %q with key, or %q with jwksUri)", k.Source, SourceRaw, SourceJWKS)
	}

	leeway := o.Leeway
	switch {
	case leeway == 0:
		leeway = 30 * time.Second
	case leeway < 0:
		leeway = 0
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithLeeway(leeway),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	if o.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(o.Now))
	}
	if !o.AllowNoExpiry {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if len(v.audience) > 0 {
		opts = append(opts, jwt.WithAudience(v.audience...))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Algorithms returns the algorithms this Verifier accepts.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Close stops the JWKS refresh goroutine and waits for it; a raw key has nothing to stop.
// Cancelling NewVerifier's ctx stops it too.
func (v *Verifier) Close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

// Verify checks token and returns its claims. The error is always an *Error.
func (v *Verifier) Verify(token string) (*Claims, error) {
	return v.VerifyContext(context.Background(), token)
}

// VerifyContext is Verify with a ctx that bounds a JWKS fetch caused by an unknown kid.
func (v *Verifier) VerifyContext(ctx context.Context, token string) (*Claims, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, unauthorized(CodeTokenMissing, "an access token is required")
	}
	if len(token) > maxTokenBytes {
		return nil, unauthorized(CodeTokenMalformed, fmt.Sprintf("token is longer than %d bytes", maxTokenBytes))
	}
	var tc tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		if v.jwks != nil {
			return v.jwks.key(ctx, t)
		}
		return v.static, nil
	})
	if err != nil {
		return nil, v.classify(parsed, &tc, err)
	}
	if len(v.issuers) > 0 && !slices.Contains(v.issuers, tc.Issuer) {
		if tc.Issuer == "" {
			return nil, unauthorized(CodeTokenInvalid, "token has no issuer (iss claim)")
		}
		return nil, unauthorized(CodeTokenInvalid, "token issuer is not accepted")
	}
	perms, err := tc.permissions()
	if err != nil {
		return nil, unauthorized(CodeTokenInvalid, err.Error())
	}
	c := &Claims{
		Subject:     tc.Subject,
		Permissions: perms,
		Issuer:      tc.Issuer,
		ID:          tc.ID,
		Audience:    []string(tc.Audience),
	}
	if tc.ExpiresAt != nil {
		c.ExpiresAt = tc.ExpiresAt.Time
	}
	if tc.IssuedAt != nil {
		c.IssuedAt = tc.IssuedAt.Time
	}
	return c, nil
}

// classify turns a jwt error into an *Error whose reason helps the caller without echoing
// what the token said.
func (v *Verifier) classify(t *jwt.Token, tc *tokenClaims, err error) *Error {
	switch {
	case errors.Is(err, errKeysUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeKeysUnavailable, Reason: "signing keys are unavailable; try again later"}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized(CodeTokenMalformed, "token is not a well-formed JWT")
	case errors.Is(err, errUnknownKID):
		return unauthorized(CodeTokenInvalid, "token key id (kid) is unknown")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthorized(CodeTokenInvalid, "token could not be verified")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t != nil && t.Method != nil && !slices.Contains(v.algs, t.Method.Alg()) {
			return unauthorized(CodeTokenInvalid, "token algorithm is not accepted (accepted: "+strings.Join(v.algs, ", ")+")")
		}
		return unauthorized(CodeTokenInvalid, "token signature is invalid")
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized(CodeTokenExpired, "token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthorized(CodeTokenNotYetValid, "token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthorized(CodeTokenNotYetValid, "token is issued in the future (iat)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthorized(CodeTokenInvalid, "token audience is not accepted")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if tc.ExpiresAt == nil && !v.noExpiry {
			return unauthorized(CodeTokenInvalid, "token has no expiry (exp claim)")
		}
		return unauthorized(CodeTokenInvalid, "token has no audience (aud claim)")
	}
	return unauthorized(CodeTokenInvalid, "token claims are invalid")
}

// tokenClaims is the payload the parser decodes into.
type tokenClaims struct {
	jwt.RegisteredClaims
	PermissionsClaim json.RawMessage `json:"permissions"`
	SCP              json.RawMessage `json:"scp"`
	Scope            json.RawMessage `json:"scope"`
}

// permissions reads the first of permissions, scp and scope that is present. Each may be a
// list of strings or one space-separated string.
func (tc *tokenClaims) permissions() ([]string, error) {
	for _, c := range []struct {
		name string
		raw  json.RawMessage
	}{{"permissions", tc.PermissionsClaim}, {"scp", tc.SCP}, {"scope", tc.Scope}} {
		if len(c.raw) == 0 || string(c.raw) == "null" {
			continue
		}
		return parsePermissionClaim(c.name, c.raw)
	}
	return nil, nil
}

func parsePermissionClaim(name string, raw json.RawMessage) ([]string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.Fields(s), nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("token claim %q must be a list of strings or a space-separated string", name)
	}
	out := list[:0]
	for _, p := range list {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}
