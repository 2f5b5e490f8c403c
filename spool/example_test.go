package spool_test

import (
	"context"
	"fmt"
	"os"

	"github.com/kete-dev/kete/spool"
)

// A source appends; Append returns once the records are on disk. Each route reads with
// its own cursor and acknowledges what it delivered, so that after a restart it resumes
// at the first record it has not acknowledged.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := spool.Open(spool.Options{Dir: dir, Routes: []string{"ws"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := s.Append(ctx, []byte(`{"type":"LOGIN"}`), []byte(`{"type":"LOGOUT"}`)); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := s.Reader("ws")
	rec, _ := r.Next(ctx)
	fmt.Println(rec.Offset, string(rec.Data))
	r.Ack(rec.Offset) // delivered; LOGOUT is read but not acknowledged
	rec, _ = r.Next(ctx)
	fmt.Println(rec.Offset, string(rec.Data))
	if err := s.Close(); err != nil {
		fmt.Println(err)
		return
	}

	// Reopened, the route resumes at the record it had not acknowledged.
	s, err = spool.Open(spool.Options{Dir: dir, Routes: []string{"ws"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	r, _ = s.Reader("ws")
	rec, _ = r.Next(ctx)
	fmt.Println(rec.Offset, string(rec.Data))
	// Output:
	// 0 {"type":"LOGIN"}
	// 1 {"type":"LOGOUT"}
	// 1 {"type":"LOGOUT"}
}
