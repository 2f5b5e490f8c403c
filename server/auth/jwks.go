package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// maxJWKSBytes bounds the JWKS document read from the endpoint.
const maxJWKSBytes = 1 << 20

var (
	errUnknownKID      = errors.New("token key id is not in the key set")
	errKeysUnavailable = errors.New("signing keys are unavailable")
)

// jwksCache keeps the signing keys of one JWKS endpoint.
//
// It does the fetching itself, instead of keyfunc's HTTP storage, because that storage makes
// a token with an unknown kid wait up to a minute on its rate limiter: here such a token is
// refused at once when a fetch happened less than minInterval ago, concurrent unknown kids
// share one fetch, and the refresh goroutine is stopped and waited for by close. Keys are
// parsed with jwkset and looked up with keyfunc (kid, and the JWK's alg against the token's).
//
// No fetch ever holds up the caller of NewVerifier or Start, a reload or a shutdown: the
// first fetch runs in the background (from Verifier.Start; without it, the first token
// fetches), every fetch is bounded by fetchTimeout (whatever the HTTP client's
// own timeout), and while there are no keys at all a token is refused with
// keys_unavailable after waiting at most keysWait for the fetch in flight, rather than
// queued behind a fetch that may never answer. Until the first fetch works it is retried
// with backoff (JWKSRetryInterval, 1s, doubling to 30s), then refreshed every refresh
// interval.
type jwksCache struct {
	uri string
	jwksSettings

	keys     atomic.Pointer[keySet]        // nil until the first successful fetch
	inflight atomic.Pointer[chan struct{}] // while a fetch runs: closed when it ends

	mu          sync.Mutex // one fetch at a time; guards lastAttempt
	lastAttempt time.Time

	runMu     sync.Mutex         // guards cancel, done and stopped
	cancel    context.CancelFunc // nil until start
	done      chan struct{}      // closed when refreshLoop returns; nil until start
	stopped   bool               // closed: start does nothing
	attempted chan struct{}      // closed when the first background fetch has ended (tests)
}

// jwksSettings are the Options a jwksCache works by, defaults applied.
type jwksSettings struct {
	client       *http.Client
	every        time.Duration // refresh interval
	minInterval  time.Duration
	fetchTimeout time.Duration
	firstRetry   time.Duration
	logger       *slog.Logger
}

const (
	// maxRetry bounds the background retry's backoff while no keys were ever fetched.
	maxRetry = 30 * time.Second
	// keysWait is the longest a token waits for a fetch in flight while there are no keys
	// at all: long enough for a healthy endpoint right after start, short enough that a
	// hanging one costs a client a second, not a fetch timeout.
	keysWait = time.Second
)

type keySet struct {
	kf keyfunc.Keyfunc
	n  int // usable keys
}

func newJWKSCache(uri string, st jwksSettings) *jwksCache {
	return &jwksCache{uri: uri, jwksSettings: st, attempted: make(chan struct{})}
}

// start runs refreshLoop until ctx ends or close; only the first call does.
func (c *jwksCache) start(ctx context.Context) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.stopped || c.done != nil {
		return
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go c.refreshLoop(ctx, c.every)
}

// refreshLoop fetches the keys at once, retries with backoff until a fetch works (the
// identity provider may come up after us), then refreshes every interval.
func (c *jwksCache) refreshLoop(ctx context.Context, every time.Duration) {
	defer close(c.done)
	first := true
	retry := c.firstRetry
	wait := time.Duration(0)
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		c.mu.Lock()
		var err error
		if !first || c.keys.Load() == nil { // a token may have fetched first
			err = c.fetchLocked(ctx)
		}
		c.mu.Unlock()
		if first {
			first = false
			close(c.attempted)
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && c.keys.Load() != nil:
			wait, retry = every, c.firstRetry
		case c.keys.Load() == nil:
			c.logger.Warn("auth: JWKS fetch failed; tokens get keys_unavailable until it works", "jwksUri", c.uri, "retryIn", retry, "error", err)
			wait, retry = retry, max(min(2*retry, maxRetry), retry)
		default:
			c.logger.Warn("auth: JWKS refresh failed; keeping the previous keys", "jwksUri", c.uri, "error", err)
			wait = every
		}
	}
}

func (c *jwksCache) close() {
	c.runMu.Lock()
	c.stopped = true
	cancel, done := c.cancel, c.done
	c.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// key is the jwt.Keyfunc for tokens checked against this key set.
func (c *jwksCache) key(ctx context.Context, t *jwt.Token) (any, error) {
	seen := c.keys.Load()
	if seen != nil {
		k, err := seen.kf.Keyfunc(t)
		if !errors.Is(err, jwkset.ErrKeyNotFound) {
			return k, err
		}
	}
	// Unknown kid, or no keys yet: the set may have rotated. Fetch again unless that
	// happened too recently.
	if err := c.refetch(ctx, seen); err != nil {
		return nil, err
	}
	cur := c.keys.Load()
	if cur == nil {
		return nil, errKeysUnavailable
	}
	k, err := cur.kf.Keyfunc(t)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		return nil, errUnknownKID
	}
	return k, err
}

// refetch fetches the key set again if it is still the one the caller saw and the last
// attempt is at least minInterval old. Callers that queue behind a fetch reuse its result.
func (c *jwksCache) refetch(ctx context.Context, seen *keySet) error {
	if p := c.inflight.Load(); seen == nil && p != nil {
		// No keys, and the fetch that may bring them is under way (perhaps to an endpoint
		// that never answers): wait for it a little, not for its whole timeout.
		t := time.NewTimer(keysWait)
		select {
		case <-*p:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		if c.keys.Load() == nil {
			return errKeysUnavailable
		}
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.keys.Load(); cur != seen {
		return nil // someone else fetched meanwhile: look again
	}
	if !c.lastAttempt.IsZero() && time.Since(c.lastAttempt) < c.minInterval {
		if seen == nil {
			return errKeysUnavailable
		}
		return errUnknownKID
	}
	if err := c.fetchLocked(ctx); err != nil {
		c.logger.Warn("auth: JWKS fetch for an unknown key id failed", "jwksUri", c.uri, "error", err)
		if seen == nil {
			return errKeysUnavailable
		}
		return errUnknownKID
	}
	return nil
}

// fetchLocked reads the key set and, when it parses, replaces the current one. c.mu is held.
func (c *jwksCache) fetchLocked(ctx context.Context) error {
	c.lastAttempt = time.Now()
	done := make(chan struct{})
	c.inflight.Store(&done)
	defer func() { c.inflight.Store(nil); close(done) }()
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.uri, nil)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", c.uri, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", c.uri, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks %s: HTTP status %d", c.uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("jwks %s: %w", c.uri, err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("jwks %s: document is larger than %d bytes", c.uri, maxJWKSBytes)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("jwks %s: not a JWK Set: %w", c.uri, err)
	}
	store := jwkset.NewMemoryStorage()
	n := 0
	for i, m := range set.Keys {
		if m.USE == jwkset.UseEnc || m.KTY == jwkset.KtyOct {
			continue // encryption keys and shared secrets never verify tokens here
		}
		// Private: false keeps only the public half should the endpoint leak a private key.
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			c.logger.Warn("auth: skipping a JWK that does not parse", "jwksUri", c.uri, "index", i, "kid", m.KID, "error", err)
			continue
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			return fmt.Errorf("jwks %s: %w", c.uri, err)
		}
		n++
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: context.Background(), Storage: store})
	if err != nil {
		return fmt.Errorf("jwks %s: %w", c.uri, err)
	}
	c.keys.Store(&keySet{kf: kf, n: n})
	return nil
}
