package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/server/natsbroker"
)

// newNATSBroker connects the broker a bench node serves on: url is a nats:// (or tls://)
// URL, prefix the cluster's subject prefix (empty: natsbroker's default). It waits at
// most 30s for NATS.
func newNATSBroker(ctx context.Context, url, prefix string) (*natsbroker.Broker, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := natsbroker.New(natsbroker.Options{URL: url, Name: "kete-bench", SubjectPrefix: prefix})
	if err == nil {
		if err = b.Start(ctx); err != nil {
			b.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", redact.Text(url), err)
	}
	return b, nil
}

// checkNATS connects to url once and disconnects, so that a bench names an unreachable
// NATS before it starts any node.
func checkNATS(ctx context.Context, url string) error {
	b, err := newNATSBroker(ctx, url, clusterSubjectPrefix(0))
	if err != nil {
		return err
	}
	return b.Close()
}

// clusterSubjectPrefix returns a NATS subject prefix of its own for one side of one bench
// run ("kete-bench-<random>-<nodes>n"): the nodes of a side share it, and neither the
// other side nor another bench on the same NATS ever receives its messages.
func clusterSubjectPrefix(nodes int) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("kete-bench-%s-%dn", hex.EncodeToString(b[:]), nodes)
}

// startChildNodes starts n children, one after another, node i with the argv and env that
// command(i) returns (see startChild), and returns them once every one listens. On an
// error it stops those it started.
func startChildNodes(ctx context.Context, n int, command func(i int) (argv, env []string), stderr io.Writer) ([]*childProcess, error) {
	if n < 1 {
		return nil, fmt.Errorf("start nodes: %d nodes: want at least 1", n)
	}
	nodes := make([]*childProcess, 0, n)
	for i := range n {
		argv, env := command(i)
		c, err := startChild(ctx, argv, env, stderr)
		if err != nil {
			_ = stopNodes(nodes)
			return nil, fmt.Errorf("node %d of %d: %w", i+1, n, err)
		}
		nodes = append(nodes, c)
	}
	return nodes, nil
}

// stopNodes stops every child and returns their errors joined.
func stopNodes(nodes []*childProcess) error {
	var errs []error
	for _, c := range nodes {
		errs = append(errs, c.stop())
	}
	return errors.Join(errs...)
}

// clusterTarget is a server target over every node of a cluster (or one node): their
// ws:// URLs in Nodes and their pids in PIDs, so that subscribers and publishers are
// spread over the nodes and CPU seconds and RSS are summed over them.
func clusterTarget(name, app, token string, nodes []*childProcess) target {
	t := target{Name: name, Kind: kindServer, App: app, Token: token}
	for _, c := range nodes {
		t.Nodes = append(t.Nodes, "ws://"+c.Addr)
		t.PIDs = append(t.PIDs, c.PID)
	}
	if len(nodes) > 0 {
		t.URL, t.PID = t.Nodes[0], t.PIDs[0]
	}
	return t
}

// nodesName labels a side of a cluster comparison: "1 node", "3 nodes".
func nodesName(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

// readProcs sums readProc over pids: CPU times, RSS and threads of every process.
func readProcs(pids []int) (procSample, error) {
	var sum procSample
	for _, pid := range pids {
		p, err := readProc(pid)
		if err != nil {
			return sum, err
		}
		sum.CPU += p.CPU
		sum.User += p.User
		sum.System += p.System
		sum.RSS += p.RSS
		sum.Threads += p.Threads
	}
	if len(pids) == 1 {
		sum.PID = pids[0]
	}
	return sum, nil
}
