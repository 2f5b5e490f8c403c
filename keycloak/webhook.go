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
	"strings"
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
	// Realms, when set, names the realm of events that carry only its id (vymalo's HTTP
	// sender, p2-inc's ext-event-http) before they are stored; *RealmNames is one. When
	// Keycloak cannot be asked, the events are kept with the id alone and a warning is
	// logged.
	Realms RealmResolver
	// Refused, when set, is told the reason of every request the receiver refuses (one
	// of the Refused… constants), for a metric; it must not block.
	Refused func(reason string)
	// LogEvery bounds the refusal log: at most one line per reason per LogEvery (default
	// 10s), the next line saying how many were left out, so that a misconfigured sender
	// cannot flood the log.
	LogEvery time.Duration
	Logger   *slog.Logger
}

// withDefaults returns o with each zero field set to the default its comment names; a nil
// IsFull treats every sink error as a failure, and a nil Logger discards.
func (o ReceiverOptions) withDefaults() ReceiverOptions {
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
	if o.LogEvery <= 0 {
		o.LogEvery = 10 * time.Second
	}
	return o
}

// RealmResolver fills in RealmName for events that carry only a RealmID.
type RealmResolver interface {
	Resolve(ctx context.Context, events []kete.Event) error
}

// Reasons a request is refused, as Refused and the log name them.
const (
	RefusedMethod        = "method"         // 405: not a POST
	RefusedUnauthorized  = "unauthorized"   // 401: missing or wrong bearer or basic credentials
	RefusedSignature     = "signature"      // 401: X-Keycloak-Signature missing or wrong
	RefusedTooLarge      = "too_large"      // 413: body over MaxBytes
	RefusedUnreadable    = "unreadable"     // 400: the body could not be read
	RefusedMalformed     = "malformed"      // 400: not a JSON object or array
	RefusedInvalidEvents = "invalid_events" // 400: some element is not an event
	RefusedFull          = "full"           // 503: the spool has no room
)

// resolveTimeout bounds how long a post waits for Keycloak to name a realm.
const resolveTimeout = 5 * time.Second

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
	logs *rateLog
}

// NewReceiver returns a receiver that hands events to sink.
func NewReceiver(sink Sink, o ReceiverOptions) *Receiver {
	o = o.withDefaults()
	return &Receiver{sink: sink, opts: o, logs: newRateLog(o.LogEvery)}
}

// Register serves the receiver on mux at path, and at path with one trailing slash:
// vymalo keycloak-webhook posts to its base URL plus "/" (its OpenAPI operation's path is
// "/", and the generated OkHttp client appends it as a path segment), so a sender
// configured with .../events posts to .../events/. Only those two paths are served.
func (rc *Receiver) Register(mux *http.ServeMux, path string) error {
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{} \t\n") {
		return fmt.Errorf("keycloak: webhook path %q must start with / and hold no braces or spaces", path)
	}
	base := strings.TrimRight(path, "/")
	if base != "" {
		mux.Handle(base, rc)
	}
	mux.Handle(base+"/{$}", rc)
	return nil
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
		rc.refuse(w, r, http.StatusMethodNotAllowed, RefusedMethod, answer{Error: "use POST"}, r.Method)
		return
	}
	if !rc.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kete"`)
		rc.refuse(w, r, http.StatusUnauthorized, RefusedUnauthorized, answer{Error: "missing or wrong credentials"}, "")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.opts.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			msg := fmt.Sprintf("body over %d bytes", rc.opts.MaxBytes)
			rc.refuse(w, r, http.StatusRequestEntityTooLarge, RefusedTooLarge, answer{Error: msg}, msg)
			return
		}
		rc.refuse(w, r, http.StatusBadRequest, RefusedUnreadable, answer{Error: "reading body: " + err.Error()}, err.Error())
		return
	}
	if rc.opts.Secret != "" {
		if err := VerifyP2Signature(body, rc.opts.Secret, r.Header.Get(P2SignatureHeader)); err != nil {
			rc.refuse(w, r, http.StatusUnauthorized, RefusedSignature, answer{Error: err.Error()}, err.Error())
			return
		}
	}
	events, bad, err := DecodeEvents(body)
	if err != nil {
		rc.refuse(w, r, http.StatusBadRequest, RefusedMalformed, answer{Error: err.Error()}, err.Error())
		return
	}
	if len(bad) > 0 {
		a := answer{Error: fmt.Sprintf("%d of %d events are invalid; none were accepted", len(bad), len(bad)+len(events))}
		idx := make([]int, 0, len(bad))
		for _, b := range bad {
			a.Problems = append(a.Problems, problem(b))
			idx = append(idx, b.Index)
		}
		// The log names the elements, not their reasons: a reason may quote the payload.
		rc.refuse(w, r, http.StatusBadRequest, RefusedInvalidEvents, a, fmt.Sprintf("%s; elements %v", a.Error, idx))
		return
	}
	if rc.opts.Realms != nil {
		ctx, cancel := context.WithTimeout(r.Context(), resolveTimeout)
		err := rc.opts.Realms.Resolve(ctx, events)
		cancel()
		if err != nil {
			rc.logs.log(rc.opts.Logger, "realm", slog.LevelWarn, "webhook: events kept with the realm's id only; realm matchers written with names will not match them",
				"remote", r.RemoteAddr, "err", err)
		}
	}
	if err := rc.sink.Ingest(r.Context(), "webhook", events); err != nil {
		if rc.opts.IsFull(err) {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(1, rc.opts.RetryAfter.Round(time.Second).Seconds()))))
			rc.refuse(w, r, http.StatusServiceUnavailable, RefusedFull, answer{Error: "events cannot be stored now (spool full or unavailable); retry later"}, err.Error())
			return
		}
		rc.opts.Logger.Error("webhook: storing events", "err", err)
		reply(w, http.StatusInternalServerError, answer{Error: "events could not be stored"})
		return
	}
	reply(w, http.StatusAccepted, answer{Accepted: len(events)})
}

// refuse answers a refusal, counts it and logs it (rate-limited) with the sender's
// address and a detail that holds neither the payload nor a credential.
func (rc *Receiver) refuse(w http.ResponseWriter, r *http.Request, status int, reason string, a answer, detail string) {
	if rc.opts.Refused != nil {
		rc.opts.Refused(reason)
	}
	attrs := []any{"reason", reason, "status", status, "remote", r.RemoteAddr, "path", r.URL.Path}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	rc.logs.log(rc.opts.Logger, reason, slog.LevelWarn, "webhook: request refused", attrs...)
	reply(w, status, a)
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
