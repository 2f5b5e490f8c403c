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
type jwksCache struct {
	uri         string
	client      *http.Client
	minInterval time.Duration
	logger      *slog.Logger

	keys atomic.Pointer[keySet] // nil until the first successful fetch

	mu          sync.Mutex // one fetch at a time; guards lastAttempt
	lastAttempt time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

type keySet struct {
	kf keyfunc.Keyfunc
	n  int // usable keys
}

func newJWKSCache(ctx context.Context, uri string, client *http.Client, every, minInterval time.Duration, logger *slog.Logger) *jwksCache {
	ctx, cancel := context.WithCancel(ctx)
	c := &jwksCache{uri: uri, client: client, minInterval: minInterval, logger: logger, cancel: cancel, done: make(chan struct{})}
	c.mu.Lock()
	if err := c.fetchLocked(ctx); err != nil {
		// Not fatal: the identity provider may come up after us. Tokens are refused with
		// keys_unavailable until a fetch works.
		c.logger.Warn("auth: first JWKS fetch failed; will retry", "jwksUri", uri, "error", err)
	}
	c.mu.Unlock()
	go c.refreshLoop(ctx, every)
	return c
}

func (c *jwksCache) refreshLoop(ctx context.Context, every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.mu.Lock()
			err := c.fetchLocked(ctx)
			c.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				c.logger.Warn("auth: JWKS refresh failed; keeping the previous keys", "jwksUri", c.uri, "error", err)
			}
		}
	}
}

func (c *jwksCache) close() {
	c.cancel()
	<-c.done
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
