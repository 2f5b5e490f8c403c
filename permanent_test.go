package kete_test

import (
	"errors"
	"fmt"
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
