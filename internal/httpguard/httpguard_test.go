package httpguard

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// waitLimit bounds every wait; the deadlines under test are far shorter.
const waitLimit = 10 * time.Second

// start serves h on 127.0.0.1 with o and returns the listener's address and limiter.
func start(t *testing.T, h http.Handler, o Options) (string, *Limiter) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", nil, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, o, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	lim, _ := ln.(*Limiter)
	return ln.Addr().String(), lim
}

// dialFrom connects to addr from the local IP from (127.0.0.2 is loopback on Linux too).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: waitLimit}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads c until the server closes it; it fails if that takes waitLimit.
func waitClosed(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open for %v", what, waitLimit)
	}
	return string(b)
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })

// TestSlowClientsAreCutOff: a client that trickles its headers, one that trickles its body
// (the handler, about to check an HMAC over it, gets an error instead of waiting), and a
// keep-alive connection that sends no next request are all closed by the server.
func TestSlowClientsAreCutOff(t *testing.T) {
	bodyErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, err := io.ReadAll(r.Body) // a webhook reads the body before it can authenticate it
			bodyErr <- err
			if err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	short := 200 * time.Millisecond
	addr, _ := start(t, h, Options{ReadHeaderTimeout: short, ReadTimeout: 2 * short, IdleTimeout: short})

	t.Run("headers", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", addr)
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
		waitClosed(t, c, "slow headers")
	})
	t.Run("nothing at all", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", addr)
		waitClosed(t, c, "a silent connection")
	})
	t.Run("body", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", addr)
		_, _ = io.WriteString(c, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"type\":")
		waitClosed(t, c, "a slow body")
		select {
		case err := <-bodyErr:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("the handler's body read ended with %v, want a timeout", err)
			}
		case <-time.After(waitLimit):
			t.Fatal("the handler's body read never ended")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", addr)
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitClosed(t, c, "an idle keep-alive connection")
	})
}

// TestPerAddressCap: the connection over an address's cap is answered 503 and closed
// before any request; another address still gets in, and a slot freed by a close is
// taken again.
func TestPerAddressCap(t *testing.T) {
	const max = 3
	addr, lim := start(t, ok, Options{MaxConnsPerAddress: max, ReadHeaderTimeout: time.Hour, ReadTimeout: time.Hour, IdleTimeout: time.Hour})
	one := netip.MustParseAddr("127.0.0.1")
	var held []net.Conn
	for range max {
		held = append(held, dialFrom(t, "127.0.0.1", addr))
	}
	waitFor(t, "the held connections accepted", func() bool { return lim.Open(one) == max })

	over := dialFrom(t, "127.0.0.1", addr)
	got := waitClosed(t, over, "the connection over the cap")
	if !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Retry-After: 1") || !strings.Contains(got, "too_many_connections") {
		t.Fatalf("the connection over the cap got %q, want a 503 with Retry-After", got)
	}
	if lim.Refused() != 1 {
		t.Fatalf("refused %d, want 1", lim.Refused())
	}

	other := dialFrom(t, "127.0.0.2", addr)
	if status := get(t, other); status != 200 {
		t.Fatalf("127.0.0.2 got %d while 127.0.0.1 is at its cap, want 200", status)
	}

	held[0].Close()
	waitFor(t, "the closed connection's slot given back", func() bool { return lim.Open(one) == max-1 })
	again := dialFrom(t, "127.0.0.1", addr)
	if status := get(t, again); status != 200 {
		t.Fatalf("after a close, 127.0.0.1 got %d, want 200", status)
	}
}

// TestCapOff: a negative cap takes every connection.
func TestCapOff(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", nil, Options{MaxConnsPerAddress: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, ok := ln.(*Limiter); ok {
		t.Fatal("a negative cap still wrapped the listener")
	}
}

func get(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
