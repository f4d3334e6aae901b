package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one subcommand as `help` lists it.
type command struct {
	name, args, summary string
	// env lists the environment variables the command reads, one group a
	// line: the names (NAME, or PREFIX_* for a family) and what they set.
	env [][2]string
}

// commands are the subcommands in the order `help` lists them.
func commands() []command {
	// The environment variables, grouped, shared by the commands that read them.
	envServe := [][2]string{
		{"BITNOVO_DEVICE_ID, BITNOVO_DEVICE_SECRET, BITNOVO_BASE_URL", "Bitnovo Pay credentials and API; no device id: sandbox mode"},
		{"CRYPTOPAY_SANDBOX", "true: sandbox mode even with credentials (same as --sandbox)"},
		{"CRYPTOPAY_DATA_DIR, CRYPTOPAY_DATABASE_URL", "where state lives: a directory (SQLite), or PostgreSQL"},
		{"CRYPTOPAY_TOOLSETS, CRYPTOPAY_READ_ONLY", "which tools are offered (same as --toolsets, --read-only)"},
		{"CRYPTOPAY_UI", "off: no MCP Apps cards (payment and shop cards in hosts that render them)"},
		{"CRYPTOPAY_TOOL_TIMEOUT, API_TIMEOUT, MAX_RETRIES, RETRY_DELAY", "deadlines (ms) and retries of provider calls"},
		{"CRYPTOPAY_LOG_LEVEL, LOG_LEVEL, LOG_FORMAT", "logs on stderr: level (ours wins over the generic one), text or json"},
		{"BITREFILL_*, SHOP_*", "Bitrefill shop: API credentials and URLs, purchases and spending limits"},
		{"WEBHOOK_*, TUNNEL_*, NGROK_*, ZROK_*", "webhook receiver, its port, and the tunnel that gives it a public URL"},
		{"CRYPTOPAY_TRUSTED_PROXIES", "proxies whose X-Forwarded-For names a webhook's source for the rate limit (default none)"},
		{"CRYPTOPAY_MAX_SUBSCRIPTIONS_*", "caps on resource subscriptions, per session and per caller"},
		{"OTEL_*", "OpenTelemetry tracing (OTLP exporter)"},
	}
	envHTTP := [][2]string{
		{"MCP_HTTP_TOKEN, MCP_HTTP_TOKEN_SCOPES", "static bearer token (needed off loopback unless OAuth) and its scopes"},
		{"MCP_OAUTH_*", "OAuth resource server: issuer, JWKS URL, audience"},
		{"MCP_HTTP_*", "public URL, allowed hosts and origins, stateless mode (same as --stateless), connection, time and session limits (same as their flags)"},
		{"CRYPTOPAY_TENANTS_FILE", "several merchants behind one server (with MCP_OAUTH_ISSUER)"},
	}
	envLog := [][2]string{
		{"CRYPTOPAY_LOG_LEVEL, LOG_LEVEL, LOG_FORMAT", "logs on stderr: level (ours wins over the generic one), text or json"},
	}
	return []command{
		{name: "stdio", args: "[flags]", summary: "serve MCP over stdin/stdout for a desktop client (the default command)", env: envServe},
		{name: "http", args: "[--listen HOST:PORT] [--stateless] [flags]", summary: "serve MCP over Streamable HTTP at /mcp (remote clients, several replicas)",
			env: slices.Concat(envServe, envHTTP)},
		{name: "sandbox", args: "[--listen 127.0.0.1:PORT] [--device-id UUID]", summary: "run only the fake Bitnovo Pay API, for trying a client against it", env: envLog},
		{name: "doctor", args: "[--json] [--sandbox] [--data-dir DIR]", summary: "check the setup (credentials, store, providers, webhooks) and say how to fix it",
			env: slices.Concat(envServe, [][2]string{{"CRYPTOPAY_TENANTS_FILE", "check every tenant's store and credentials"}})},
		{name: "version", summary: "print the version (also --version)"},
		{name: "help", args: "[COMMAND]", summary: "show this help, or a command's flags and environment (also -h, --help)"},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage is the top-level help: every subcommand with a line each.
func usage(w io.Writer) {
	fmt.Fprint(w, `cryptopay-mcp: an MCP server for crypto payments (Bitnovo Pay) and shopping (Bitrefill).
An MCP client (Claude Desktop, Claude Code, Cursor, VS Code, …) starts it; it then talks MCP on stdin/stdout.

Usage:
  cryptopay-mcp [COMMAND] [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Without BITNOVO_DEVICE_ID (or with --sandbox) it runs in sandbox mode against built-in fakes:
nothing real is charged or bought.

Try it:
  cryptopay-mcp doctor                                      check the setup
  npx @modelcontextprotocol/inspector cryptopay-mcp         call the tools in a browser
Exit status: 0 ok, 1 failure at run time (doctor: a check failed), 2 fix the configuration.

"cryptopay-mcp COMMAND --help" shows a command's flags and environment variables;
README.md has every variable, client configurations and the tools.
`)
}

// commandUsage is `COMMAND --help`: its synopsis, flags and environment.
func commandUsage(w io.Writer, c command, fs *flag.FlagSet) {
	name := "cryptopay-mcp " + c.name
	if c.name == "stdio" {
		name = "cryptopay-mcp [stdio]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", strings.TrimSpace(name+" "+c.args), strings.ToUpper(c.summary[:1])+c.summary[1:])
	if fs != nil {
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			out := fs.Output()
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(out)
		}
	}
	if len(c.env) > 0 {
		fmt.Fprint(w, "\nEnvironment (flags win; README.md \"Environment variables\" has each one and its default):\n")
		for _, e := range c.env {
			fmt.Fprintf(w, "  %s\n        %s\n", e[0], e[1])
		}
	}
}

// parseFlags parses a subcommand's flags. -h, -help and --help print the
// command's help to stdout (status 0); a bad flag or a stray argument is
// one line on stderr (status 2). done says the command should return code.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	c, _ := findCommand(fs.Name())
	fs.SetOutput(io.Discard) // errors are reported below, in one line
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		commandUsage(stdout, c, fs)
		return exitOK, true
	case err != nil:
		fmt.Fprintf(stderr, "cryptopay-mcp: %s: %v (see cryptopay-mcp %s --help)\n", fs.Name(), err, fs.Name())
		return exitConfig, true
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "cryptopay-mcp: %s: unexpected argument %q (see cryptopay-mcp %s --help)\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitConfig, true
	}
	return exitOK, false
}
