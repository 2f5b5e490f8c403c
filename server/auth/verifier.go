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
// jwksUri. It starts nothing: for jwks, Start begins the background fetch of the key set
// (without it, the keys are fetched when a token first needs them).
func NewVerifier(k Key, o Options) (*Verifier, error) {
	if err := checkAlgorithmNames(k.Algorithms); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	v := &Verifier{
		issuers:  slices.Clone(k.Issuer),
		audience: slices.Clone(k.Audience),
		noExpiry: o.AllowNoExpiry,
	}
	var err error
	switch source := keySource(k); source {
	case SourceRaw:
		v.static, v.algs, err = rawKey(k)
	case SourceJWKS:
		v.jwks, v.algs, err = jwksKey(k, o)
	default:
		err = fmt.Errorf("source %q is not supported (want %q with key, or %q with jwksUri)", k.Source, SourceRaw, SourceJWKS)
	}
	if err != nil {
		return nil, err
	}
	v.parser = newParser(v.algs, v.audience, o)
	return v, nil
}

// keySource is k's source, or the one its fields imply when it names none.
func keySource(k Key) string {
	source := strings.ToLower(strings.TrimSpace(k.Source))
	if source == "" {
		switch {
		case k.JWKSURI != "" && strings.TrimSpace(k.Key) == "":
			source = SourceJWKS
		case k.JWKSURI == "" && strings.TrimSpace(k.Key) != "":
			source = SourceRaw
		}
	}
	return source
}

// rawKey reads a raw key: a PEM public key, or an HMAC secret; and the algorithms it takes.
func rawKey(k Key) (key any, algs []string, err error) {
	if k.JWKSURI != "" {
		return nil, nil, fmt.Errorf("source %q takes key, not jwksUri %q", SourceRaw, k.JWKSURI)
	}
	if !looksLikePEM(k.Key) {
		return hmacSecret(k.Key, k.Algorithms)
	}
	pub, err := parsePublicKeyPEM(k.Key)
	if err != nil {
		return nil, nil, err
	}
	if algs, err = publicKeyAlgorithms(pub, k.Algorithms); err != nil {
		return nil, nil, err
	}
	return pub, algs, nil
}

// jwksKey checks a jwks key and builds its (not yet started) cache.
func jwksKey(k Key, o Options) (*jwksCache, []string, error) {
	if strings.TrimSpace(k.Key) != "" {
		return nil, nil, fmt.Errorf("source %q takes jwksUri, not key", SourceJWKS)
	}
	u, err := url.Parse(k.JWKSURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, fmt.Errorf("jwksUri %q is not an http(s) URL", k.JWKSURI)
	}
	for _, alg := range k.Algorithms {
		if fam, _ := algorithmFamily(alg); fam == familyHMAC {
			return nil, nil, fmt.Errorf("algorithm %q cannot be used with a JWKS: only asymmetric keys are taken from a key set", alg)
		}
	}
	algs := slices.Clone(k.Algorithms)
	if len(algs) == 0 {
		algs = asymmetricAlgorithms()
	}
	return newJWKSCache(k.JWKSURI, o.jwksSettings()), algs, nil
}

// withDefaults returns o with its zero fields set to the documented defaults; a
// negative Leeway or JWKSMinRefreshInterval (none) becomes 0.
func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	o.Leeway = zeroMeansOrNone(o.Leeway, 30*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.JWKSRefreshInterval <= 0 {
		o.JWKSRefreshInterval = time.Hour
	}
	o.JWKSMinRefreshInterval = zeroMeansOrNone(o.JWKSMinRefreshInterval, time.Minute)
	if o.JWKSRetryInterval <= 0 {
		o.JWKSRetryInterval = time.Second
	}
	if o.JWKSFetchTimeout <= 0 {
		o.JWKSFetchTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// zeroMeansOrNone reads a duration whose zero means def and whose negative means none.
func zeroMeansOrNone(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// jwksSettings are o's JWKS fields (o has its defaults).
func (o Options) jwksSettings() jwksSettings {
	return jwksSettings{client: o.HTTPClient, every: o.JWKSRefreshInterval, minInterval: o.JWKSMinRefreshInterval,
		fetchTimeout: o.JWKSFetchTimeout, firstRetry: o.JWKSRetryInterval, logger: o.Logger}
}

// newParser is the token parser for algs and audience under o's rules (o has its
// defaults).
func newParser(algs, audience []string, o Options) *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithLeeway(o.Leeway),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	opts = append(opts, jwt.WithTimeFunc(o.Now))
	if !o.AllowNoExpiry {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if len(audience) > 0 {
		opts = append(opts, jwt.WithAudience(audience...))
	}
	return jwt.NewParser(opts...)
}

// Algorithms returns the algorithms this Verifier accepts.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Start begins a jwks Verifier's background work: it fetches the key set at once, retries
// until that works (the identity provider may start after us), then refreshes it every
// Options.JWKSRefreshInterval, until ctx ends or Close. It does not wait for the fetch (a
// failure is logged, not returned; tokens get 503 keys_unavailable until keys arrive). A
// raw key has nothing to start; a second Start, or one after Close, does nothing.
func (v *Verifier) Start(ctx context.Context) {
	if v.jwks != nil {
		v.jwks.start(ctx)
	}
}

// Close stops the JWKS refresh goroutine and waits for it; a raw key has nothing to stop.
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
