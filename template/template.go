// Package template renders KETE-style `${realmLowerCase}` templates against an event: the
// destination URL of a route, a topic name, anything that varies by realm or event type.
//
// A template is plain text with variables written `${<field><Case>}`. The fields are
//
//	realm          the realm's name, else its id (Event.Realm)
//	eventType      the user event's type, or RESOURCETYPE_OPERATIONTYPE for an admin event (Event.EventType)
//	kind           EVENT or ADMIN_EVENT
//	resourceType   the admin event's resource type (USER, CLIENT_ROLE_MAPPING, …)
//	operationType  the admin event's operation type (CREATE, UPDATE, DELETE, ACTION)
//	result         SUCCESS, or ERROR when the event carries an error
//
// and the cases are
//
//	LowerCase   the raw value lower-cased, separators kept:  ADMIN_EVENT → admin_event, "Acme Corp" → "acme corp"
//	UpperCase   the raw value upper-cased, separators kept:  ADMIN_EVENT → ADMIN_EVENT, "my-realm" → "MY-REALM"
//	KebabCase   words lower-cased and joined with "-":        ADMIN_EVENT → admin-event, "Acme Corp" → acme-corp
//	PascalCase  words capitalised and joined:                 ADMIN_EVENT → AdminEvent, "my-realm" → MyRealm
//	CamelCase   as PascalCase with the first word lower-case: ADMIN_EVENT → adminEvent, "myRealm" → myRealm
//
// Words are split on "_", "-", ".", white space, a lower-case letter followed by an
// upper-case one (myRealm → my, Realm), and the end of an acronym (HTTPServer → HTTP,
// Server), so that Keycloak's UPPER_SNAKE names and free-text realm names both come out
// the way a reader expects.
//
// A field the event does not have renders as the empty string: resourceType and
// operationType on a user event, for example. (KETE leaves such a placeholder in the
// output literally; an empty value is easier to notice and to route on.)
//
// Only `${` followed by a known variable name and `}` is a variable; any other `${…}` is a
// compile error that names the variable and its byte offset, so a typo such as
// `${realmLowercase}` is reported when the configuration loads, not discovered in a URL.
// There is no escape for a literal `${`. A `$` not followed by `{` is plain text.
// `${env:…}` and `${file:…}` are resolved by the configuration loader before a template is
// compiled and never reach this package.
//
// Values are inserted raw. Where the output is a URL, compile with [CompileWith] and an
// [Options.Escape] such as url.PathEscape so that a realm named "Acme Corp" cannot break
// the path; a serializer's template, whose output is not a URL, compiles without one.
package template

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kete-dev/kete"
)

// Template is a compiled template; it is safe for concurrent use.
type Template struct {
	src    string
	parts  []part
	escape func(string) string
	// size is the length of the literal text, a hint for Render's buffer.
	size int
}

// part is either literal text or one variable.
type part struct {
	lit   string
	isVar bool
	field field
	cas   textCase
}

// Options changes how a template renders its values.
type Options struct {
	// Escape, when set, is applied to each rendered variable value (not to the literal
	// text around it): url.PathEscape for a URL path, url.QueryEscape for a query.
	Escape func(string) string
}

// Compile parses s once so that rendering per event is cheap. The error names the first
// unknown variable and its byte offset in s, but not s itself, which may hold a secret:
// the caller adds the configuration key.
func Compile(s string) (*Template, error) { return CompileWith(s, Options{}) }

// CompileWith is Compile with options, for outputs such as URLs whose values need escaping.
func CompileWith(s string, o Options) (*Template, error) {
	t := &Template{src: s, escape: o.Escape}
	rest, offset := s, 0
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			t.addLiteral(rest)
			break
		}
		t.addLiteral(rest[:i])
		end := strings.IndexByte(rest[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("template: unclosed \"${\" at offset %d", offset+i)
		}
		name := rest[i+2 : i+2+end]
		f, c, ok := lookup(name)
		if !ok {
			return nil, unknownVariable(name, offset+i)
		}
		t.parts = append(t.parts, part{isVar: true, field: f, cas: c})
		consumed := i + 2 + end + 1
		rest, offset = rest[consumed:], offset+consumed
	}
	return t, nil
}

func (t *Template) addLiteral(s string) {
	if s == "" {
		return
	}
	t.size += len(s)
	t.parts = append(t.parts, part{lit: s})
}

// unknownVariable leaves the template's text out of the error: a URL may hold a secret
// that configuration has already resolved into it.
func unknownVariable(name string, offset int) error {
	hint := ""
	for _, known := range Variables() {
		if strings.EqualFold(known, name) {
			hint = fmt.Sprintf(" (did you mean ${%s}?)", known)
			break
		}
	}
	if hint == "" {
		hint = " (known: ${" + strings.Join(Variables(), "}, ${") + "})"
	}
	return fmt.Errorf("template: unknown variable ${%s} at offset %d%s", name, offset, hint)
}

// Static reports whether the template has no variables, so that every event renders the
// same text (one URL, one pooled connection set, for all events).
func (t *Template) Static() bool {
	for _, p := range t.parts {
		if p.isVar {
			return false
		}
	}
	return true
}

// String gives back the source text, for logs and `kete check`.
func (t *Template) String() string { return t.src }

