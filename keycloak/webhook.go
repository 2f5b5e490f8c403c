package keycloak

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kete-dev/kete"
)

// Sink takes decoded events and returns once they are durable; the daemon's pipeline is
// one. The source names where they came from, for metrics.
type Sink interface {
	Ingest(ctx context.Context, source string, events []kete.Event) error
}

// ReceiverOptions configures the webhook receiver. The zero value accepts unsigned,
// unauthenticated posts of up to 4 MiB.
type ReceiverOptions struct {
	// Secret, when set, requires p2-inc's X-Keycloak-Signature over the raw body.
	Secret string
	// BearerToken, or BasicUser with BasicPassword, require that credential on every post.
	BearerToken              string
	BasicUser, BasicPassword string
	// MaxBytes bounds a request body (default 4 MiB); larger ones get 413.
	MaxBytes int64
	// IsFull tells a sink error that means "not now" (a full spool or disk; answered 503 with Retry-After)
	// from a failure (answered 500).
	IsFull func(error) bool
	// RetryAfter is the Retry-After given with 503 (default 1s).
	RetryAfter time.Duration
	Logger     *slog.Logger
}

// Receiver is the webhook source: an http.Handler that takes events Keycloak (or a
// webhook extension) posts, in any shape DecodeEvents knows, and answers 202 only after
// the sink has made them durable.
//
// A request is all or nothing: if any element is not an event, the answer is 400 listing
// each bad element's index and reason, and none of the request's events are kept, so the
// sender can fix and resend the whole request without creating duplicates.
type Receiver struct {
	sink Sink
	opts ReceiverOptions
}

// NewReceiver returns a receiver that hands events to sink.
func NewReceiver(sink Sink, o ReceiverOptions) *Receiver {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 4 << 20
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.IsFull == nil {
		o.IsFull = func(error) bool { return false }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Receiver{sink: sink, opts: o}
}

type problem struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

type answer struct {
	Accepted int       `json:"accepted"`
	Error    string    `json:"error,omitempty"`
	Problems []problem `json:"problems,omitempty"`
}

func reply(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}

// ServeHTTP handles one POST of one event or an array of events.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, answer{Error: "use POST"})
		return
	}
	if !rc.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kete"`)
		reply(w, http.StatusUnauthorized, answer{Error: "missing or wrong credentials"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.opts.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, answer{Error: fmt.Sprintf("body over %d bytes", rc.opts.MaxBytes)})
			return
		}
		reply(w, http.StatusBadRequest, answer{Error: "reading body: " + err.Error()})
		return
	}
	if rc.opts.Secret != "" {
		if err := VerifyP2Signature(body, rc.opts.Secret, r.Header.Get(P2SignatureHeader)); err != nil {
			reply(w, http.StatusUnauthorized, answer{Error: err.Error()})
			return
		}
	}
	events, bad, err := DecodeEvents(body)
	if err != nil {
		reply(w, http.StatusBadRequest, answer{Error: err.Error()})
		return
	}
	if len(bad) > 0 {
		a := answer{Error: fmt.Sprintf("%d of %d events are invalid; none were accepted", len(bad), len(bad)+len(events))}
		for _, b := range bad {
			a.Problems = append(a.Problems, problem(b))
		}
		reply(w, http.StatusBadRequest, a)
		return
	}
	if err := rc.sink.Ingest(r.Context(), "webhook", events); err != nil {
		if rc.opts.IsFull(err) {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(1, rc.opts.RetryAfter.Round(time.Second).Seconds()))))
			reply(w, http.StatusServiceUnavailable, answer{Error: "events cannot be stored now (spool full or unavailable); retry later"})
			return
		}
		rc.opts.Logger.Error("webhook: storing events", "err", err)
		reply(w, http.StatusInternalServerError, answer{Error: "events could not be stored"})
		return
	}
	reply(w, http.StatusAccepted, answer{Accepted: len(events)})
}

func (rc *Receiver) authorized(r *http.Request) bool {
	o := rc.opts
	switch {
	case o.BearerToken != "":
		got, ok := bearer(r)
		return ok && subtle.ConstantTimeCompare([]byte(got), []byte(o.BearerToken)) == 1
	case o.BasicUser != "":
		u, p, ok := r.BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(u), []byte(o.BasicUser)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(o.BasicPassword)) == 1
	}
	return true
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && (h[:7] == "Bearer " || h[:7] == "bearer ") {
		return h[7:], true
	}
	return "", false
}
