package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/redact"
)

// ErrUsage marks an error the user fixes by reading the usage line: cmd/kete prints the
// usage and exits 2.
var ErrUsage = errors.New("usage")

// secretEnv carries the generated app secret to a self-started `kete bench server`, so
// that it never shows in the process list.
const secretEnv = "KETE_BENCH_SECRET"

// Options are what `kete bench` takes from the binary that runs it. Children (fanout
// --self, --baseline) run as this executable: `kete bench server`, `kete bench hub`.
type Options struct {
	// StartDaemon starts the daemon (`kete run`) on cfg in this process, for `bench e2e`,
	// and returns the address of its webhook listener and how to stop it.
	StartDaemon func(ctx context.Context, cfg *config.Config) (webhook net.Addr, stop func() error, err error)
}

// Run is `kete bench SUBCOMMAND [flags]`; args start at the subcommand. A usage error
// wraps ErrUsage; -h is flag.ErrHelp.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, o Options) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: fanout, hub, destination, server or e2e", ErrUsage)
	}
	switch args[0] {
	case "fanout":
		child, err := selfCommand()
		if err != nil {
			return err
		}
		return runFanoutCommand(ctx, args[1:], stdout, stderr, child)
	case "hub":
		return runHubCommand(ctx, args[1:], stdout, stderr)
	case "server":
		return runServerCommand(ctx, args[1:], stdout, stderr)
	case "destination":
		return runDestinationCommand(ctx, args[1:], stdout, stderr)
	case "e2e":
		return runE2ECommand(ctx, args[1:], stdout, stderr, o.StartDaemon)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, "kete bench fanout   drive the server (and, with --baseline, a bare gws hub) with subscribers and publishes")
		fmt.Fprintln(stderr, "                    (--self --nodes 3 --nats URL --compare-nodes 1: three nodes on NATS against one)")
		fmt.Fprintln(stderr, "kete bench hub      serve a bare gws broadcast hub (the baseline) at --listen")
		fmt.Fprintln(stderr, "kete bench server   serve the bundled server with one generated app (what --self starts; --nats URL: a cluster node)")
		fmt.Fprintln(stderr, "kete bench destination  events through one route vs the bare gws write loop")
		fmt.Fprintln(stderr, "kete bench e2e      webhook → spool → route → server → subscribers, in one process")
		return flag.ErrHelp
	}
	return fmt.Errorf("%w: unknown bench subcommand %q", ErrUsage, args[0])
}

// childCommand turns kete arguments into the argv and environment that run them in a
// child process: this executable, or in tests the test binary re-run as the CLI.
type childCommand func(args ...string) (argv, env []string)

// selfCommand runs children as this executable.
func selfCommand() (childCommand, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find this executable to start children: %w", err)
	}
	return func(args ...string) ([]string, []string) { return append([]string{exe}, args...), nil }, nil
}

// newFlags returns a subcommand's flag set ("kete bench NAME"), which reports errors
// instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kete bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args into fs and refuses positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return nil
}

// checkNATSURL accepts an empty value or nats:// and tls:// URLs (a comma-separated list).
func checkNATSURL(flagName, v string) error {
	if v == "" {
		return nil
	}
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			return fmt.Errorf("%w: %s %q: want nats://HOST:PORT (or tls://…)", ErrUsage, flagName, redact.URL(u))
		}
	}
	return nil
}

// pidList is --pid: one process id, or a cluster's node pids separated by commas.
type pidList []int

func (p *pidList) String() string {
	if p == nil {
		return ""
	}
	parts := make([]string, len(*p))
	for i, v := range *p {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (p *pidList) Set(s string) error {
	*p = nil
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return fmt.Errorf("pid %q: want a process id", f)
		}
		*p = append(*p, v)
	}
	return nil
}

// profilePath is the CPU profile file of one node: path itself for a lone node, else
// path with "-<side>-<node>" before its extension (cpu.prof → cpu-3n-1.prof).
func profilePath(path string, nodes, i int, alone bool) string {
	if alone {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%dn-%d%s", strings.TrimSuffix(path, ext), nodes, i+1, ext)
}

// reportFlags are the output flags every measuring subcommand shares.
type reportFlags struct{ json, html, svg string }

func (f *reportFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.json, "json", "", "also write the report as JSON to `FILE`")
	fs.StringVar(&f.html, "html", "", "also write an HTML page with inline SVG charts to `FILE`")
	fs.StringVar(&f.svg, "svg", "", "also write just the charts as one SVG to `FILE`")
}

// write prints rep as a table to stdout and writes the files the flags name.
func (f reportFlags) write(rep *report, stdout io.Writer) error {
	if err := rep.writeTable(stdout); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{f.json, rep.writeJSON}, {f.html, rep.writeHTML}, {f.svg, rep.writeSVG}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			return fmt.Errorf("report %s: %w", out.path, err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", out.path)
	}
	return nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(file)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}

// finish ends a comparison: a run that measured something is reported even when a later
// one failed (the error goes to stderr); one that measured nothing returns its error.
func finish(rep *report, measured bool, err error, out reportFlags, stdout, stderr io.Writer) error {
	if err != nil {
		if !measured {
			return err
		}
		fmt.Fprintf(stderr, "bench stopped early: %v\n", err)
		rep.compare()
	}
	return out.write(rep, stdout)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
