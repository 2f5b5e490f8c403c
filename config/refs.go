package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"syscall"
)

// MaxFileRefBytes bounds what one ${file:/path} reads: 1 MiB holds any password, token or
// PEM bundle, and a mistake such as ${file:/dev/zero} or a 2 GiB log is refused instead
// of filling memory.
const MaxFileRefBytes = 1 << 20

var refPattern = regexp.MustCompile(`\$\{(env|file):([^}]*)\}`)

// resolveRefs replaces ${env:NAME} and ${file:/path} in value. Template variables such as
// ${realmLowerCase} are left alone. A reference without its closing brace is an error, so
// that "${file:/run/secrets/pw" is never sent as a password. An ended ctx stops it before
// the next file and between reads of one.
func resolveRefs(ctx context.Context, value string, lookupEnv func(string) (string, bool)) (string, error) {
	if err := unterminatedRef(value); err != nil {
		return "", err
	}
	var errs []error
	out := refPattern.ReplaceAllStringFunc(value, func(ref string) string {
		m := refPattern.FindStringSubmatch(ref)
		kind, arg := m[1], strings.TrimSpace(m[2])
		if kind == "env" {
			v, ok := lookupEnv(arg)
			if !ok {
				errs = append(errs, fmt.Errorf("${env:%s}: environment variable %s is not set", arg, arg))
				return ""
			}
			return v
		}
		b, err := readFileRef(ctx, arg)
		if err != nil {
			errs = append(errs, fmt.Errorf("${file:%s}: %w", arg, err))
			return ""
		}
		// One line ending, as editors and `echo` write it, is not part of the secret.
		s := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(s, "\r")
	})
	return out, errors.Join(errs...)
}

// unterminatedRef reports a ${env: or ${file: that has no closing brace.
func unterminatedRef(value string) error {
	for _, ref := range [...]struct{ open, want string }{{"${env:", "${env:NAME}"}, {"${file:", "${file:/path}"}} {
		open := ref.open
		rest := value
		for {
			i := strings.Index(rest, open)
			if i < 0 {
				break
			}
			rest = rest[i+len(open):]
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return fmt.Errorf("%s reference without its closing }: want %s", open, ref.want)
			}
			rest = rest[end+1:]
		}
	}
	return nil
}

// errNotRegular is a ${file:} path that names a FIFO, a device, a socket or a directory.
var errNotRegular = errors.New("not a regular file")

// readFileRef reads a regular file of at most MaxFileRefBytes. It refuses anything else
// before reading, and opens with O_NONBLOCK so that a FIFO swapped in after the check
// cannot block the open either.
func readFileRef(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := regularFile(os.Stat(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := regularFile(f.Stat()); err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if len(out) > MaxFileRefBytes {
			return nil, fmt.Errorf("larger than %d bytes (1 MiB), the most a ${file:} reference reads", MaxFileRefBytes)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func regularFile(fi fs.FileInfo, err error) error {
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w (%s): a ${file:} reference reads regular files only", errNotRegular, fileKind(fi.Mode()))
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "type " + m.Type().String()
}
