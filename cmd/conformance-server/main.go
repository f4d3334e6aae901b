// Command conformance-server serves the product's MCP server, in sandbox
// mode, through the product's own HTTP stack (internal/mcphttp: the
// revision router, Host/Origin checks, metrics), with the fixtures of the
// official conformance suite's reference server added to it, so that
// `conformance server --url …` can run every scenario of both revisions
// against one process:
//
//	conformance-server --listen 127.0.0.1:0
//
// It prints "MCP Streamable HTTP listening url=http://…/mcp" to stderr once
// it serves, and stops on SIGINT or SIGTERM. It is a test fixture: it
// keeps its state in a temporary directory that it removes on exit.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/logging"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcphttp"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/metrics"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// sandboxDeviceID is the fake Bitnovo Pay's device id.
const sandboxDeviceID = "5a4d0b0e-0000-4000-8000-000000000000"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("conformance-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:3000", "loopback host:port to serve on (port 0: any free port)")
	stateless := fs.Bool("stateless", false, "serve without sessions, as cryptopay-mcp http --stateless")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "conformance-server: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || !mcphttp.IsLoopbackHost(host) {
		fmt.Fprintf(stderr, "conformance-server: --listen %q: want a loopback host:port, e.g. 127.0.0.1:3000\n", *listen)
		return 2
	}
	log := logging.New(stderr, "info")
	h, stopServer, err := newHandler(ctx, *listen, *stateless, log)
	if err != nil {
		fmt.Fprintf(stderr, "conformance-server: %v\n", err)
		return 1
	}
	defer stopServer()
	srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(h.ln) }()
	log.Info("MCP Streamable HTTP listening", "url", "http://"+h.ln.Addr().String()+"/mcp", "stateless", *stateless)
	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("HTTP server failed", "error", err)
		return 1
	}
	h.handler.CloseStreams()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("HTTP server failed", "error", err)
		return 1
	}
	return 0
}

// served is a bound listener and the handler to serve on it.
type served struct {
	ln      net.Listener
	handler *mcphttp.Handler
	server  *mcp.Server
}

// newHandler builds the sandbox product server with the fixtures and the
// product's HTTP handler around it, listening on addr. stop releases
// everything but the listener, which the HTTP server closes.
func newHandler(ctx context.Context, addr string, stateless bool, log *slog.Logger) (*served, func(), error) {
	var closers []func()
	stop := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*served, func(), error) { stop(); return nil, func() {}, err }

	dir, err := os.MkdirTemp("", "conformance-server-")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { _ = os.RemoveAll(dir) })
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "cryptopay.db"))
	if err != nil {
		return fail(fmt.Errorf("store: %w", err))
	}
	closers = append(closers, func() { _ = st.Close() })

	// The sandbox: the fake Bitnovo Pay API on a loopback port.
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	base := "http://" + fln.Addr().String()
	fake := fakebitnovo.New(fakebitnovo.Options{DeviceID: sandboxDeviceID, PublicURL: base})
	fsrv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = fsrv.Serve(fln) }()
	closers = append(closers, func() { _ = fsrv.Close(); _ = fake.Close() })
	client, err := bitnovo.New(base, sandboxDeviceID, bitnovo.Options{Logger: log, UserAgent: "cryptopay-mcp-conformance"})
	if err != nil {
		return fail(fmt.Errorf("sandbox client: %w", err))
	}
	svc := payments.New(client, st, payments.Options{Sandbox: true, Logger: log})

	// Tasks: the product's machinery, with the fixtures' task kinds.
	taskMgr := tasks.New(tasks.Options{Store: st, Logger: log})
	taskKinds(taskMgr)
	anon := access.Caller{Kind: access.KindAnonymous, Scopes: access.AllScopes()}
	s, err := mcpserver.New(mcpserver.Deps{Version: "conformance", Payments: svc, Sandbox: true, Logger: log, Subscribable: fixtureURI,
		Tasks: taskMgr, Anonymous: anon})
	if err != nil {
		return fail(err)
	}
	taskCtx, stopTasks := context.WithCancel(ctx)
	taskMgr.Start(taskCtx)
	closers = append(closers, func() { stopTasks(); taskMgr.Wait() })
	newFixtures().register(s)
	s.AddReceivingMiddleware(fixtureCompletions)
	m := metrics.New()
	s.AddReceivingMiddleware(m.MCPMiddleware())

	mo := mcphttp.MCPOptions{Stateless: stateless, Logger: log}
	if !stateless {
		mo.SessionTimeout = 30 * time.Minute
		mo.EventStore = mcp.NewMemoryEventStore(nil) // server-sse-polling resumes its stream
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(err)
	}
	h, err := mcphttp.New(mcphttp.Options{
		MCP: mcphttp.TaskListen(mcphttp.NewMCPHandler(func(*http.Request) *mcp.Server { return s }, mo),
			func(*http.Request) (*tasks.Manager, string) { return taskMgr, mcpserver.TaskOwner(anon) }, mcp.DefaultMaxRequestBodyBytes, log),
		Config:  mcphttp.Config{Listen: addr, Stateless: stateless},
		Addr:    ln.Addr(),
		Metrics: m,
		Logger:  log,
	})
	if err != nil {
		_ = ln.Close()
		return fail(err)
	}
	closers = append(closers, func() {
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	})
	return &served{ln: ln, handler: h, server: s}, stop, nil
}

// fixtureCompletions answers completion/complete for the fixture prompts
// as the reference server does (no values); the product's own completion
// handler refuses prompts it does not know.
func fixtureCompletions(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if p, ok := req.GetParams().(*mcp.CompleteParams); ok && method == "completion/complete" && p.Ref != nil &&
			((p.Ref.Type == "ref/prompt" && fixturePrompt(p.Ref.Name)) || (p.Ref.Type == "ref/resource" && fixtureURI(p.Ref.URI))) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}, Total: 0}}, nil
		}
		return next(ctx, method, req)
	}
}

// mustB64 decodes one of the fixed base64 samples of fixtures.go (valid
// constants: the error cannot happen).
func mustB64(s string) []byte {
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}
