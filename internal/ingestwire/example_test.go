package ingestwire_test

import (
	"fmt"

	"github.com/kete-dev/kete/internal/ingestwire"
)

func Example() {
	// The server answers the third frame of a connection, whose id it had seen before.
	frame := ingestwire.Encode(ingestwire.Duplicate(3, "evt-42"))
	fmt.Println(string(frame))

	// The destination reads it back and counts frame 3 as delivered.
	a, ok := ingestwire.Decode(frame)
	fmt.Println(ok, a.Seq, a.IsNack(), a.Status)

	// A welcome frame is not an ack: the destination skips it.
	_, ok = ingestwire.Decode([]byte(`{"topic":"main","messageType":"welcome","data":{}}`))
	fmt.Println(ok)
	// Output:
	// {"type":"ack","seq":3,"id":"evt-42","status":"duplicate"}
	// true 3 false duplicate
	// false
}
