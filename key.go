package kete

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
)

// Key is the event's identity, what every de-duplication compares: Keycloak's id where it
// sent one, else a digest of the fields that make the event what it is ("k-" and 32 hex
// digits). Two deliveries of one Keycloak event (a webhook resent, a row polled twice)
// have the same Key; two events that differ in any field, even within one millisecond,
// do not.
//
// Sources give an event without an id its Key as id, so that a receiver can recognise it
// when it comes again. The digest is stored in durable cursors: it must never change.
func (e *Event) Key() string {
	if e.ID != "" {
		return e.ID
	}
	h := sha256.New()
	for _, s := range []string{string(e.Kind), strconv.FormatInt(e.Time, 10), e.RealmID, e.RealmName, e.Type,
		e.ClientID, e.UserID, e.SessionID, e.IPAddress, e.Error, e.OperationType, e.ResourceType,
		e.ResourcePath, e.Representation} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte(k + "=" + e.Details[k] + "\x00"))
	}
	if a := e.AuthDetails; a != nil {
		h.Write([]byte(a.RealmID + "\x00" + a.ClientID + "\x00" + a.UserID + "\x00" + a.IPAddress))
	}
	return "k-" + hex.EncodeToString(h.Sum(nil)[:16])
}
