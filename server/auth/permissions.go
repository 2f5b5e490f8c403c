package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

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
		if !permMatch(pattern, perm) {
			continue
		}
		if deny {
			return false
		}
		granted = true
	}
	return granted
}

// permMatch matches a granted pattern against perm: the topic part of a topic permission
// without regard to case, as MatchTopic; permission names exactly.
func permMatch(pattern, perm string) bool {
	for _, prefix := range [...]string{PublishPrefix, SubscribePrefix} {
		if topic, ok := strings.CutPrefix(perm, prefix); ok {
			if p, ok := strings.CutPrefix(pattern, prefix); ok {
				return globMatch(p, topic)
			}
		}
	}
	return globMatchFolded(pattern, perm, false)
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
// `/`), `\*` matches a literal star, and a leading `!` negates the pattern. As with
// matcher's default (caseSensitive: false; sindresorhus/matcher index.js, normalizeCase),
// upper and lower case are the same. The empty pattern matches only the empty topic.
func MatchTopic(pattern, topic string) bool {
	if rest, ok := strings.CutPrefix(pattern, "!"); ok {
		return !globMatch(rest, topic)
	}
	return globMatch(pattern, topic)
}

// globMatch matches s against p without regard to case (see MatchTopic), where `*` is
// any run of bytes and `\x` is a literal x. It runs in O(len(p)·len(s)) time, without
// allocating when both are ASCII (topics and permissions nearly always are); otherwise
// both are first upper-cased as matcher does.
func globMatch(p, s string) bool {
	if !isASCII(p) || !isASCII(s) {
		p, s = upperLikeMatcher(p), upperLikeMatcher(s)
	}
	return globMatchFolded(p, s, true)
}

// globMatchFolded matches byte-wise, ASCII letters folded when fold is set. Byte-wise
// matching gives the same answers as rune-wise matching because UTF-8 is
// self-synchronising.
func globMatchFolded(p, s string, fold bool) bool {
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
			if c == s[si] || fold && upperASCII(c) == upperASCII(s[si]) {
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

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// upperLikeMatcher upper-cases s as matcher's normalizeCase does: each character to its
// upper case, except one whose upper case would be ASCII while it is not (ı, ſ), so that
// look-alikes do not match ASCII patterns. (Go's simple case mapping never lengthens a
// character, matcher's other exception.)
func upperLikeMatcher(s string) string {
	return strings.Map(func(r rune) rune {
		u := unicode.ToUpper(r)
		if r >= utf8.RuneSelf && u < utf8.RuneSelf {
			return r
		}
		return u
	}, s)
}
