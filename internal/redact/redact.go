// Package redact is the one place that decides what kete must never print: every error,
// log line, health answer, dead letter and `kete check` line that shows a URL, a header, a
// configuration value or an error's text goes through it, so that a secret hidden in one
// printer is hidden in all of them.
//
// # What counts as a secret
//
// A name (a URL query parameter, a header, the last part of a configuration key) looks
// secret when its lower-case form contains one of the stems
//
//	password passwd passphrase secret token credential authorization cookie signature apikey privatekey
//
// or when one of its words (split at punctuation and at a change from lower to upper
// case: "X-Api-Key" is x, api, key; "apiKey" is api, key) is one of
//
//	key pass pwd sig session jwt bearer private
//
// The short words are matched whole so that "keycloak" or "passive" are not secrets.
// This is the only word list: [SecretName] applies it, and everything else calls that.
//
// # What is masked
//
//   - In a URL ([URL]): the password of the user information (a user information without a
//     password is masked whole: NATS reads nats://TOKEN@host as a token), and the value of
//     every query or fragment parameter whose name looks secret. The rest stays exactly as
//     written, so that the host, the path and ${…} template variables remain readable.
//   - A header value ([Header]) whose header name looks secret: Authorization,
//     Proxy-Authorization, Cookie, X-Api-Key, X-Auth-Token, ….
//   - A configuration value ([Value]) whose key looks secret ([SecretKey]), including key
//     material given inline (….loader.text, ….loader.base64) and secret headers
//     (….headers.<name>); any other value has the URLs inside it redacted.
//   - Free text ([Text], [Error], and every log line through [ReplaceAttr]): every URL in
//     it, and every name=value pair whose name looks secret (a form body or query echoed
//     in an error).
//
// Masked values read [Mask].
package redact

import (
	"net/url"
	"strings"
	"unicode"
)

// Mask is what a secret reads as.
const Mask = "****"

// secretStems are matched anywhere in a lower-cased name.
var secretStems = [...]string{
	"password", "passwd", "passphrase", "secret", "token", "credential",
	"authorization", "cookie", "signature", "apikey", "privatekey",
}

// secretWords are matched against whole words of a name only.
var secretWords = [...]string{"key", "pass", "pwd", "sig", "session", "jwt", "bearer", "private"}

// SecretName reports whether a query parameter, header or key part named name carries a
// secret, by the package's word list.
func SecretName(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range secretStems {
		if strings.Contains(lower, s) {
			return true
		}
	}
	for _, w := range words(name) {
		for _, s := range secretWords {
			if w == s {
				return true
			}
		}
	}
	return false
}

// words splits name at every rune that is not a letter or digit and before an upper-case
// letter that follows a lower-case one, and lower-cases the parts.
func words(name string) []string {
	var out []string
	start := -1
	var prev rune
	for i, r := range name {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		boundary := !alnum || (unicode.IsUpper(r) && unicode.IsLower(prev))
		if boundary && start >= 0 {
			out = append(out, strings.ToLower(name[start:i]))
			start = -1
		}
		if alnum && start < 0 {
			start = i
		}
		prev = r
	}
	if start >= 0 {
		out = append(out, strings.ToLower(name[start:]))
	}
	return out
}

// Header returns value, or Mask when the header called name carries credentials.
func Header(name, value string) string {
	if value != "" && SecretName(name) {
		return Mask
	}
	return value
}

// SecretKey reports whether the value of the configuration key (kete.….client-secret, or
// a KETE_… variable that names no key) must never be shown: its last part looks secret,
// it is key material given inline (….loader.text, ….loader.base64), or it is a header
// whose name looks secret (….headers.X-Api-Key). A last part ending in -file, -path,
// -dir, -url or -uri names where a secret is, not the secret: it is shown (a URL
// redacted), so oauth.token-url reads as a URL rather than ****.
func SecretKey(key string) bool {
	lower := strings.ToLower(key)
	if _, header, ok := strings.Cut(key, ".headers."); ok {
		return SecretName(header)
	}
	if !strings.Contains(lower, ".") {
		// A variable (KETE_ROUTES_WS_DESTINATION_TLS_KEY_STORE_LOADER_TEXT): judge by its words.
		ws := words(lower)
		loader := false
		for _, w := range ws {
			switch {
			case w == "loader":
				loader = true
			case loader && (w == "text" || w == "base64"):
				return true
			}
		}
		return !placeLike(lower) && SecretName(lower)
	}
	last := lower[strings.LastIndexByte(lower, '.')+1:]
	if strings.Contains(lower, ".loader.") && (last == "text" || last == "base64") {
		return true
	}
	return !placeLike(last) && SecretName(last)
}

// placeLike reports whether a key part names a place rather than a value.
func placeLike(name string) bool {
	for _, suffix := range [...]string{"file", "path", "dir", "url", "uri"} {
		if name == suffix || strings.HasSuffix(name, "-"+suffix) || strings.HasSuffix(name, "_"+suffix) {
			return true
		}
	}
	return false
}

