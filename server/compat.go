package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kete-dev/kete/server/auth"
)

// This file holds the per-app policies where the Realtime Pub/Sub platform and kete's own
// extensions differ. Each zero value behaves as the platform does, so that the official
// clients and demos run unchanged; docs/server.md ("Compatibility") has the table.

// ForbiddenPolicy says what a client frame that its token does not allow gets; see
// App.OnForbidden.
type ForbiddenPolicy string

// Policies for refused subscribe and publish frames.
const (
	// ForbiddenClose closes the connection (1008) with the platform's reason, as the
	// official client's test/onerror.test.ts expects of a forbidden secure/ subscription.
	ForbiddenClose ForbiddenPolicy = "" // also "close"
	// ForbiddenErrorFrame answers with an error frame,
	// {"topic":T,"messageType":"error","data":{"code":"forbidden","message","id"?}},
	// and keeps the connection: kete's extension, which no official client listens for.
	ForbiddenErrorFrame ForbiddenPolicy = "errorFrame"
)

// Close reasons for refused frames under ForbiddenClose.
const (
	// ReasonSubscribeSecureForbidden is the platform's own reason, asserted by the
	// official client's test/onerror.test.ts (BackendStack21/realtime-pubsub-client).
	ReasonSubscribeSecureForbidden = "Subscription to secure topic is forbidden!"
	// ReasonSubscribePrivateForbidden is inferred by analogy: the platform says that
	// subscribing to priv/… "is prohibited in the client subscription API" (seed 004,
	// Topics) but not how it answers.
	ReasonSubscribePrivateForbidden = "Subscription to private topic is forbidden!"
	// ReasonPublishForbidden is inferred by analogy as well: the platform's clients have no
	// way to learn of a refused publish but the connection's close.
	ReasonPublishForbidden = "Publishing to topic is forbidden!"
)

// TokenExpiryPolicy says what happens to a connection whose token's exp passes; see
// App.TokenExpiry.
type TokenExpiryPolicy string

// Token lifetime policies.
const (
	// TokenExpiryHandshake checks exp (with the server's one leeway) at the handshake only:
	// an accepted connection outlives its token. The platform's behaviour: its official
	// tests and demos mint 5-second tokens and no official client can refresh one.
	TokenExpiryHandshake TokenExpiryPolicy = "" // also "handshake"
	// TokenExpiryClose closes the connection (1008 ReasonTokenExpired) once exp plus the
	// leeway has passed, unless the client sent a fresh token first (RefreshAccessToken or
	// {"type":"refresh"}): Drogue Cloud's behaviour. A revoked user loses the connection
	// within one token lifetime, but every client must refresh.
	TokenExpiryClose TokenExpiryPolicy = "close"
)

func (p ForbiddenPolicy) validate() error {
	return validatePolicy("onForbidden", string(p), "close", "errorFrame")
}

// errorFrames reports whether refusals are answered with error frames.
func (p ForbiddenPolicy) errorFrames() bool {
	return strings.EqualFold(string(p), string(ForbiddenErrorFrame))
}

func (p TokenExpiryPolicy) validate() error {
	return validatePolicy("tokenExpiry", string(p), "handshake", "close")
}

// validatePolicy accepts v when it is empty (the default) or one of want, in any case;
// the error names key and what it wants.
func validatePolicy(key, v string, want ...string) error {
	if v == "" || slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(v, w) }) {
		return nil
	}
	return fmt.Errorf("%s %q: want %s", key, v, strings.Join(want, " or "))
}

func (p TokenExpiryPolicy) closes() bool {
	return strings.EqualFold(string(p), string(TokenExpiryClose))
}

// forbid refuses client frame on topic (with its id, when it had one) per the app's
// OnForbidden policy: an error frame with message, or the connection's close with reason.
func (s *Server) forbid(c *conn, rt *appRuntime, topic, message, id, reason string) {
	s.refusals.note(http.StatusForbidden, "forbidden", message, slog.String("app", c.hub.appID), slog.String("connection", c.id), slog.String("topic", topic))
	if rt.app.OnForbidden.errorFrames() {
		c.send(errorFrame(topic, "forbidden", message, id))
		return
	}
	s.metrics.closes.WithLabelValues("forbidden").Inc()
	c.closeWith(ClosePolicyViolation, reason, false)
}

// applyTokenExpiry sets when ss (verified from cl) is closed for expiry under the app's
// policy: never under TokenExpiryHandshake; at exp plus the leeway under TokenExpiryClose,
// the very instant from which the handshake refuses the token, so that the server never
// accepts a token that it already counts as expired (one leeway everywhere).
func (s *Server) applyTokenExpiry(rt *appRuntime, ss *session, cl *auth.Claims) {
	s.setTokenExpiry(ss, cl, rt.app.TokenExpiry.closes())
}

