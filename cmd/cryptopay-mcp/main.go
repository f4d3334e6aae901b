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
	"cmp"
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
	"runtime/debug"
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

// version, commit and date are set at link time by the release build
// (.ci/ship.sh): -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var version, commit, date = "", "", ""

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

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what `version` and `--version` print: the version, and
// the commit and build date when the release build set them.
func versionLine() string {
	line := "cryptopay-mcp " + buildVersion()
	var extra []string
	if commit != "" {
		extra = append(extra, "commit "+commit)
	}
	if date != "" {
		extra = append(extra, "built "+date)
	}
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, ", ") + ")"
	}
	return line
}

// run is main without the process: testable, and every exit path returns
// a status instead of calling os.Exit.
func run(ctx context.Context, args []string, stdin io.ReadCloser, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "stdio"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || args[0] == "--version" || args[0] == "-version") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "stdio":
		return runStdio(ctx, args, stdin, stdout, stderr, getenv)
	case "http":
		return runHTTP(ctx, args, stdout, stderr, getenv)
	case "sandbox":
		return runSandbox(ctx, args, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "doctor":
		return runDoctor(ctx, args, stdout, stderr, getenv)
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "cryptopay-mcp: unknown command %q (want stdio, http, sandbox, doctor or version)\n", cmd)
		return exitConfig
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  cryptopay-mcp [stdio] [--sandbox] [--data-dir DIR] [--log-level LEVEL]
                [--toolsets payments,webhooks,shop,shop-purchase] [--read-only]
  cryptopay-mcp http [--listen 127.0.0.1:8080] [--stateless] [stdio flags]
  cryptopay-mcp sandbox --listen 127.0.0.1:PORT
  cryptopay-mcp doctor [--json] [--sandbox] [--data-dir DIR]
  cryptopay-mcp version            (also --version)

Without BITNOVO_DEVICE_ID (or with CRYPTOPAY_SANDBOX=true) the server runs in
sandbox mode against a built-in fake of the Bitnovo Pay API. See README.md for
every environment variable.
`)
}

func runStdio(ctx context.Context, args []string, stdin io.ReadCloser, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("stdio", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f config.Flags
	f.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cryptopay-mcp: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
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
	// Task status listens are served next to the SDK (tasklisten.go).
	err = server.Run(context.WithoutCancel(ctx), &taskListenTransport{m: a.tasks, owner: mcpserver.TaskOwner(stdioCaller), log: log, Transport: &stdio.Transport{
		In:    stdin,
		Out:   stdout,
		Drain: cfg.ToolTimeout + 5*time.Second,
		Stop:  ctx.Done(),
		Log:   log,
		// A read-only call (a wait_for_payment, a status) is cancelled at
		// the end of input rather than waited for: it has nothing to
		// record and nobody is left to read its answer.
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

func runSandbox(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8484", "address to serve the fake Bitnovo Pay API on")
	deviceID := fs.String("device-id", "", "only accept this X-Device-Id (default: any UUID)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
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
	log := logging.New(stderr, strings.ToLower(cmp.Or(getenv("LOG_LEVEL"), "info")))
	_, base, stop, err := startFake(*deviceID, *listen)
	if err != nil {
		fmt.Fprintf(stderr, "cryptopay-mcp: %v\n", err)
		return exitFail
	}
	log.Info("sandbox Bitnovo Pay API listening", "url", base, "admin", base+"/_sandbox/orders")
	<-ctx.Done()
	stop()
	return exitOK
}
