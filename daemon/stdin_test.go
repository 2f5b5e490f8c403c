package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/spool"
	"github.com/kete-dev/kete/spool/spooltest"
)

// A full disk under `kete run --stdin` is back-pressure: the reader waits with the lines
// unread and takes every one once there is room, rather than stopping half-way.
func TestStdinWaitsWhileTheSpoolPushesBack(t *testing.T) {
	dir := t.TempDir()
	fsys := &spooltest.FaultFS{}
	s := newSink()
	p, _ := startOn(t, spool.Options{Dir: dir, FS: fsys, ReserveBytes: 512}, Route{Route: route("r", s, "")})
	if _, err := ReadLines(context.Background(), strings.NewReader(stdinLine(0)), p, 1); err != nil {
		t.Fatal(err)
	}
	receive(t, s, 1)
	fsys.SetQuota(dir, spooltest.Used(dir)) // the disk is full

	var lines strings.Builder
	for n := 1; n <= 20; n++ {
		lines.WriteString(stdinLine(n))
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := ReadLines(context.Background(), strings.NewReader(lines.String()), p, 5)
		done <- result{n, err}
	}()
	// The reader is held back: the spool reports the failed write, nothing is taken.
	deadline := time.Now().Add(10 * time.Second)
	for p.spoolStatus().WriteError == "" {
		if time.Now().After(deadline) {
			t.Fatal("the spool never reported the full disk")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("ReadLines returned on a full disk (%d events, %v); want it to wait", r.n, r.err)
	default:
	}
	fsys.SetQuota(dir, 0) // room again
	select {
	case r := <-done:
		if r.err != nil || r.n != 20 {
			t.Fatalf("ReadLines = %d, %v; want 20, nil", r.n, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ReadLines still waiting after the disk has room")
	}
	got := receive(t, s, 20)
	for n := 1; n <= 20; n++ {
		if got[fmt.Sprintf("e%d", n)] != 1 {
			t.Fatalf("the route got %v, want e1…e20 once each", got)
		}
	}
}

func stdinLine(n int) string {
	return fmt.Sprintf(`{"id":"e%d","time":1700000000000,"type":"LOGIN","realmId":"acme","clientId":"web","userId":"u1"}`+"\n", n)
}
