package daemon

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/spool"
)

// Ids that differ only in bytes that are not UTF-8 stay two events all the way to the
// route (issue 13, item 5): the spool record and every frame are JSON, which would turn
// both into "e\uFFFD" and let a server's de-duplication drop the second.
func TestIDsThatDifferOnlyInInvalidUTF8StayDistinct(t *testing.T) {
	s := newSink()
	p, _ := startOn(t, spool.Options{Dir: t.TempDir()}, Route{Route: route("r", s, "")})
	in := []kete.Event{
		{ID: "e\xff", Type: "LOGIN", RealmName: "acme", Time: 1},
		{ID: "e\xfe", Type: "LOGIN", RealmName: "acme", Time: 1},
		{ID: "e1", Type: "LOGIN", RealmName: "acme", Time: 1},
	}
	if err := p.Ingest(context.Background(), "test", in); err != nil {
		t.Fatal(err)
	}
	got := receive(t, s, 3)
	if len(got) != 3 {
		t.Fatalf("the route got %v, want three distinct ids", got)
	}
	for id := range got {
		if !utf8.ValidString(id) {
			t.Errorf("id %q is not UTF-8", id)
		}
	}
	if got["e1"] != 1 {
		t.Errorf("a valid id was changed: got %v", got)
	}
}
