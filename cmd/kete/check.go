package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kete-dev/kete/config"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	path := configFlag(fs, "configuration file (.properties, .json, .yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("%w: --config is required", errUsage)
	}
	cfg, err := config.LoadContext(ctx, *path, environ())
	if err != nil {
		return err
	}
	cfg.Describe(stdout)
	return nil
}
