package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
)

// addServeFlags binds the flags `bench hub` and `bench server` share to o.
func addServeFlags(fs *flag.FlagSet, o *serveOptions) {
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:0", "address to listen on (port 0: any; the address is printed)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile to `FILE` until stopped")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile to `FILE` (and memory figures to stderr) on each SIGUSR1")
}

// runHubCommand is `kete bench hub`: the bare gws hub, the baseline, in a process of its
// own.
func runHubCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("hub", stderr)
	o := serveOptions{Stats: stderr, Ready: stdout}
	addServeFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serveHub(ctx, o)
}

// runServerCommand is `kete bench server`: the bundled server with one app whose secret
// comes from $KETE_BENCH_SECRET (what `fanout --self` starts).
func runServerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("server", stderr)
	o := serveOptions{Stats: stderr, Ready: stdout}
	fs.StringVar(&o.AppID, "app", "bench", "app id")
	addServeFlags(fs, &o)
	fs.IntVar(&o.ReadBufferSize, "read-buffer", 0, "each connection's read buffer in bytes (0: the server's default)")
	fs.StringVar(&o.NATS, "nats", "", "serve on the NATS broker at this nats:// URL (a cluster node) instead of the memory broker")
	fs.StringVar(&o.SubjectPrefix, "subject-prefix", "", "with --nats: the cluster's NATS subject prefix (default kete); nodes of one cluster share it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkNATSURL("--nats", o.NATS); err != nil {
		return err
	}
	if o.SubjectPrefix != "" && o.NATS == "" {
		return fmt.Errorf("%w: --subject-prefix needs --nats", ErrUsage)
	}
	if o.Secret = os.Getenv(secretEnv); o.Secret == "" {
		return fmt.Errorf("%w: set %s to the app's HS256 secret (32 bytes or more)", ErrUsage, secretEnv)
	}
	return serveServer(ctx, o)
}
