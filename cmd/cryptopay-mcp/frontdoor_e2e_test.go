package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
)

// The front door (issue 21), tested through the built binary: help, exit
// codes, a terminal run, logs and doctor as a user meets them.

// runBin runs the binary with env (on top of baseEnv) and stdin closed,
// and returns its stdout, stderr and exit status.
func runBin(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	all := baseEnv(t, t.TempDir())
	delete(all, "LOG_LEVEL")
	for k, v := range env {
		all[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = envList(all)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		out, errOut, code := runBin(t, nil, args...)
		if code != exitOK || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands() {
			if !regexp.MustCompile(`(?m)^  ` + c.name + ` +\S`).MatchString(out) {
				t.Errorf("%v: no line for %s:\n%s", args, c.name, out)
			}
		}
		if strings.Contains(out, "Usage of") {
			t.Errorf("%v: the flag package's default usage:\n%s", args, out)
		}
	}
	// Each command's help: its flags and the environment it reads.
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"http", "--help"}, []string{"Usage: cryptopay-mcp http", "-listen string", "-stateless", "-toolsets string", "MCP_HTTP_TOKEN", "MCP_OAUTH_*", "CRYPTOPAY_TENANTS_FILE", "BITNOVO_DEVICE_ID", "CRYPTOPAY_LOG_LEVEL"}},
		{[]string{"help", "http"}, []string{"Usage: cryptopay-mcp http", "-listen string"}},
		{[]string{"doctor", "--help"}, []string{"Usage: cryptopay-mcp doctor", "-json", "-toolsets string", "BITREFILL_*", "WEBHOOK_*"}},
		{[]string{"sandbox", "-h"}, []string{"Usage: cryptopay-mcp sandbox", "-listen string", "-device-id string", "LOG_FORMAT"}},
		{[]string{"stdio", "--help"}, []string{"Usage: cryptopay-mcp [stdio]", "-read-only", "-data-dir string", "CRYPTOPAY_DATA_DIR"}},
		{[]string{"--sandbox", "--help"}, []string{"Usage: cryptopay-mcp [stdio]"}},
		{[]string{"version", "--help"}, []string{"Usage: cryptopay-mcp version\n"}},
		{[]string{"help", "--help"}, []string{"Commands:"}},
	} {
		out, errOut, code := runBin(t, nil, tt.args...)
		if code != exitOK || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: help lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}

// TestHelpCoversREADMEVariables: every variable of the README's table is
// named in the help of the commands that read it, by name or by its
// PREFIX_* family.
func TestHelpCoversREADMEVariables(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Environment variables")
	if start < 0 {
		t.Fatal("README has no Environment variables section")
	}
	text = text[start:]
	if end := strings.Index(text[3:], "\n## "); end > 0 {
		text = text[:end+3]
	}
	var names []string
	row := regexp.MustCompile("(?m)^\\| (`[A-Z][A-Z0-9_]+`(?:, `[A-Z][A-Z0-9_]+`)*) \\|")
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		for _, n := range regexp.MustCompile("[A-Z][A-Z0-9_]+").FindAllString(m[1], -1) {
			names = append(names, n)
		}
	}
	if len(names) < 20 {
		t.Fatalf("only %d variables found in the README table", len(names))
	}
	covered := func(c command, name string) bool {
		for _, e := range c.env {
			for _, item := range strings.Split(e[0], ", ") {
				if item == name || (strings.HasSuffix(item, "*") && strings.HasPrefix(name, strings.TrimSuffix(item, "*"))) {
					return true
				}
			}
		}
		return false
	}
	httpOnly := func(n string) bool { return strings.HasPrefix(n, "MCP_HTTP_") || strings.HasPrefix(n, "MCP_OAUTH_") }
	for _, n := range names {
		for _, cmd := range []string{"stdio", "http", "doctor"} {
			c, _ := findCommand(cmd)
			if cmd != "http" && (httpOnly(n) || (cmd == "stdio" && n == "CRYPTOPAY_TENANTS_FILE")) {
				continue
			}
			if !covered(c, n) {
				t.Errorf("%s --help does not name %s (README: Environment variables)", cmd, n)
			}
		}
	}
}

