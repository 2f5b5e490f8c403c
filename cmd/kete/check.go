package main

import (
	"context"
	"io"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	path := configFlag(fs, "configuration file (.properties, .json, .yaml)")
	apps := fs.String("apps", "", "the bundled server's apps file (JSON or YAML), checked on its own or instead of kete.server.apps-file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 && !flagGiven(fs, "config") {
		*path = "" // a file argument, not $KETE_CONFIG
	}
	return checkFiles(ctx, *path, *apps, fs.Args(), stdout)
}