// Render returns the template's text for e. Callers that render per event into a buffer
// they reuse, or only need the text as a map key (m[string(b)] does not allocate), should
// prefer AppendRender.
func (t *Template) Render(e *kete.Event) string {
	if t.Static() {
		return t.src
	}
	return string(t.AppendRender(make([]byte, 0, t.size+64), e))
}

// AppendRender appends the template's text for e to dst and returns the extended slice.
// Without an Options.Escape it allocates nothing beyond growing dst.
func (t *Template) AppendRender(dst []byte, e *kete.Event) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		if !p.isVar {
			dst = append(dst, p.lit...)
			continue
		}
		if t.escape == nil {
			dst = appendVar(dst, p.field, p.cas, e)
			continue
		}
		start := len(dst)
		dst = appendVar(dst, p.field, p.cas, e)
		escaped := t.escape(string(dst[start:]))
		dst = append(dst[:start], escaped...)
	}
	return dst
}

// appendVar appends field f of e in case c.
func appendVar(dst []byte, f field, c textCase, e *kete.Event) []byte {
	var value string
	switch f {
	case fieldRealm:
		value = e.Realm()
	case fieldEventType:
		if e.Kind == kete.KindAdminEvent {
			// EventType() would allocate RESOURCETYPE_OPERATIONTYPE; render both halves
			// as one value instead.
			return appendCased(dst, c, e.ResourceType, e.OperationType, true)
		}
		value = e.Type
	case fieldKind:
		value = string(e.Kind)
	case fieldResourceType:
		value = e.ResourceType
	case fieldOperationType:
		value = e.OperationType
	case fieldResult:
		value = string(e.Result())
	}
	return appendCased(dst, c, value, "", false)
}

// appendCased appends value in case c; when joined, second follows value after a "_", as
// Event.EventType joins an admin event's halves.
func appendCased(dst []byte, c textCase, value, second string, joined bool) []byte {
	switch c {
	case caseLower, caseUpper:
		dst = appendMapped(dst, c, value)
		if joined {
			dst = append(dst, '_')
			dst = appendMapped(dst, c, second)
		}
		return dst
	}
	w := wordWriter{c: c}
	dst = w.appendWords(dst, value)
	if second != "" {
		dst = w.appendWords(dst, second)
	}
	return dst
}

// appendMapped appends s lower- or upper-cased rune by rune.
func appendMapped(dst []byte, c textCase, s string) []byte {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if c == caseLower && 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			} else if c == caseUpper && 'a' <= b && b <= 'z' {
				b -= 'a' - 'A'
			}
			dst = append(dst, b)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, b) // keep invalid bytes as they are
		} else if c == caseLower {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		} else {
			dst = utf8.AppendRune(dst, unicode.ToUpper(r))
		}
		i += size
	}
	return dst
}

// wordWriter joins words in KebabCase, PascalCase or CamelCase across several calls, so
// that an admin event's resource and operation types make one name.
type wordWriter struct {
	c     textCase
	words int
}

type runeClass uint8

const (
	classSep runeClass = iota
	classLower
	classUpper
	classOther // digits, marks, symbols, punctuation that is not a separator
)

func classify(r rune) runeClass {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z':
			return classLower
		case 'A' <= r && r <= 'Z':
			return classUpper
		case r == '_' || r == '-' || r == '.' || r == ' ' || ('\t' <= r && r <= '\r'):
			return classSep
		}
		return classOther
	}
	switch {
	case r == '_' || r == '-' || r == '.' || unicode.IsSpace(r):
		return classSep
	case unicode.IsUpper(r):
		return classUpper
	case unicode.IsLower(r):
		return classLower
	}
	return classOther
}

func decode(s string, i int) (rune, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return rune(b), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// appendWords splits s into words and appends each in w's case.
func (w *wordWriter) appendWords(dst []byte, s string) []byte {
	start := -1 // start of the current word, -1 between words
	prev := classSep
	for i := 0; i < len(s); {
		r, size := decode(s, i)
		cl := classify(r)
		if cl == classSep {
			if start >= 0 {
				dst = w.appendWord(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		} else if cl == classUpper && prev == classLower {
			// myRealm: a new word starts at the upper-case letter.
			dst = w.appendWord(dst, s[start:i])
			start = i
		} else if cl == classUpper && prev == classUpper && i+size < len(s) {
			// HTTPServer: the upper-case letter before a lower-case one starts a word.
			if next, _ := decode(s, i+size); classify(next) == classLower {
				dst = w.appendWord(dst, s[start:i])
				start = i
			}
		}
		prev = cl
		i += size
	}
	if start >= 0 {
		dst = w.appendWord(dst, s[start:])
	}
	return dst
}

func (w *wordWriter) appendWord(dst []byte, word string) []byte {
	first := w.words == 0
	w.words++
	if w.c == caseKebab {
		if !first {
			dst = append(dst, '-')
		}
		return appendMapped(dst, caseLower, word)
	}
	if w.c == caseCamel && first {
		return appendMapped(dst, caseLower, word)
	}
	r, size := decode(word, 0)
	if r == utf8.RuneError && size == 1 {
		dst = append(dst, word[0])
	} else {
		dst = utf8.AppendRune(dst, unicode.ToUpper(r))
	}
	return appendMapped(dst, caseLower, word[size:])
}
