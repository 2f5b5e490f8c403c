package main

import (
	"context"
	"io"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	path := configFlag(fs, "configuration file (.properties, .json, .yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, *path)
	if err != nil {
		return err
	}
	cfg.Describe(stdout)
	return nil
}
