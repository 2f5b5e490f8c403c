package auth

import "strings"

// Permission names of the Realtime Pub/Sub protocol.
const (
	// PublishPrefix + a topic pattern lets a token publish on matching topics.
	PublishPrefix = "realtime:publisher:write:topic:"
	// SubscribePrefix + a topic pattern lets a token subscribe to matching secure/… topics.
	SubscribePrefix = "realtime:subscriber:read:topic:"
	// ManageConnections lets an admin token close connections.
	ManageConnections = "realtime:admin:manage:connections"
	// ManageSubscribers lets an admin token unsubscribe clients from topics.
	ManageSubscribers = "realtime:admin:manage:subscribers"
	// ManageApplication lets an admin token read the app's telemetry.
	ManageApplication = "realtime:admin:manage:application"
)

// CanPublish reports whether perms allow publishing on topic
// (realtime:publisher:write:topic:<pattern>).
func CanPublish(perms []string, topic string) bool { return Has(perms, PublishPrefix+topic) }

// CanSubscribe reports whether perms allow subscribing to topic
// (realtime:subscriber:read:topic:<pattern>). Public topics need no permission; the server
// decides when to ask (secure/… topics).
func CanSubscribe(perms []string, topic string) bool { return Has(perms, SubscribePrefix+topic) }

// Has reports whether perms grant perm. Each granted entry is a pattern over the whole
// permission string, with MatchTopic's rules: `*` matches any run of characters, so
// "realtime:publisher:write:topic:secure/*" grants every secure/… topic and
// "realtime:admin:manage:*" every admin permission. An entry starting with `!` — or a topic
// permission whose pattern starts with `!`, as in "realtime:publisher:write:topic:!secure/*" —
// takes away what it matches, whatever else grants it (deny wins). A negated entry never
// grants anything by itself.
func Has(perms []string, perm string) bool {
	granted := false
	for _, entry := range perms {
		deny, pattern := splitNegation(entry)
		if !globMatch(pattern, perm) {
			continue
		}
		if deny {
			return false
		}
		granted = true
	}
	return granted
}

// splitNegation reads "!p" and "<topic prefix>!p" as a denial of p (resp. prefix+p).
func splitNegation(entry string) (deny bool, pattern string) {
	if rest, ok := strings.CutPrefix(entry, "!"); ok {
		return true, rest
	}
	for _, prefix := range [...]string{PublishPrefix, SubscribePrefix} {
		if rest, ok := strings.CutPrefix(entry, prefix+"!"); ok {
			return true, prefix + rest
		}
	}
	return false, entry
}

// MatchTopic reports whether topic matches pattern, with the rules of the matcher module
// the Realtime docs point to: `*` matches zero or more characters of any kind (including
// `/`), `\*` matches a literal star, and a leading `!` negates the pattern. Unlike matcher's
// default, matching is case-sensitive. The empty pattern matches only the empty topic.
func MatchTopic(pattern, topic string) bool {
	if rest, ok := strings.CutPrefix(pattern, "!"); ok {
		return !globMatch(rest, topic)
	}
	return globMatch(pattern, topic)
}

// globMatch matches s against p, where `*` is any run of bytes and `\x` is a literal x. It
// runs in O(len(p)·len(s)) time without allocating. Byte-wise matching gives the same answers
// as rune-wise matching because UTF-8 is self-synchronising.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0 // pattern index after the last star, and where in s it began
	for si < len(s) {
		if pi < len(p) {
			if p[pi] == '*' {
				pi++
				starP, starS = pi, si
				continue
			}
			c, w := p[pi], 1
			if c == '\\' && pi+1 < len(p) {
				c, w = p[pi+1], 2
			}
			if c == s[si] {
				pi += w
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
