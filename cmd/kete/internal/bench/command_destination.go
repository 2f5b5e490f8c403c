package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// destFlags are `kete bench destination`'s flags.
type destFlags struct {
	o          destOptions
	rounds     int
	cpuprofile string
	out        reportFlags
}

func parseDestinationFlags(args []string, stderr io.Writer) (*destFlags, error) {
	f := &destFlags{}
	fs := newFlags("destination", stderr)
	fs.StringVar(&f.o.URL, "url", "", "WebSocket sink URL (default: a built-in gws sink on 127.0.0.1)")
	fs.IntVar(&f.o.Size, "size", 300, "serialized event bytes")
	fs.DurationVar(&f.o.Duration, "duration", 5*time.Second, "how long each run sends")
	fs.Int64Var(&f.o.Events, "events", 0, "stop each run after this many events (0: run for --duration)")
	fs.IntVar(&f.o.Senders, "senders", 1, "sending goroutines (and pooled connections)")
	fs.IntVar(&f.rounds, "rounds", 2, "rounds of kete route + bare gws")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write this process's CPU profile (route, baseline and built-in sink) to `FILE`")
	f.out.add(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.o.Size < 1 || f.o.Duration <= 0 || f.o.Senders < 1 || f.o.Events < 0 {
		return nil, fmt.Errorf("%w: --size, --duration and --senders must be positive", ErrUsage)
	}
	f.o.AllowRemote = f.o.URL != ""
	return f, nil
}

// runDestinationCommand is `kete bench destination`: events through one route against
// the bare gws write loop, into the URL given or a built-in sink.
func runDestinationCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseDestinationFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.cpuprofile != "" {
		stop, err := startCPUProfile(f.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	o := f.o
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
	err = compareDestination(ctx, rep, o, f.rounds, stderr)
	return finish(rep, len(rep.Destination) > 0, err, f.out, stdout, stderr)
}