// TestExitCodes: 2 for what the user must fix in the configuration (a
// port in use included, for every listener), 1 for failures at run time,
// 0 otherwise. The README's table says the same.
func TestExitCodes(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().String()
	_, busyPort, _ := net.SplitHostPort(busy)
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"help", []string{"--help"}, nil, exitOK, ""},
		{"version", []string{"--version"}, nil, exitOK, ""},
		{"unknown command", []string{"serve"}, nil, exitConfig, `unknown command "serve"`},
		{"unknown flag", []string{"http", "--port", "1"}, nil, exitConfig, "cryptopay-mcp: http: flag provided but not defined: -port (see cryptopay-mcp http --help)"},
		{"stray argument", []string{"doctor", "now"}, nil, exitConfig, `unexpected argument "now"`},
		{"stray argument to version", []string{"version", "now"}, nil, exitConfig, `cryptopay-mcp: version: unexpected argument "now"`},
		{"bad variable", nil, map[string]string{"MAX_RETRIES": "many"}, exitConfig, "cryptopay-mcp: config: MAX_RETRIES"},
		{"http port in use", []string{"http", "--listen", busy}, nil, exitConfig, "cryptopay-mcp: config: --listen: cannot listen on " + busy},
		{"webhook port in use", nil, map[string]string{"WEBHOOK_ENABLED": "true", "WEBHOOK_PORT": busyPort}, exitConfig, "cryptopay-mcp: config: webhooks:"},
		{"sandbox port in use", []string{"sandbox", "--listen", busy}, nil, exitConfig, "cryptopay-mcp: config: --listen:"},
		{"doctor finds a failure", []string{"doctor"}, map[string]string{"CRYPTOPAY_TOOLSETS": "payments",
			"BITNOVO_DEVICE_ID": "11111111-2222-4333-8444-555555555555", "BITNOVO_BASE_URL": "http://" + busy, "API_TIMEOUT": "1000", "WEBHOOK_ENABLED": "false"}, exitFail, ""},
		{"stdin closes", nil, nil, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runBin(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, tt.code, tt.stderr, errOut)
			}
		})
	}
}

