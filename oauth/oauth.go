// Package oauth provides the OAuth 2.0 access tokens a destination presents in its
// WebSocket handshake: client credentials against any token endpoint ("external" mode),
// or against the attached Keycloak after registering a client there ("internal" mode).
//
// Tokens are cached and fetched again ahead of expiry, KETE's behaviour (30 s early), and
// a destination that gets 401 calls Invalidate so that the next handshake brings a new one.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/kete-dev/kete/internal/redact"
)

// TokenSource is what the WebSocket destination asks for a bearer token.
type TokenSource interface {
	// Token returns an access token, without the "Bearer " prefix.
	Token(ctx context.Context) (string, error)
	// Invalidate drops the cached token, after the server refused it.
	Invalidate()
}

// Defaults for External.
const (
	// DefaultEarlyExpiry is how long before expiry a token is replaced, as KETE does.
	DefaultEarlyExpiry = 30 * time.Second
	// DefaultTimeout bounds one token request.
	DefaultTimeout = 30 * time.Second
	// defaultLifetime applies to a token response without expires_in, as in KETE.
	defaultLifetime = time.Hour
)

// External configures client credentials (RFC 6749 §4.4) against a token endpoint.
type External struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes are sent space-separated in the scope parameter; none sends none.
	Scopes []string
	// HTTPClient carries TLS or mTLS settings for the token server; nil means
	// http.DefaultClient's transport. Its Timeout, when set, also bounds each request.
	HTTPClient *http.Client
	// EarlyExpiry replaces a token this long before it expires (default 30 s), but never
	// before half its lifetime has passed, so that short-lived tokens are still reused.
	EarlyExpiry time.Duration
	// Timeout bounds one token request (default 30 s).
	Timeout time.Duration
	// SecretInBody sends client_id and client_secret in the form (client_secret_post)
	// instead of HTTP Basic (client_secret_basic, KETE's and the default).
	SecretInBody bool
}

// Source is a cached client-credentials TokenSource. It is safe for concurrent use, and
// concurrent callers that find no valid token share one request to the token endpoint.
type Source struct {
	cfg     clientcredentials.Config
	client  *http.Client
	early   time.Duration
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	token    string
	renewAt  time.Time // when the cached token is to be replaced
	inflight *fetch    // the request in progress, if any

	// waiting, when set (by tests), is called as a caller starts waiting on another's fetch.
	waiting func()
}

// fetch is one request to the token endpoint that several callers may wait on.
type fetch struct {
	done    chan struct{}
	token   string
	renewAt time.Time
	err     error
	// abandoned is set when the fetch failed because its caller's ctx ended, so that
	// waiters with time left try again rather than take that caller's error.
	abandoned bool
}

var _ TokenSource = (*Source)(nil)

