package server

// ReasonRateLimited closes (1008) a client connection that publishes faster than its
// app's limits.publishRate allows, beyond limits.publishBurst.
const ReasonRateLimited = "Publish rate limit exceeded!"

// Defaults of Limits.PublishRate and Limits.PublishBurst.
const (
	DefaultPublishRate = 100 // frames per second, per connection
)

// publishBucket is a token bucket of one client connection's publish and message frames,
// allocated at its first such frame (an idle subscriber pays 8 bytes for it) and touched
// by the connection's read loop alone.
//
// Over the limit the connection is closed rather than sent an error per refused frame:
// the official clients listen for no error frame, and answering each of 100,000 frames a
// second would turn a fast publisher into a slow consumer of its own refusals.
type publishBucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill
}

// allow takes one token at now (unix nanoseconds), refilled at rate per second up to
// burst; it reports false when none is left.
func (b *publishBucket) allow(now int64, rate float64, burst int) bool {
	if elapsed := now - b.last; elapsed > 0 {
		b.tokens = min(float64(burst), b.tokens+float64(elapsed)*rate/1e9)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allowPublish applies the app's publish rate limit to one publish or message frame of
// c; over it, c is closed with 1008 ReasonRateLimited and false returned.
func (s *Server) allowPublish(c *conn, k *clientConn, l Limits) bool {
	if l.PublishRate < 0 {
		return true
	}
	now := s.opts.Now().UnixNano()
	if k.publishes == nil {
		k.publishes = &publishBucket{tokens: float64(l.PublishBurst), last: now}
	}
	if k.publishes.allow(now, float64(l.PublishRate), l.PublishBurst) {
		return true
	}
	if c.closeWith(ClosePolicyViolation, ReasonRateLimited, false) {
		s.metrics.closes.WithLabelValues("rate_limited").Inc()
	}
	return false
}