// Value returns a configuration value as it may be shown: Mask for a secret key (see
// SecretKey), otherwise the value with any URL in it redacted.
func Value(key, value string) string {
	if value == "" {
		return value
	}
	if SecretKey(key) {
		return Mask
	}
	return Text(value)
}

// URL returns raw with the password of its user information and the values of its
// secret-looking query and fragment parameters masked; everything else is left as written
// (escaping included), so a URL template such as ws://h/${realm}?access_token=x reads
// ws://h/${realm}?access_token=****. raw need not parse as a URL.
func URL(raw string) string {
	if !strings.ContainsAny(raw, "@=") {
		return raw // no user information, no parameters
	}
	var b strings.Builder
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		b.WriteString(rest[:i+3])
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			user, _, hasPassword := strings.Cut(rest[:at], ":")
			if hasPassword {
				b.WriteString(user + ":" + Mask)
			} else {
				b.WriteString(Mask)
			}
			rest = rest[at:]
		}
	}
	before, fragment, hasFragment := strings.Cut(rest, "#")
	path, query, hasQuery := strings.Cut(before, "?")
	b.WriteString(path)
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(params(query))
	}
	if hasFragment {
		b.WriteByte('#')
		b.WriteString(params(fragment))
	}
	return b.String()
}

// params masks the secret values of an &-separated name=value list.
func params(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	parts := strings.Split(s, "&")
	for i, p := range parts {
		name, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if SecretName(name) {
			parts[i] = p[:strings.IndexByte(p, '=')+1] + Mask
		}
	}
	return strings.Join(parts, "&")
}

// Text redacts free text, such as an error's message: every URL in it as URL does (a URL
// starts with its scheme and ends at white space, a quote, a comma or an angle bracket,
// which is how errors and lists delimit them, less trailing punctuation such as the ":"
// of "sign-in to URL: 401"), and every name=value pair whose name looks
// secret (a form body echoed in an error). It scans by hand rather than with regexp: it
// runs on every log line, and a regexp made a line with a URL several times dearer.
func Text(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "=") {
		return s
	}
	return pairsInText(urlsInText(s))
}

func urlsInText(s string) string { return replaceAround(s, "://", urlAround) }

func pairsInText(s string) string { return replaceAround(s, "=", pairAround) }

// urlAround is the URL around the "://" at sep, redacted.
func urlAround(s string, sep, from int) (start, end, next int, repl string, ok bool) {
	start = sep
	for start > from && isSchemeByte(s[start-1]) {
		start--
	}
	for start < sep && !isLetter(s[start]) {
		start++
	}
	end = sep + 3
	for end < len(s) && !endsURL(s[end]) {
		end++
	}
	next = end
	// Punctuation that ends a sentence or an error prefix is not part of the URL.
	for end > sep+3 && strings.IndexByte(").,;:!?", s[end-1]) >= 0 {
		end--
	}
	if start == sep {
		return 0, 0, next, "", false // no scheme: not a URL
	}
	red := URL(s[start:end])
	return start, end, next, red, red != s[start:end]
}

// pairAround is the value of the name=value pair whose "=" is at eq, masked when the name
// looks secret.
func pairAround(s string, eq, from int) (start, end, next int, repl string, ok bool) {
	name := eq
	for name > from && isNameByte(s[name-1]) {
		name--
	}
	end = eq + 1
	for end < len(s) && !endsValue(s[end]) {
		end++
	}
	if name == eq || end == eq+1 || s[eq+1:end] == Mask || !SecretName(s[name:eq]) {
		return 0, 0, end, "", false
	}
	return eq + 1, end, end, Mask, true
}

// replaceAround is the scan urlsInText and pairsInText share. For each sep in s, left to
// right, at tells the span around it, s[start:end], and what to write in its place (ok
// false: leave it); from is where this search began, so that a span does not reach back
// over the one before, and next is where the search for the next sep begins. It returns
// s itself when nothing is replaced.
func replaceAround(s, sep string, at func(s string, sep, from int) (start, end, next int, repl string, ok bool)) string {
	var b strings.Builder
	done := 0 // s[:done] has been written to b
	for from := 0; ; {
		k := strings.Index(s[from:], sep)
		if k < 0 {
			break
		}
		start, end, next, repl, ok := at(s, from+k, from)
		from = next
		if ok {
			b.WriteString(s[done:start])
			b.WriteString(repl)
			done = end
		}
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isSchemeByte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '+' || c == '.' || c == '-'
}

func isNameByte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_' || c == '.' || c == '-'
}

func endsURL(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '"', '\'', '`', '<', '>', ',':
		return true
	}
	return false
}

func endsValue(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '&', '"', '\'', '`', ',', ';', ')':
		return true
	}
	return false
}

// Error returns err with its message redacted by Text; errors.Is and errors.As still see
// err. A nil err stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := Text(msg); red != msg {
		return &redacted{msg: red, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
