package keycloak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
)

// DecodeError says why one element of an event payload was not turned into an event.
type DecodeError struct {
	// Index is the element's position in the array, 0 for a single object.
	Index  int
	Reason string
}

func (e DecodeError) Error() string { return fmt.Sprintf("event %d: %s", e.Index, e.Reason) }

// DecodeEvents reads the events in a payload that Keycloak or a webhook extension sent:
// one JSON object or an array of them. Each element is recognised on its own as one of
//
//   - Keycloak's EventRepresentation or AdminEventRepresentation (the admin one has
//     operationType and resourceType), as the events endpoints and most listeners send
//     them, also with KETE's added realmName, resourceTypeAsString and kind;
//   - p2-inc keycloak-events ext-event-webhook: type "access.LOGIN" or
//     "admin.USER-CREATE", uid, authDetails with username and sessionId, and since
//     v0.40 realmName and Keycloak's id;
//   - vymalo keycloak-webhook: flat, type "LOGIN" or "USER-CREATE" for admin events,
//     and userId/clientId/ipAddress naming the actor of an admin event; its HTTP sender
//     carries only realmId (the realm's id), its other senders also realmName.
//
// An event whose payload names its realm only by id has an empty RealmName; a
// RealmResolver fills it in.
//
// Elements that are not events come back as DecodeErrors, in order, so that a caller can
// answer or log them; the others are still returned. The error is for a body that is not
// a JSON object or array at all. Every returned event has a Kind and a non-empty EventType.
func DecodeEvents(body []byte) ([]kete.Event, []DecodeError, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil, errors.New("keycloak: empty event payload")
	}
	var elems []json.RawMessage
	switch body[0] {
	case '{':
		if !json.Valid(body) {
			return nil, nil, fmt.Errorf("keycloak: event payload is not valid JSON: %w", jsonError(body))
		}
		elems = []json.RawMessage{body}
	case '[':
		if err := json.Unmarshal(body, &elems); err != nil {
			return nil, nil, fmt.Errorf("keycloak: event payload is not a valid JSON array: %w", err)
		}
	default:
		return nil, nil, fmt.Errorf("keycloak: event payload must be a JSON object or array, starts with %q", firstRune(body))
	}
	events := make([]kete.Event, 0, len(elems))
	var bad []DecodeError
	for i, raw := range elems {
		e, err := decodeEvent(raw)
		if err != nil {
			bad = append(bad, DecodeError{Index: i, Reason: err.Error()})
			continue
		}
		events = append(events, e)
	}
	return events, bad, nil
}

func jsonError(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

func firstRune(b []byte) string {
	s := string(b)
	for _, r := range s {
		return string(r)
	}
	return ""
}

// fields is one payload element's top-level members, read leniently by name.
type fields map[string]json.RawMessage

func (f fields) has(name string) bool {
	v, ok := f[name]
	return ok && !isNull(v)
}

func isNull(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

// str reads a string member; absent or null is "".
func (f fields) str(name string) (string, error) {
	v, ok := f[name]
	if !ok || isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("field %q must be a string, got %s", name, kindOf(v))
	}
	return s, nil
}

// text reads a member that should be a string but that some senders give as an object
// (representation): an object or array is kept as its JSON text.
func (f fields) text(name string) (string, error) {
	v, ok := f[name]
	if !ok || isNull(v) {
		return "", nil
	}
	switch v[0] {
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return "", fmt.Errorf("field %q: %v", name, err)
		}
		return buf.String(), nil
	}
	return f.str(name)
}

// millis reads an epoch-millisecond time given as a number or a numeric string.
func (f fields) millis(name string) (int64, error) {
	v, ok := f[name]
	if !ok || isNull(v) {
		return 0, nil
	}
	s := string(v)
	if v[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, fmt.Errorf("field %q: %v", name, err)
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) || math.Abs(x) > 1<<62 {
		return 0, fmt.Errorf("field %q must be epoch milliseconds, got %s", name, clip(string(v)))
	}
	return int64(x), nil
}

// stringMap reads a details object; values that are not strings keep their JSON text.
func (f fields) stringMap(name string) (map[string]string, error) {
	v, ok := f[name]
	if !ok || isNull(v) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("field %q must be an object, got %s", name, kindOf(v))
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, raw := range m {
		if isNull(raw) {
			continue
		}
		var s string
		if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			out[k] = s
			continue
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			out[k] = buf.String()
		}
	}
	return out, nil
}

// object reads a nested object such as authDetails; absent or null is nil.
func (f fields) object(name string) (fields, error) {
	v, ok := f[name]
	if !ok || isNull(v) {
		return nil, nil
	}
	var m fields
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("field %q must be an object, got %s", name, kindOf(v))
	}
	return m, nil
}

