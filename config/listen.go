package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// CheckListenAddress reports whether addr is a listen address kete can bind: host:port
// (":8080", "127.0.0.1:8081", "[::1]:8080") with a port from 0 to 65535, 0 meaning any
// free port. net.Listen would say "invalid port" only at start; kete check and the
// loader say it with the key.
func CheckListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(`want host:port, e.g. ":8080" or "127.0.0.1:8081"`)
	}
	if port == "" {
		return errors.New(`no port: want host:port, e.g. ":8080"`)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		if _, lookupErr := net.LookupPort("tcp", port); lookupErr == nil {
			return nil // a service name such as "http"
		}
		return fmt.Errorf("port %q is not a number", port)
	}
	if n < 0 || n > 65535 {
		return fmt.Errorf("port %d is out of range: want 0 to 65535", n)
	}
	return nil
}

// listenVar reads a listen address (see CheckListenAddress).
func listenVar(p *string) func(string, string) error {
	return func(_, v string) error {
		if err := CheckListenAddress(v); err != nil {
			return err
		}
		*p = v
		return nil
	}
}
