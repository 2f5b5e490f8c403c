package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
	"github.com/kete-dev/kete/server/natsbroker"
)

// listeningPrefix starts the first line `kete bench hub` and `kete bench server` print
// on stdout, followed by the address they listen on, so that a parent process that asked
// for port 0 learns the port.
const listeningPrefix = "listening "

// newSecret returns a random HS256 secret (64 hex characters).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// benchApp is the app a self-started server serves: authKey and adminKey are both the
// HS256 secret, everything else at its defaults.
func benchApp(appID, secret string) server.App {
	k := auth.Key{Source: auth.SourceRaw, Key: secret, Algorithms: []string{"HS256"}}
	// Every bench connection shares one token (mintToken): one connection per user off.
	return server.App{AppID: appID, Name: "kete bench", Enabled: true, AuthKey: k, AdminKey: k, OneConnectionPerUser: server.OnePerUserOff}
}

// mintToken signs an HS256 token with secret that may subscribe to anything public and
// publish on topic, valid for ttl.
func mintToken(secret, topic string, ttl time.Duration) (string, error) {
	return auth.Mint("HS256", []byte(secret), auth.MintClaims{
		Subject:     "kete-bench",
		Permissions: []string{auth.PublishPrefix + topic},
		TTL:         ttl,
	})
}

// serveOptions configure serveHub and serveServer.
type serveOptions struct {
	// Listen is the address (127.0.0.1:0).
	Listen string
	// AppID and Secret define serveServer's one app ("bench", required secret).
	AppID, Secret string
	// NATS, when set, is the nats:// URL serveServer's broker connects to (natsbroker),
	// so that several `kete bench server` processes act as one cluster; empty: the
	// memory broker. SubjectPrefix is the cluster's subject prefix (natsbroker's default
	// "kete"): nodes of one cluster share it, clusters sharing a NATS must not.
	NATS, SubjectPrefix string
	// ReadBufferSize is passed to server.Options.ReadBufferSize (0: the server's default),
	// to measure what a smaller read buffer saves per connection.
	ReadBufferSize int
	// CPUProfile, when set, is written with the process's CPU profile from start to stop.
	CPUProfile string
	// MemProfile, when set, is written with a heap profile (after a GC) on each SIGUSR1,
	// and a line of runtime memory figures goes to Stats: for finding what a connection
	// costs while the connections are open.
	MemProfile string
	Stats      io.Writer
	// Ready receives listeningPrefix + the address once listening.
	Ready io.Writer
}

// serveHub serves a Hub until ctx ends.
func serveHub(ctx context.Context, o serveOptions) error {
	h := newBareHub()
	defer h.Close()
	return serve(ctx, o, h)
}

// serveServer serves kete's pub/sub server (server.New with defaults and one HS256 app,
// on the memory broker or, with o.NATS, on NATS) until ctx ends: the same code
// `kete server` runs, in a process the bench can measure.
func serveServer(ctx context.Context, o serveOptions) error {
	if o.Secret == "" {
		return errors.New("bench server: no secret")
	}
	if o.AppID == "" {
		o.AppID = "bench"
	}
	opts := server.Options{Apps: []server.App{benchApp(o.AppID, o.Secret)}, ReadBufferSize: o.ReadBufferSize}
	if o.NATS != "" {
		b, err := newNATSBroker(ctx, o.NATS, o.SubjectPrefix)
		if err != nil {
			return fmt.Errorf("bench server: %w", err)
		}
		opts.Broker, opts.CloseBroker = b, true
	}
	srv, err := server.New(opts)
	if err != nil {
		if b, ok := opts.Broker.(*natsbroker.Broker); ok {
			_ = b.Close()
		}
		return fmt.Errorf("bench server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		return fmt.Errorf("bench server: %w", err)
	}
	defer srv.Close()
	return serve(ctx, o, srv)
}

func serve(ctx context.Context, o serveOptions, h http.Handler) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	if o.CPUProfile != "" {
		stop, err := startCPUProfile(o.CPUProfile)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer stop()
	}
	if o.MemProfile != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case <-usr1:
					writeHeapProfile(o.MemProfile, o.Stats)
				}
			}
		}()
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if o.Ready != nil {
		fmt.Fprintln(o.Ready, listeningPrefix+ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // hijacked WebSockets are closed by the handler's Close
	return nil
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// writeHeapProfile writes a heap profile to path and memory figures to stats.
func writeHeapProfile(path string, stats io.Writer) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if stats != nil {
		fmt.Fprintf(stats, "memory: heap in use %d KiB, stacks %d KiB, goroutines %d, sys %d KiB, heap objects %d\n",
			m.HeapInuse>>10, m.StackInuse>>10, runtime.NumGoroutine(), m.Sys>>10, m.HeapObjects)
	}
	f, err := os.Create(path)
	if err != nil {
		if stats != nil {
			fmt.Fprintf(stats, "heap profile %s: %v\n", path, err)
		}
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// childProcess is a server or hub this process started, to measure it from outside.
type childProcess struct {
	Addr string
	PID  int
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startChild runs argv (for example os.Executable, "bench", "hub", "--listen",
// "127.0.0.1:0") with this process's environment plus env ("KEY=value"), and waits, at
// most 30s, for its listeningPrefix line. The child's stderr goes to stderr.
func startChild(ctx context.Context, argv, env []string, stderr io.Writer) (*childProcess, error) {
	if len(argv) == 0 {
		return nil, errors.New("start child: no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), env...)
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(argv, " "), err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(argv, " "), err)
	}
	c := &childProcess{PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			once.Do(func() { lines <- sc.Text() })
		}
		once.Do(func() { close(lines) })
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case line, ok := <-lines:
		if addr, found := strings.CutPrefix(line, listeningPrefix); ok && found {
			c.Addr = strings.TrimSpace(addr)
			return c, nil
		}
		_ = c.stop()
		return nil, fmt.Errorf("start %s: first line %q, want %q ADDR", argv[0]+" "+strings.Join(argv[1:], " "), line, listeningPrefix)
	case <-c.done:
		return nil, fmt.Errorf("start %s: exited before listening: %v", strings.Join(argv, " "), c.err)
	case <-t.C:
	case <-ctx.Done():
	}
	_ = c.stop()
	return nil, fmt.Errorf("start %s: not listening within 30s", strings.Join(argv, " "))
}

// stop interrupts the child (so that it writes its profile), and kills it after 10s.
func (c *childProcess) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("child %d did not stop on SIGINT within 10s; killed", c.PID)
}

// serveLoopback serves h on 127.0.0.1 at a free port in this process, for the built-in
// sink; stop closes the listener.
func serveLoopback(h http.Handler) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen 127.0.0.1:0: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	return ln.Addr().String(), func() { _ = hs.Close(); <-done }, nil
}
