package kete_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
)

func TestPermanentSurvivesWrapping(t *testing.T) {
	cause := errors.New("handshake refused with 403 Forbidden")
	err := fmt.Errorf("route r: %w", &kete.RouteError{Route: "r", Err: kete.Permanent(cause)})
	if !kete.IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = false through two wraps", err)
	}
	if !errors.Is(err, cause) {
		t.Fatal("marking an error permanent hides its cause from errors.Is")
	}
	if got := kete.Permanent(cause).Error(); got != cause.Error() {
		t.Fatalf("Permanent changed the message: %q", got)
	}
	if kete.IsPermanent(cause) || kete.IsPermanent(nil) {
		t.Fatal("an unmarked error, or nil, is permanent")
	}
	if kete.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
}

type failingSerializer struct{}

func (failingSerializer) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return dst, fmt.Errorf("event %s: no key %q in details", e.ID, "username")
}
func (failingSerializer) ContentType() string { return "text/plain" }

// A serializer is a function of the event: its failure on one will not pass on retry.
func TestSerializerFailureIsPermanent(t *testing.T) {
	sent := 0
	r := &kete.Route{Name: "r", Serializer: failingSerializer{}, Destination: kete.DestinationFunc(
		func(context.Context, *kete.Event, []byte) error { sent++; return nil })}
	err := r.Deliver(context.Background(), &kete.Event{ID: "e1"})
	if !kete.IsPermanent(err) || !strings.Contains(err.Error(), "serialize") || sent != 0 {
		t.Fatalf("Deliver = %v after %d sends, want a permanent serialize error and none", err, sent)
	}
	down := errors.New("connection refused")
	r = &kete.Route{Name: "r", Serializer: plainSerializer{}, Destination: kete.DestinationFunc(
		func(context.Context, *kete.Event, []byte) error { return down })}
	if err := r.Deliver(context.Background(), &kete.Event{ID: "e1"}); kete.IsPermanent(err) || !errors.Is(err, down) {
		t.Fatalf("Deliver to a destination that is down = %v, want a transient error", err)
	}
}

type plainSerializer struct{}

func (plainSerializer) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	return append(dst, e.ID...), nil
}
func (plainSerializer) ContentType() string { return "text/plain" }
