// Command cryptopay-mcp is an MCP server that lets AI agents take crypto
// payments through Bitnovo Pay. With no credentials it runs in sandbox mode
// against a built-in fake of the provider API.
//
//	cryptopay-mcp [stdio] [flags]          serve MCP over stdin/stdout (default)
//	cryptopay-mcp sandbox --listen ADDR    run the fake Bitnovo Pay API alone
//	cryptopay-mcp doctor [--json]          check the setup
//	cryptopay-mcp version                  print the version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/logging"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/stdio"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// SandboxDeviceID is the device id the built-in fake is started with.
const SandboxDeviceID = "5a4d0b0e-0000-4000-8000-000000000000"

const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

func main() {
	// A client that closes our stdout must not kill the process: by
	// default Go dies of SIGPIPE on the first write to a broken stdout,
	// while creates in flight have yet to record their outcome. Ignored,
	// the write fails with EPIPE and every exit path drains (internal/stdio).
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: testable, and every exit path returns
// a status instead of calling os.Exit.
func run(ctx context.Context, args []string, stdin io.ReadCloser, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "stdio"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || isTopLevelFlag(args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "stdio":
		return runStdio(ctx, args, stdin, stdout, stderr, getenv)
	case "http":
		return runHTTP(ctx, args, stdout, stderr, getenv)
	case "sandbox":
		return runSandbox(ctx, args, stdout, stderr, getenv)
	case "version", "--version", "-version":
		if code, done := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args, stdout, stderr); done {
			return code
		}
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "doctor":
		return runDoctor(ctx, args, stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		if len(args) == 0 || isTopLevelFlag(args[0]) && args[0] != "--version" && args[0] != "-version" {
			usage(stdout)
			return exitOK
		}
		c, ok := findCommand(args[0])
		switch {
		case !ok:
			fmt.Fprintf(stderr, "cryptopay-mcp: help: unknown command %q (%s)\n", args[0], commandNames())
			return exitConfig
		case c.name == "help" || c.name == "version": // no flags
			commandUsage(stdout, c, nil)
			return exitOK
		}
		// `help http` is `http --help`.
		return run(ctx, []string{args[0], "--help"}, stdin, stdout, stderr, getenv)
	default:
		fmt.Fprintf(stderr, "cryptopay-mcp: unknown command %q (%s; see cryptopay-mcp --help)\n", cmd, commandNames())
		return exitConfig
	}
}

// isTopLevelFlag reports whether arg, in first place, is a command of its
// own rather than a flag of the default stdio command.
func isTopLevelFlag(arg string) bool {
	switch arg {
	case "--version", "-version", "-h", "-help", "--help":
		return true
	}
	return false
}

// commandNames is "want stdio, http, …": for unknown-command errors.
func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return "want " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func runStdio(ctx context.Context, args []string, stdin io.ReadCloser, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("stdio", flag.ContinueOnError)
	var f config.Flags
	f.Bind(fs)
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	cfg, err := config.Load(getenv, f)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "cryptopay-mcp: config: %s\n", line)
		}
		return exitConfig
	}
	if cfg.Tenants != nil {
		fmt.Fprintf(stderr, "cryptopay-mcp: config: %s: only for `cryptopay-mcp http` with MCP_OAUTH_ISSUER (stdio serves one merchant)\n", config.EnvTenantsFile)
		return exitConfig
	}
	stdioCaller := access.Caller{Kind: access.KindStdio, Scopes: access.AllScopes()}
	a, code := newApp(ctx, cfg, stderr, appOptions{anonymous: stdioCaller, getenv: getenv})
	if a == nil {
		return code
	}
	defer a.Close()
	log, server := a.log, a.server
	// The project's own transport (internal/stdio says why not the
	// go-sdk's): a bad line gets an error and the session goes on. Every
	// end (end of input, a read error, a signal) takes the same path: the
	// calls already read are answered, so a create that reached Bitnovo
	// records its outcome, before the session and then the store close.
	// Hence the server runs without the signal's context and the transport
	// takes the signal as the end of input.
	// On a terminal a person gets a word of explanation, and a typed line
	// that is not JSON-RPC a hint instead of a JSON-RPC parse error
	// (terminal.go); a client's pipe is read as it is.
	var in io.Reader = stdin
	if stdinIsTerminal(stdin) {
		welcome(stderr, cfg.Sandbox())
		in = struct {
			io.Reader
			io.Closer
		}{terminalInput(stdin, stderr), stdin}
	}
	// Task status listens are served next to the SDK (tasklisten.go); they
	// end with the input.
	in, inputEnded := endSignal(in)
	err = server.Run(context.WithoutCancel(ctx), &taskListenTransport{m: a.tasks, owner: mcpserver.TaskOwner(stdioCaller), log: log, inputEnded: inputEnded, Transport: &stdio.Transport{
		In:    in,
		Out:   stdout,
		Drain: cfg.ToolTimeout + 5*time.Second,
		Stop:  ctx.Done(),
		Log:   log,
		// On a signal, a read-only call (a wait_for_payment, a status) is
		// cancelled rather than waited for: it has nothing to record.
		Abandon: func(req *jsonrpc.Request) bool {
			if req.Method != "tools/call" {
				return true
			}
			var p struct {
				Name string `json:"name"`
			}
			return json.Unmarshal(req.Params, &p) == nil && a.readOnly[p.Name]
		},
	}})
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, io.EOF):
		log.Info("cryptopay-mcp stopped")
		return exitOK
	default:
		log.Error("cryptopay-mcp stopped", "error", err)
		return exitFail
	}
}

func sandboxURL(cfg config.Config) string {
	if cfg.Sandbox() {
		return cfg.BaseURL
	}
	return ""
}

// startFake serves the fake Bitnovo API on addr and returns its base URL
// and a function that stops it.
func startFake(deviceID, addr string) (*fakebitnovo.Server, string, func(), error) {
	ln, base, err := listen(addr)
	if err != nil {
		return nil, "", nil, err
	}
	fake := fakebitnovo.New(fakebitnovo.Options{DeviceID: deviceID, PublicURL: base})
	srv := serve(ln, fake)
	return fake, base, func() { shutdown(srv); _ = fake.Close() }, nil
}

// listen opens a TCP listener on addr and returns it with its http:// base URL.
func listen(addr string) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// serve serves h on ln in the background; stop it with shutdown.
func serve(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8484", "loopback address to serve the fake Bitnovo Pay API on")
	deviceID := fs.String("device-id", "", "only accept this X-Device-Id (default: any UUID)")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "cryptopay-mcp: config: --listen %q: %v\n", *listen, err)
		return exitConfig
	}
	if !loopback.Host(host) {
		fmt.Fprintf(stderr, "cryptopay-mcp: config: --listen %q: the sandbox only listens on loopback addresses\n", *listen)
		return exitConfig
	}
	var problems config.Problems
	ls := config.LoadLog(getenv, "", &problems)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "cryptopay-mcp: config: %s\n", p)
		}
		return exitConfig
	}
	log := logging.NewFormat(stderr, ls.Level, ls.Format)
	for _, w := range ls.Warnings {
		log.Warn("setting ignored", "problem", w)
	}
	_, base, stop, err := startFake(*deviceID, *listen)
	if err != nil {
		// The address is the user's to change (or to free): configuration.
		fmt.Fprintf(stderr, "cryptopay-mcp: config: --listen: %v\n", err)
		return exitConfig
	}
	log.Info("sandbox Bitnovo Pay API listening", "url", base, "admin", base+"/_sandbox/orders")
	<-ctx.Done()
	stop()
	return exitOK
}
