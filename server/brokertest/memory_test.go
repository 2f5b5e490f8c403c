package brokertest_test

import (
	"testing"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/brokertest"
)

// TestMemoryBroker holds the single-node broker to the suite; multi-node cases skip.
func TestMemoryBroker(t *testing.T) {
	brokertest.Run(t, func(t *testing.T, n int) []server.Broker {
		b := server.NewMemoryBroker()
		t.Cleanup(func() { _ = b.Close() })
		return []server.Broker{b}
	})
}