func kindOf(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// reader collects the first error of a run of field reads, so decoders stay linear.
type reader struct {
	f   fields
	err error
}

func (r *reader) str(name string) string {
	s, err := r.f.str(name)
	r.keep(err)
	return s
}

func (r *reader) text(name string) string {
	s, err := r.f.text(name)
	r.keep(err)
	return s
}

func (r *reader) millis(name string) int64 {
	n, err := r.f.millis(name)
	r.keep(err)
	return n
}

func (r *reader) stringMap(name string) map[string]string {
	m, err := r.f.stringMap(name)
	r.keep(err)
	return m
}

func (r *reader) object(name string) *reader {
	m, err := r.f.object(name)
	r.keep(err)
	if m == nil {
		return nil
	}
	return &reader{f: m}
}

func (r *reader) keep(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

// p2-inc keycloak-events prefixes its unified type with the event's family.
const (
	p2UserPrefix  = "access."
	p2AdminPrefix = "admin."
)

func decodeEvent(raw json.RawMessage) (kete.Event, error) {
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return kete.Event{}, fmt.Errorf("not a JSON object but %s", kindOf(raw))
	}
	r := &reader{f: f}
	typ := r.str("type")
	kind := r.str("kind")
	if r.err != nil {
		return kete.Event{}, r.err
	}
	var (
		e   kete.Event
		err error
	)
	switch {
	case strings.HasPrefix(typ, p2UserPrefix):
		e, err = decodeP2User(r, strings.TrimPrefix(typ, p2UserPrefix))
	case strings.HasPrefix(typ, p2AdminPrefix):
		e, err = decodeP2Admin(r, strings.TrimPrefix(typ, p2AdminPrefix))
	case kind == string(kete.KindAdminEvent) || f.has("operationType") || f.has("resourceType") || f.has("resourceTypeAsString"):
		e, err = decodeNativeAdmin(r)
	case kind == string(kete.KindEvent) && typ != "":
		e, err = decodeUser(r, typ)
	case strings.Contains(typ, "-"):
		e, err = decodeVymaloAdmin(r, typ)
	case typ != "":
		e, err = decodeUser(r, typ)
	default:
		return kete.Event{}, errors.New("no type, operationType or resourceType: not a Keycloak event")
	}
	if err != nil {
		return kete.Event{}, err
	}
	return e, nil
}

// splitAdminType reads "RESOURCE_TYPE-OPERATION" as p2-inc and vymalo write admin types.
// Resource types use underscores, never dashes, so the last dash separates the two.
func splitAdminType(t string) (resource, operation string) {
	i := strings.LastIndexByte(t, '-')
	if i < 0 {
		return t, ""
	}
	return t[:i], t[i+1:]
}

func checkAdmin(e *kete.Event, what string) error {
	if strings.TrimSpace(e.ResourceType) == "" || strings.TrimSpace(e.OperationType) == "" {
		return fmt.Errorf("%s admin event needs a resource type and an operation type, got %q and %q", what, e.ResourceType, e.OperationType)
	}
	return nil
}

// decodeUser reads a user event in Keycloak's EventRepresentation, which vymalo's flat
// payload shares (adding realmName), as does KETE's JSON.
func decodeUser(r *reader, typ string) (kete.Event, error) {
	if strings.TrimSpace(typ) == "" {
		return kete.Event{}, errors.New("user event has a blank type")
	}
	e := userEvent(r, typ)
	return e, r.err
}

// userEvent reads the members of Keycloak's EventRepresentation (plus realmName), which
// every user event payload carries at its top level.
func userEvent(r *reader, typ string) kete.Event {
	return kete.Event{
		Kind:      kete.KindEvent,
		ID:        r.str("id"),
		Time:      r.millis("time"),
		RealmID:   r.str("realmId"),
		RealmName: r.str("realmName"),
		Error:     r.str("error"),
		Type:      typ,
		ClientID:  r.str("clientId"),
		UserID:    r.str("userId"),
		SessionID: r.str("sessionId"),
		IPAddress: r.str("ipAddress"),
		Details:   r.stringMap("details"),
	}
}

// adminEvent reads the top-level members of Keycloak's AdminEventRepresentation (plus
// realmName) that every admin event payload shares; the payloads differ in where the
// operation and resource types come from, and in the actor (authDetails).
func adminEvent(r *reader, operation, resource string) kete.Event {
	return kete.Event{
		Kind:           kete.KindAdminEvent,
		ID:             r.str("id"),
		Time:           r.millis("time"),
		RealmID:        r.str("realmId"),
		RealmName:      r.str("realmName"),
		Error:          r.str("error"),
		OperationType:  operation,
		ResourceType:   resource,
		ResourcePath:   r.str("resourcePath"),
		Representation: r.text("representation"),
		Details:        r.stringMap("details"),
	}
}

// decodeNativeAdmin reads Keycloak's AdminEventRepresentation (and KETE's JSON of it).
func decodeNativeAdmin(r *reader) (kete.Event, error) {
	e := adminEvent(r, r.str("operationType"), r.str("resourceType"))
	if e.ResourceType == "" {
		e.ResourceType = r.str("resourceTypeAsString")
	}
	if a := r.object("authDetails"); a != nil {
		e.AuthDetails = &kete.AuthDetails{
			RealmID: a.str("realmId"), ClientID: a.str("clientId"),
			UserID: a.str("userId"), IPAddress: a.str("ipAddress"),
		}
		r.keep(a.err)
	}
	if r.err != nil {
		return kete.Event{}, r.err
	}
	return e, checkAdmin(&e, "Keycloak")
}

// decodeP2User reads a p2-inc "access.*" event (p2-inc keycloak-events,
// io.phasetwo.keycloak.representation.ExtendedAdminEvent(String uid, Event, RealmModel)):
// the user event's fields live in authDetails, whose realmId is the realm's name, while
// the top-level realmId is the realm's id. Since p2-inc v0.40 (February 2025, Keycloak
// 26.1) the top level also carries realmName and Keycloak's event id; uid is new for every
// webhook a delivery goes to (WebhookSenderEventListenerProvider.processEvent), so the
// event's id is Keycloak's id where present, and uid only for the older payloads that
// have nothing else.
func decodeP2User(r *reader, typ string) (kete.Event, error) {
	if strings.TrimSpace(typ) == "" {
		return kete.Event{}, errors.New(`p2-inc event type "access." names no event type`)
	}
	e := userEvent(r, typ)
	e.ID = or(e.ID, r.str("uid"))
	if a := r.object("authDetails"); a != nil {
		e.RealmName = or(e.RealmName, a.str("realmId"))
		e.ClientID = or(a.str("clientId"), e.ClientID)
		e.UserID = or(a.str("userId"), e.UserID)
		e.SessionID = or(a.str("sessionId"), e.SessionID)
		e.IPAddress = or(a.str("ipAddress"), e.IPAddress)
		if u := a.str("username"); u != "" {
			e.Details = withDefault(e.Details, "username", u)
		}
		r.keep(a.err)
	}
	return e, r.err
}

// decodeP2Admin reads a p2-inc "admin.*" event (ExtendedAdminEvent(String uid,
// AdminEvent, RealmModel eventRealm, RealmModel authRealm)). Since p2-inc v0.40 (February
// 2025) realmId is the realm's id and realmName its name, and id is Keycloak's event id;
// from v0.6 (November 2022) to v0.39 realmId was the realm's name and there was no
// realmName nor id, so a payload without realmName names its realm in realmId. authDetails
// adds the actor's username and session, kept as details authUsername and authSessionId
// since kete's AuthDetails has no place for them. As for user events, uid is only the
// fallback id.
func decodeP2Admin(r *reader, typ string) (kete.Event, error) {
	resource, operation := splitAdminType(typ)
	realmID, realmName := r.str("realmId"), r.str("realmName")
	if realmName == "" {
		realmName = realmID
	}
	e := kete.Event{
		Kind:           kete.KindAdminEvent,
		ID:             or(r.str("id"), r.str("uid")),
		Time:           r.millis("time"),
		RealmID:        realmID,
		RealmName:      realmName,
		Error:          r.str("error"),
		OperationType:  or(r.str("operationType"), operation),
		ResourceType:   or(r.str("resourceType"), resource),
		ResourcePath:   r.str("resourcePath"),
		Representation: r.text("representation"),
		Details:        r.stringMap("details"),
	}
	if a := r.object("authDetails"); a != nil {
		e.AuthDetails = &kete.AuthDetails{
			RealmID: a.str("realmId"), ClientID: a.str("clientId"),
			UserID: a.str("userId"), IPAddress: a.str("ipAddress"),
		}
		if u := a.str("username"); u != "" {
			e.Details = withDefault(e.Details, "authUsername", u)
		}
		if s := a.str("sessionId"); s != "" {
			e.Details = withDefault(e.Details, "authSessionId", s)
		}
		r.keep(a.err)
	}
	if r.err != nil {
		return kete.Event{}, r.err
	}
	return e, checkAdmin(&e, "p2-inc")
}

// decodeVymaloAdmin reads a vymalo admin event: type "RESOURCE-OPERATION", and the flat
// clientId, userId and ipAddress are the actor's (Keycloak's authDetails).
func decodeVymaloAdmin(r *reader, typ string) (kete.Event, error) {
	resource, operation := splitAdminType(typ)
	e := adminEvent(r, operation, resource)
	client, user, ip := r.str("clientId"), r.str("userId"), r.str("ipAddress")
	if client != "" || user != "" || ip != "" {
		e.AuthDetails = &kete.AuthDetails{ClientID: client, UserID: user, IPAddress: ip}
	}
	if r.err != nil {
		return kete.Event{}, r.err
	}
	return e, checkAdmin(&e, "vymalo")
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func withDefault(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	if _, ok := m[k]; !ok {
		m[k] = v
	}
	return m
}