// NewExternal checks cfg and returns a Source for it. It does not contact the token
// endpoint; the first Token call does.
func NewExternal(cfg External) (*Source, error) {
	var missing []string
	if strings.TrimSpace(cfg.TokenURL) == "" {
		missing = append(missing, "token-url")
	}
	if cfg.ClientID == "" {
		missing = append(missing, "client-id")
	}
	if cfg.ClientSecret == "" {
		missing = append(missing, "client-secret")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("oauth: client credentials need %s", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(cfg.TokenURL, "http://") && !strings.HasPrefix(cfg.TokenURL, "https://") {
		return nil, fmt.Errorf("oauth: token-url %q must be an http:// or https:// URL", redact.URL(cfg.TokenURL))
	}
	if cfg.EarlyExpiry < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("oauth: token source for %s: early expiry and timeout must not be negative", redact.URL(cfg.TokenURL))
	}
	s := &Source{
		cfg: clientcredentials.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL,
			Scopes: cfg.Scopes, AuthStyle: oauth2.AuthStyleInHeader,
		},
		client:  cfg.HTTPClient,
		early:   cfg.EarlyExpiry,
		timeout: cfg.Timeout,
		now:     time.Now,
	}
	if cfg.SecretInBody {
		s.cfg.AuthStyle = oauth2.AuthStyleInParams
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.early == 0 {
		s.early = DefaultEarlyExpiry
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s, nil
}

// TokenURL is the endpoint tokens come from, for logs and errors: secrets in its query
// or user information are masked (redact.URL).
func (s *Source) TokenURL() string { return redact.URL(s.cfg.TokenURL) }

// ClientID is the client the tokens are issued to.
func (s *Source) ClientID() string { return s.cfg.ClientID }

// Token returns the cached access token, or fetches a new one when there is none or it
// is due for renewal. Callers arriving during a fetch wait for it instead of starting
// their own; a caller whose ctx ends stops waiting.
func (s *Source) Token(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		if s.token != "" && s.now().Before(s.renewAt) {
			tok := s.token
			s.mu.Unlock()
			return tok, nil
		}
		f := s.inflight
		if f == nil {
			f = &fetch{done: make(chan struct{})}
			s.inflight = f
			s.mu.Unlock()
			s.run(ctx, f)
			if f.err != nil {
				return "", f.err
			}
			return f.token, nil
		}
		wait := s.waiting
		s.mu.Unlock()
		if wait != nil {
			wait()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", fmt.Errorf("oauth: waiting for a token from %s: %w", s.TokenURL(), ctx.Err())
		}
		if f.err == nil {
			return f.token, nil
		}
		if f.abandoned && ctx.Err() == nil {
			continue
		}
		return "", f.err
	}
}

// run performs f with the caller's ctx, stores the result and wakes the waiters.
func (s *Source) run(ctx context.Context, f *fetch) {
	defer func() {
		s.mu.Lock()
		if f.err == nil {
			s.token, s.renewAt = f.token, f.renewAt
		}
		s.inflight = nil
		s.mu.Unlock()
		close(f.done)
	}()
	f.err = errors.New("oauth: token fetch did not finish") // replaced unless fetch panics
	f.token, f.renewAt, f.err = s.fetch(ctx)
	f.abandoned = f.err != nil && ctx.Err() != nil
}

func (s *Source) fetch(ctx context.Context) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// Record the status of the answer, so that an error names it even when x/oauth2's
	// does not (a 200 whose body is not a token).
	rec := &statusRecorder{base: s.client.Transport}
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	client := *s.client
	client.Transport = rec
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &client)
	tok, err := s.cfg.Token(ctx)
	if err != nil {
		return "", time.Time{}, s.describe(err, rec.status())
	}
	if tok.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("oauth: token endpoint %s for client %q: %s without an access_token", s.TokenURL(), s.cfg.ClientID, rec.status())
	}
	if t := tok.Type(); !strings.EqualFold(t, "Bearer") {
		return "", time.Time{}, fmt.Errorf("oauth: token endpoint %s for client %q issued a %q token, want Bearer", s.TokenURL(), s.cfg.ClientID, t)
	}
	lifetime := lifetimeOf(tok)
	if lifetime <= 0 {
		lifetime = defaultLifetime
	}
	early := min(s.early, lifetime/2)
	return tok.AccessToken, s.now().Add(lifetime - early), nil
}

// lifetimeOf reads expires_in from the token response; clientcredentials keeps only the
// Expiry it computed from it, with the real clock.
func lifetimeOf(tok *oauth2.Token) time.Duration {
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		return time.Duration(v * float64(time.Second))
	case string:
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(n * float64(time.Second))
		}
	}
	if !tok.Expiry.IsZero() {
		return time.Until(tok.Expiry)
	}
	return 0
}

// statusRecorder remembers the status line of the last response it carried.
type statusRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	last string
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if resp != nil {
		r.mu.Lock()
		r.last = resp.Status
		r.mu.Unlock()
	}
	return resp, err
}

func (r *statusRecorder) status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == "" {
		return "no answer"
	}
	return r.last
}

// tokenError names the token URL, the client, the status and the OAuth error code, and
// unwraps to x/oauth2's error (a *oauth2.RetrieveError for an error answer).
type tokenError struct {
	msg string
	err error
}

func (e *tokenError) Error() string { return e.msg }
func (e *tokenError) Unwrap() error { return e.err }

func (s *Source) describe(err error, status string) error {
	// x/oauth2 and net/http put the token URL, query and all, in their errors.
	err = redact.Error(err)
	prefix := fmt.Sprintf("oauth: token endpoint %s for client %q", s.TokenURL(), s.cfg.ClientID)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			status = re.Response.Status
		}
		switch {
		case re.ErrorCode != "" && re.ErrorDescription != "":
			return &tokenError{fmt.Sprintf("%s: %s: %s (%s)", prefix, status, re.ErrorCode, re.ErrorDescription), err}
		case re.ErrorCode != "":
			return &tokenError{fmt.Sprintf("%s: %s: %s", prefix, status, re.ErrorCode), err}
		}
		body := redact.Text(strings.TrimSpace(string(re.Body)))
		if len(body) > 200 {
			body = body[:200] + "…"
		}
		return &tokenError{fmt.Sprintf("%s: %s: %q", prefix, status, body), err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return &tokenError{fmt.Sprintf("%s: %s: %v", prefix, status, err), err}
}

// Invalidate drops the cached token, so the next Token call fetches a new one. A fetch
// already in progress still completes and its (new) token is kept.
func (s *Source) Invalidate() {
	s.mu.Lock()
	s.token, s.renewAt = "", time.Time{}
	s.mu.Unlock()
}