// TestTerminalRun runs the server on a pseudo-terminal (util-linux
// script): it says what it is and how to try it, a typed word gets a hint
// and no exit, a JSON-RPC line still gets its answer, Ctrl-D ends it with 0.
func TestTerminalRun(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("util-linux script is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, scriptBin, "-qec", binPath, "/dev/null")
	env := baseEnv(t, t.TempDir())
	delete(env, "LOG_LEVEL")
	cmd.Env = append(envList(env), "TERM=dumb")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string) {
		t.Helper()
		for !strings.Contains(out.String(), what) {
			if ctx.Err() != nil {
				t.Fatalf("no %q in the terminal:\n%s", what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("Quit with Ctrl-D")
	for _, want := range []string{"This is cryptopay-mcp, an MCP server (sandbox mode", "waiting for an MCP client",
		"npx @modelcontextprotocol/inspector " + binPath, binPath + " doctor", `{"mcpServers":{"cryptopay":{"command":"` + binPath + `"}}}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the welcome lacks %q:\n%s", want, out.String())
		}
	}
	io.WriteString(stdin, "hello\n")
	waitFor(`"hello" is not an MCP message`)
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":7,"method":"ping"}`+"\n")
	waitFor(`{"jsonrpc":"2.0","id":7,"result":{}}`)
	io.WriteString(stdin, "\x04") // Ctrl-D: end of input on the terminal
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "invalid character") {
		t.Errorf("the typed word reached the transport:\n%s", out.String())
	}
	// Piped stdin (a client) gets no welcome.
	_, errOut, _ := runBin(t, nil)
	if strings.Contains(errOut, "This is cryptopay-mcp") {
		t.Errorf("welcome without a terminal:\n%s", errOut)
	}
}

// TestLogSettings: LOG_FORMAT=json gives JSON lines; another program's
// LOG_LEVEL=trace warns instead of stopping the server; the start-up line
// is short and the configuration is a debug line.
func TestLogSettings(t *testing.T) {
	_, errOut, code := runBin(t, map[string]string{"LOG_FORMAT": "json", "LOG_LEVEL": "trace"})
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	var sawWarning, sawStart bool
	sc := bufio.NewScanner(strings.NewReader(errOut))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON log line: %q", sc.Text())
		}
		p, _ := line["problem"].(string)
		sawWarning = sawWarning || (line["level"] == "WARN" && strings.Contains(p, `LOG_LEVEL="trace"`))
		if line["msg"] == "cryptopay-mcp starting" {
			sawStart = true
			if _, ok := line["config"]; ok || len(sc.Text()) > 300 {
				t.Errorf("the start-up line carries the configuration (%d bytes): %s", len(sc.Text()), sc.Text())
			}
		}
		if line["msg"] == "configuration" {
			t.Errorf("the configuration at info: %s", sc.Text())
		}
	}
	if !sawWarning || !sawStart {
		t.Errorf("warning %v, start-up line %v:\n%s", sawWarning, sawStart, errOut)
	}
	_, errOut, code = runBin(t, map[string]string{"LOG_LEVEL": "trace", "CRYPTOPAY_LOG_LEVEL": "debug"})
	if code != exitOK || !strings.Contains(errOut, `msg=configuration config="mode=sandbox`) || strings.Contains(errOut, "setting ignored") {
		t.Errorf("CRYPTOPAY_LOG_LEVEL=debug over LOG_LEVEL=trace: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runBin(t, map[string]string{"CRYPTOPAY_LOG_LEVEL": "trace"})
	if code != exitConfig || !strings.Contains(errOut, `cryptopay-mcp: config: CRYPTOPAY_LOG_LEVEL: "trace" is not one of`) {
		t.Errorf("unknown CRYPTOPAY_LOG_LEVEL: exit %d\n%s", code, errOut)
	}
}

// TestDoctorFitsTheSetup: a payments-only merchant gets exit 0 whatever
// Bitrefill does; webhooks on without a public URL fail at once with the
// fix instead of a silent wait; no log line lands inside the report.
func TestDoctorFitsTheSetup(t *testing.T) {
	const dev = "11111111-2222-4333-8444-555555555555"
	fake := fakebitnovo.New(fakebitnovo.Options{DeviceID: dev})
	srv := httptest.NewServer(fake)
	defer func() { srv.Close(); _ = fake.Close() }()
	closed := "http://127.0.0.1:9"
	live := map[string]string{"BITNOVO_DEVICE_ID": dev, "BITNOVO_BASE_URL": srv.URL,
		"BITREFILL_API_URL": closed + "/v2", "BITREFILL_PUBLIC_API_URL": closed + "/api", "API_TIMEOUT": "1000"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range live {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	out, errOut, code := runBin(t, with(map[string]string{"CRYPTOPAY_TOOLSETS": "payments"}), "doctor")
	if code != exitOK || !strings.Contains(out, "➖ bitrefill: not used") || !strings.Contains(out, "✅ bitnovo:") {
		t.Errorf("payments only, Bitrefill unreachable: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = runBin(t, with(nil), "doctor")
	if code != exitFail || !strings.Contains(out, "❌ bitrefill: cannot reach") {
		t.Errorf("every toolset, Bitrefill unreachable: exit %d\n%s", code, out)
	}
	out, _, code = runBin(t, with(map[string]string{"CRYPTOPAY_TOOLSETS": "shop"}), "doctor")
	if code != exitFail || !strings.Contains(out, "➖ bitnovo: not used") {
		t.Errorf("shop only: exit %d\n%s", code, out)
	}

	start := time.Now()
	out, errOut, code = runBin(t, with(map[string]string{"CRYPTOPAY_TOOLSETS": "payments,webhooks", "WEBHOOK_ENABLED": "true",
		"TUNNEL_ENABLED": "false", "WEBHOOK_PORT": "0", "BITNOVO_DEVICE_SECRET": strings.Repeat("ab", 32)}), "doctor")
	took := time.Since(start)
	if code != exitFail || !strings.Contains(out, "❌ webhook URL: no public webhook URL") || !strings.Contains(out, "fix: check the tunnel settings") {
		t.Errorf("webhooks without a public URL: exit %d\n%s", code, out)
	}
	if took > 10*time.Second {
		t.Errorf("doctor took %s with no public URL (it waited 45 s before)", took)
	}
	if strings.Contains(out, "level=") {
		t.Errorf("a log line inside the report:\n%s", out)
	}
	if i, j := strings.Index(errOut, "level=WARN"), strings.Index(errOut, "doctor: what the checked components logged:"); i >= 0 && (j < 0 || j > i) {
		t.Errorf("component logs not held back until after the report:\n%s", errOut)
	}
}

// TestVersionFromCheckout: a plain `go build` in a clone with an
// uncommitted change prints the commit and +dirty (the build info's VCS
// stamps), not just "dev". (GOFLAGS=-buildvcs=false, or a git worktree,
// leave no stamps: hence the clone and the explicit flag.)
func TestVersionFromCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository and builds the binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	gitRun := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("git", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return out
	}
	gitRun("clone", "-q", "--no-checkout", strings.TrimSpace(string(top)), dir)
	gitRun("-C", dir, "checkout", "-q", "HEAD")
	head := strings.TrimSpace(string(gitRun("-C", dir, "rev-parse", "HEAD")))
	if err := os.WriteFile(filepath.Join(dir, "LOCAL-CHANGE"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gitRun("-C", dir, "add", "LOCAL-CHANGE") // an uncommitted change
	bin := filepath.Join(t.TempDir(), "cryptopay-mcp")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/cryptopay-mcp")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=true")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The version is "dev", or the pseudo-version Go derives from the
	// commit (Go 1.24 and later); the commit and the mark follow either way.
	want := regexp.MustCompile(`^cryptopay-mcp (dev|v\S+) \(commit ` + head[:12] + `\+dirty, committed \d{4}-\d\d-\d\dT`)
	if !want.Match(out) {
		t.Errorf("version %q, want %s", out, want)
	}
}
