package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// runDestinationCommand is `kete bench destination`: events through one route against
// the bare gws write loop, into the URL given or a built-in sink.
func runDestinationCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("destination", stderr)
	var o destOptions
	var rounds int
	var cpuprofile string
	var out reportFlags
	fs.StringVar(&o.URL, "url", "", "WebSocket sink URL (default: a built-in gws sink on 127.0.0.1)")
	fs.IntVar(&o.Size, "size", 300, "serialized event bytes")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long each run sends")
	fs.Int64Var(&o.Events, "events", 0, "stop each run after this many events (0: run for --duration)")
	fs.IntVar(&o.Senders, "senders", 1, "sending goroutines (and pooled connections)")
	fs.IntVar(&rounds, "rounds", 2, "rounds of kete route + bare gws")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write this process's CPU profile (route, baseline and built-in sink) to `FILE`")
	out.add(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Size < 1 || o.Duration <= 0 || o.Senders < 1 || o.Events < 0 {
		return fmt.Errorf("%w: --size, --duration and --senders must be positive", ErrUsage)
	}
	if cpuprofile != "" {
		stop, err := startCPUProfile(cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	o.AllowRemote = o.URL != ""
	if o.URL == "" {
		sink := newSink()
		addr, stop, err := serveLoopback(sink)
		if err != nil {
			return err
		}
		defer stop()
		defer sink.Close()
		o.URL, o.Sink = "ws://"+addr+"/", sink
	}
	rep := newReport("kete bench destination", "kete bench destination "+strings.Join(args, " "))
	err := compareDestination(ctx, rep, o, rounds, stderr)
	return finish(rep, len(rep.Destination) > 0, err, out, stdout, stderr)
}
