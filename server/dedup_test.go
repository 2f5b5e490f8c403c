package server

import (
	"fmt"
	"testing"
	"time"
)

func TestDedupBounded(t *testing.T) {
	d := newDedup()
	now := time.Now().UnixNano()
	for i := range 1000 {
		if !d.firstSeen("t", fmt.Sprint(i), now, time.Minute, 100) {
			t.Fatalf("id %d seen twice", i)
		}
	}
	if n := d.len(); n > 101 {
		t.Fatalf("dedup holds %d ids, want at most 101", n)
	}
	if d.firstSeen("t", "999", now, time.Minute, 100) {
		t.Fatal("recent id not remembered")
	}
	if !d.firstSeen("t", "999", now+int64(2*time.Minute), time.Minute, 100) {
		t.Fatal("id remembered past its window")
	}
}
