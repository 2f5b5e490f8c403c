package serializer

import (
	"strconv"
	"testing"
)

// appendMillis must write what strconv writes, on both sides of its 13-digit range.
func TestAppendMillis(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 999_999_999_999, 1_000_000_000_000, 1_764_201_600_000, 1_700_000_000_123,
		1_000_000_000_001, 1_099_999_999_990, 9_999_999_999_999, 10_000_000_000_000, -1_764_201_600_000, 1<<63 - 1, -1 << 63} {
		if got, want := string(appendMillis([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Errorf("appendMillis(%d) = %s, want %s", v, got, want)
		}
	}
}

func FuzzAppendMillis(f *testing.F) {
	f.Add(int64(1_764_201_600_000))
	f.Add(int64(-5))
	f.Fuzz(func(t *testing.T, v int64) {
		in13 := 1_000_000_000_000 + int64(uint64(v)%9_000_000_000_000) // the fast path's range
		for _, v := range []int64{v, in13} {
			if got, want := string(appendMillis(nil, v)), strconv.FormatInt(v, 10); got != want {
				t.Fatalf("appendMillis(%d) = %s, want %s", v, got, want)
			}
		}
	})
}
