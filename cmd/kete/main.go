package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/kete-dev/kete/cmd/kete/internal/bench"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "kete demo [--listen ADDR] [--rate N]", "run the server, the daemon and an event generator, and print the dashboard link", runDemo},
		{"run", "kete run --config FILE [--stdin] [--shutdown-timeout DURATION]", "run the daemon: sources → spool → routes (and the server when kete.server.enabled)", runDaemon},
		{"server", "kete server --config FILE | --apps FILE [--listen ADDR]", "run the bundled pub/sub server", runServer},
		{"check", "kete check --config FILE | --apps FILE | FILE", "validate a configuration (routes, sources, spool, listeners, server, apps file) or an apps file, and describe it, secrets masked", runCheck},
		{"token", "kete token --key FILE|--secret S [--alg HS256] --sub NAME --perm P…", "mint a token for an app from a local key", runToken},
		{"deadletters", "kete deadletters list|replay ROUTE --config FILE", "show or re-send a route's dead letters", runDeadLetters},
		{"bench", "kete bench fanout|hub|destination|e2e …", "measure the server and the destination against bare baselines", runBench},
		{"version", "kete version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "kete", version)
			return nil
		}},
	}
}

func main() {
	// The first SIGINT or SIGTERM ends ctx: each command stops cleanly (the daemon
	// delivers what is spooled for --shutdown-timeout) and kete exits 0. Then the signals
	// get their default action back, so that a second Ctrl-C stops kete at once; what
	// is spooled is on disk and is delivered at the next start. (Under `go run`, the go
	// tool exits 1 after Ctrl-C whatever kete returns: golang/go#40467.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks an error the user fixes by reading the usage line.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage), errors.Is(err, bench.ErrUsage):
			fmt.Fprintf(stderr, "kete %s: %v\nusage: %s\n", c.name, err, c.usage)
			return 2
		default:
			fmt.Fprintf(stderr, "kete %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kete: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "kete forwards Keycloak events to WebSocket servers and fans them out.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'kete COMMAND -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kete "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// newLogger writes text to a terminal and JSON otherwise, so that log collectors get
// structure and people get something readable. KETE_LOG_LEVEL (debug, info, warn, error)
// overrides level, and KETE_LOG_FORMAT (text, json) the choice of format.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	if v := os.Getenv("KETE_LOG_LEVEL"); v != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err == nil {
			level = l
		} else {
			fmt.Fprintf(w, "kete: KETE_LOG_LEVEL=%q: want debug, info, warn or error; using %s\n", v, level)
		}
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceLogAttr}
	text := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		text = true
	}
	switch os.Getenv("KETE_LOG_FORMAT") {
	case "text":
		text = true
	case "json":
		text = false
	}
	if text {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// configFlag is the --config flag of every command that reads a configuration; its
// default is $KETE_CONFIG, so a container can set the file once.
func configFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("config", os.Getenv("KETE_CONFIG"), usage+" (default $KETE_CONFIG)")
}