// setTokenExpiry closes ss at its token's exp plus the leeway when closes, else never.
// Drogue consumers always close (Drogue Cloud's rule: refresh or be closed), whatever
// the app's TokenExpiry, which is about Realtime clients.
func (s *Server) setTokenExpiry(ss *session, cl *auth.Claims, closes bool) {
	ss.expires = 0
	if !closes || cl.ExpiresAt.IsZero() {
		return
	}
	ss.expires = cl.ExpiresAt.Add(s.tokenLeeway()).UnixNano()
}

// tokenLeeway is the leeway the verifiers apply to exp: Options.TokenLeeway, none when
// negative.
func (s *Server) tokenLeeway() time.Duration {
	if s.opts.TokenLeeway < 0 {
		return 0
	}
	return s.opts.TokenLeeway
}

// Defaults of the sizes clients can read (Limits).
const (
	DefaultMaxPublishSize = 5 << 10
	// DefaultMaxDeliveredSize is the read limit of the platform's Go SDK
	// (BackendStack21/realtime-pubsub-client-go; ../shared/research/pubsub.md §2): a larger
	// frame makes it drop the connection, reconnect, and lose its subscriptions.
	DefaultMaxDeliveredSize = 6 << 10
)

// ReasonDeliveredTooBig closes a client whose publish would reach subscribers in a frame
// over Limits.MaxDeliveredSize (its own frame was within MaxMessageSize, but the server
// adds the id and the publisher's client object).
const ReasonDeliveredTooBig = "Message too big for subscribers!"

// deliveredSize is the length of the frame encodeServerFrame builds for topic,
// messageType and dataLen bytes of data, without the WebSocket header: what a client's
// read limit counts.
func deliveredSize(topic, messageType string, dataLen int) int {
	if messageType == "" {
		messageType = "broadcast"
	}
	var scratch [2 * (maxTopicLen + maxMessageTypeLen)]byte
	n := len(appendJSONString(appendJSONString(scratch[:0], topic), messageType))
	return len(`{"topic":,"messageType":,"data":}`) + n + dataLen
}

// tooBigToDeliver refuses a client publish whose delivered frame would be over the
// app's MaxDeliveredSize: an error frame under the errorFrame policy, else the close
// 1009 that an oversized client frame gets. It reports whether it refused.
func (s *Server) tooBigToDeliver(c *conn, rt *appRuntime, topic, messageType string, data []byte, id string) bool {
	if deliveredSize(topic, messageType, len(data)) <= rt.limits.MaxDeliveredSize {
		return false
	}
	if rt.app.OnForbidden.errorFrames() {
		c.send(errorFrame(topic, "too_large", fmt.Sprintf("delivered frame would be over maxDeliveredSize (%d bytes)", rt.limits.MaxDeliveredSize), id))
		return true
	}
	s.metrics.closes.WithLabelValues("too_large").Inc()
	c.closeWith(CloseMessageTooBig, ReasonDeliveredTooBig, false)
	return true
}

// orDefault is p with the default, "replace", for the zero value: the platform allows
// one connection per user, and a client that reconnects over a half-dead socket must
// not be locked out by it.
func (p OnePerUser) orDefault() OnePerUser {
	if p == OnePerUserDefault {
		return OnePerUserReplace
	}
	return p
}

// handleGatewayTelemetry serves GET /telemetry/aggregates/{appId}/{days}, the path the
// platform's telemetry example calls on its API gateway, with the app also named in the
// X-App-Id header (seed 004, "Accessing application telemetry and reports via REST"). A
// header that names another app is refused (400) rather than guessed at.
func (s *Server) handleGatewayTelemetry(w http.ResponseWriter, r *http.Request) {
	if appHeaderMatches(w, r) {
		s.handleAPITelemetry(w, r)
	}
}

// validPublishTopic checks the topic of an HTTP publish: validTopic's rules, except that
// a private topic, priv/{subject}, may hold the spaces its subject holds, so that every
// connection's private topic can be reached.
func validPublishTopic(t string) error {
	rest, ok := strings.CutPrefix(t, "priv/")
	if !ok || !strings.ContainsRune(rest, ' ') {
		return validTopic(t)
	}
	switch {
	case len(t) > maxTopicLen:
		return fmt.Errorf("topic longer than %d bytes", maxTopicLen)
	case !utf8.ValidString(t):
		return errors.New("topic is not valid UTF-8")
	}
	for i, r := range rest {
		if r != ' ' && (unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)) {
			return fmt.Errorf("topic %q has a control or invisible character (%U at byte %d)", t, r, i+len("priv/"))
		}
	}
	return nil
}

// welcomeAddress is the client's address as the platform's welcome gives it: the IP
// without the port.
func welcomeAddress(r *http.Request) string {
	if a, raw := remoteAddr(r); a.IsValid() {
		return a.String()
	} else if host, _, err := net.SplitHostPort(raw); err == nil {
		return host
	} else {
		return raw
	}
}

// implicitSubscription reports whether topic is one of the subscriptions every
// connection has from the start (main; priv/{connectionId} and priv/{subject}), which
// an admin unsubscribe leaves alone.
func implicitSubscription(topic string) bool {
	return topic == "main" || strings.HasPrefix(topic, "priv/")
}
