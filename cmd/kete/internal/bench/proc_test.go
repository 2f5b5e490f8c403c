package bench

import (
	"os"
	"testing"
)

func TestReadProcSelf(t *testing.T) {
	// Burn a little CPU so that utime is likely above zero; the test only needs sanity.
	x := 0
	for i := range 5_000_000 {
		x += i % 7
	}
	_ = x
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS < 1<<20 || p.RSS > 64<<30 {
		t.Errorf("RSS %d bytes, not a plausible Go test process", p.RSS)
	}
	if p.Threads < 1 {
		t.Errorf("threads %d", p.Threads)
	}
	if p.CPU < 0 || p.User+p.System != p.CPU {
		t.Errorf("cpu %v = user %v + system %v?", p.CPU, p.User, p.System)
	}
}

func TestReadProcMissing(t *testing.T) {
	if _, err := readProc(1 << 30); err == nil {
		t.Fatal("no error for a pid that cannot exist")
	}
}

func TestReadHost(t *testing.T) {
	a, err := readHost()
	if err != nil {
		t.Fatal(err)
	}
	if a.CPUs < 1 || a.Total == 0 || a.Busy > a.Total {
		t.Fatalf("host sample %+v", a)
	}
	b, err := readHost()
	if err != nil {
		t.Fatal(err)
	}
	if busy := busyBetween(a, b); busy < 0 || busy > 1 {
		t.Fatalf("busy %v outside 0..1", busy)
	}
	if _, ok := a.Procs[os.Getpid()]; !ok {
		t.Fatalf("the host sample lacks this process (%d of them)", len(a.Procs))
	}
}
