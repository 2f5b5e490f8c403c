// Package bench is the load tool behind `kete bench`: it drives the bundled pub/sub server
// and a bare gws broadcast hub (the baseline) with the same fan-out load in one run, drives
// a route's WebSocket destination against a bare gws write loop, and reports throughput,
// loss, latency quantiles and — from /proc — the server's CPU seconds and memory, as a
// table, JSON, or an HTML page with inline SVG charts.
//
// cmd/kete hands it `kete bench …` through one entry point, Run; everything else is
// unexported. The commands: `kete bench fanout` (command_fanout.go), `kete bench hub`
// (a bareHub as a process of its own) and `kete bench server` (the bundled server with
// one generated app, what `fanout --self` starts; with --nats, a cluster node)
// (command_serve.go), `kete bench destination` and `kete bench e2e` (the daemon, which
// cmd/kete passes in as Options.StartDaemon).
//
// How a fan-out run measures (runFanout: connect.go, then publish.go):
//
//   - Subscribers connect (DialConcurrency at a time) and subscribe; the run waits for
//     each one's confirmation (the server's subscribe "welcome", the hub's hubReadyFrame),
//     so that no publish can miss anyone.
//   - Rate is deliveries per second: Rate ÷ Subscribers messages per second, each sent on
//     a schedule from the first publish. modeSaturate instead keeps at most Window
//     messages published but not yet delivered everywhere. modeIdle publishes nothing and
//     measures memory after Duration.
//   - Every payload carries its send time in ns ({"t":…}, see appendPayload); a receiver
//     records now − t into a histogram (log-linear buckets, one atomic add per delivery).
//     Sender and receivers are on one host, so the clocks agree.
//   - Loss is Sent × Connected − Received, counted after a bounded drain.
//   - With the target's pid, CPU seconds (utime + stime) and RSS come from
//     /proc/PID/stat and /proc/PID/status; deliveries per CPU-second divides by them, and
//     RSS per connection is (RSS subscribed − RSS of the fresh process) ÷ subscribers.
//     /proc/stat gives how busy the whole host was, since the load generator shares it.
//   - A cluster target (target.Nodes) spreads subscriber i and publisher i over node
//     i mod nodes; CPU and RSS are summed over target.PIDs, the broker's CPU (BrokerPID)
//     is kept apart, and result.PerNode, SubscriberMin and SubscriberMax show that every
//     subscriber of every node got every message. With report.Pair, compareFanout's
//     ratios set two such targets side by side (three nodes ÷ one node).
//
// Everything here measures and nothing asserts a speed: figures go to people
// (docs/performance.md) and to machines (--json), never into a unit test.
package bench
