package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// zrokKillGrace is how long the CLI gets to delete its share after
// SIGTERM before its process group is killed.
const zrokKillGrace = 3 * time.Second

// isZrok2 reports whether bin is the zrok v2 CLI ("zrok2"), whose share
// commands differ from v1's.
func isZrok2(bin string) bool {
	return strings.HasPrefix(strings.ToLower(filepath.Base(bin)), "zrok2")
}

// zrokArgs builds the share command line.
//
// zrok2 has no "share reserved": a persistent URL is a name, created once
// with "zrok2 create name <name>" and selected with --name-selection
// <namespace>:<name> (namespace "public" unless the name has one).
// --subordinate prints JSON lines ({"msg":"boot","frontend_endpoints":[…]}
// or {"msg":"error","error":…}, cmd/zrok2/subordinate in the zrok source)
// and always shares locally instead of through a running zrok agent.
//
// zrok v1: "share reserved <name> --headless" or "share public <target>
// --headless", which log "access your zrok share…" banners.
func zrokArgs(bin, localURL, name string) []string {
	if isZrok2(bin) {
		args := []string{"share", "public", localURL, "--subordinate"}
		if name != "" {
			if !strings.Contains(name, ":") {
				name = "public:" + name
			}
			args = append(args, "--name-selection", name)
		}
		return args
	}
	if name != "" {
		return []string{"share", "reserved", name, "--headless"}
	}
	return []string{"share", "public", localURL, "--headless"}
}

func zrokName(bin string) string {
	if isZrok2(bin) {
		return "zrok2"
	}
	return "zrok"
}

// zrokURL matches a URL in CLI output; quotes, backslashes (logrus
// escapes newlines as \n) and closing brackets end it.
var zrokURL = regexp.MustCompile(`https?://[^\s"'\\<>\[\]{}(),]+`)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// zrokParser finds the public URL in the CLI's output. Only URLs on or
// after the "access your zrok share" banner count (the first URL in the
// output may be the API endpoint), or the frontend_endpoints of a
// --subordinate boot message.
type zrokParser struct {
	banner bool
}

// feed parses one output line. It returns the public URL once found, or a
// fatal error message the CLI reported.
func (z *zrokParser) feed(line string) (publicURL, fatal string) {
	t := strings.TrimSpace(ansiEscape.ReplaceAllString(line, ""))
	if strings.HasPrefix(t, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(t), &m) == nil {
			msg, _ := m["msg"].(string)
			errText, _ := m["error"].(string)
			switch {
			case msg == "boot":
				eps, _ := m["frontend_endpoints"].([]any)
				for _, e := range eps {
					if s, ok := e.(string); ok && zrokURL.MatchString(s) {
						return zrokURL.FindString(s), ""
					}
				}
				return "", ""
			case msg == "error":
				if errText == "" {
					errText = "zrok reported an error"
				}
				return "", errText
			case msg == "" && errText != "":
				return "", errText // zrok v1 --subordinate: { "error": "…" }
			}
			t = msg // a JSON log line: read its message
		}
	}
	if strings.Contains(strings.ToLower(t), "access your zrok share") {
		z.banner = true
	}
	if z.banner {
		if u := zrokURL.FindString(t); u != "" {
			return strings.TrimRight(u, ".;:"), ""
		}
	}
	return "", ""
}

// isNotEnabled reports whether CLI output says the zrok environment has
// not been enabled ("unable to load environment; did you 'zrok enable'?").
func isNotEnabled(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "not enabled") || strings.Contains(s, "unable to load environment") ||
		strings.Contains(s, "enable'?")
}

// lineWriter calls fn for every complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a runaway line: take it as it is
		w.fn(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// zrokProc is one running CLI.
type zrokProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed after Wait returned
	err    error         // Wait's result, readable after exited

	mu       sync.Mutex
	parser   zrokParser
	found    bool
	urlCh    chan string // buffered; the public URL, once
	fatalCh  chan string // buffered; an error the CLI reported, once
	lastErr  string      // last non-empty stderr line
	lastOut  string      // last non-empty stdout line
	fatalMsg string
}

func (p *zrokProc) onLine(stderr bool, log *slog.Logger) func(string) {
	return func(line string) {
		clean := strings.TrimSpace(ansiEscape.ReplaceAllString(line, ""))
		if clean == "" {
			return
		}
		log.Debug("zrok output", "stderr", stderr, "line", clean)
		p.mu.Lock()
		defer p.mu.Unlock()
		if stderr {
			p.lastErr = clean
		} else {
			p.lastOut = clean
		}
		if p.found {
			return
		}
		u, fatal := p.parser.feed(clean)
		switch {
		case u != "":
			p.found = true
			p.urlCh <- u
		case fatal != "":
			p.found = true
			p.fatalMsg = fatal
			p.fatalCh <- fatal
		}
	}
}

// lastLine is the most useful line for an error message.
func (p *zrokProc) lastLine() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.fatalMsg != "":
		return p.fatalMsg
	case p.lastErr != "":
		return p.lastErr
	default:
		return p.lastOut
	}
}

func (p *zrokProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop asks the process group to exit, then kills it.
func (p *zrokProc) stop(grace time.Duration) {
	pid := p.cmd.Process.Pid
	_ = signalGroup(pid, sigTerm)
	t := time.NewTimer(grace)
	select {
	case <-p.exited:
	case <-t.C:
	}
	t.Stop()
	// Whatever is left of the group (children that ignored SIGTERM).
	_ = signalGroup(pid, sigKill)
	<-p.exited
}

// zrokShared is state that outlives one connect attempt.
type zrokShared struct {
	enableTried atomic.Bool // "zrok enable" runs at most once per Manager
}

// zrokProvider drives the zrok CLI.
type zrokProvider struct {
	binary     string // configured; "" means look up zrok2, then zrok
	localURL   string
	uniqueName string
	token      string
	healthPath string
	env        []string
	grace      time.Duration
	log        *slog.Logger
	client     *http.Client
	shared     *zrokShared

	mu   sync.Mutex
	proc *zrokProc
	url  string
}

func (p *zrokProvider) lookBinary() (string, error) {
	names := []string{"zrok2", "zrok"}
	if p.binary != "" {
		names = []string{p.binary}
	}
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path, nil
		}
	}
	te := connErr(ProviderZrok, "find CLI", fmt.Errorf("%s not found", strings.Join(names, " or ")),
		"install the zrok CLI (https://docs.zrok.io/docs/guides/install/) and put it on PATH")
	te.permanent = true
	return "", te
}

func (p *zrokProvider) hint(bin string) string {
	name := zrokName(bin)
	h := fmt.Sprintf("did you run '%s enable <token>'? Set ZROK_TOKEN to have it run for you", name)
	if p.uniqueName != "" {
		if isZrok2(bin) {
			h += fmt.Sprintf("; the name must exist: 'zrok2 create name %s'", p.uniqueName)
		} else {
			h += fmt.Sprintf("; the share must be reserved: 'zrok reserve public --unique-name %s <target>'", p.uniqueName)
		}
	}
	return h
}

func (p *zrokProvider) connect(ctx context.Context) (string, error) {
	bin, err := p.lookBinary()
	if err != nil {
		return "", err
	}
	u, err := p.start(ctx, bin)
	if err != nil && p.token != "" && ctx.Err() == nil && isNotEnabled(cliMessage(err)) && p.shared.enableTried.CompareAndSwap(false, true) {
		p.log.Info("zrok environment not enabled; running enable with ZROK_TOKEN", "binary", bin)
		if eerr := p.enable(ctx, bin); eerr != nil {
			return "", connErr(ProviderZrok, zrokName(bin)+" enable", eerr, "check ZROK_TOKEN (your account token from the zrok dashboard)")
		}
		u, err = p.start(ctx, bin)
	}
	return u, err
}

// cliMessage is what the CLI said, without our hint.
func cliMessage(err error) string {
	var te *Error
	if errors.As(err, &te) && te.Err != nil {
		return te.Err.Error()
	}
	return err.Error()
}

func (p *zrokProvider) command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), p.env...)
	newProcessGroup(cmd)
	cmd.WaitDelay = time.Second
	return cmd
}

func (p *zrokProvider) start(ctx context.Context, bin string) (string, error) {
	args := zrokArgs(bin, p.localURL, p.uniqueName)
	cmd := p.command(bin, args...)
	proc := &zrokProc{cmd: cmd, exited: make(chan struct{}), urlCh: make(chan string, 1), fatalCh: make(chan string, 1)}
	cmd.Stdout = &lineWriter{fn: proc.onLine(false, p.log)}
	cmd.Stderr = &lineWriter{fn: proc.onLine(true, p.log)}
	if err := cmd.Start(); err != nil {
		return "", connErr(ProviderZrok, "start CLI", err, "check that "+bin+" is executable")
	}
	p.log.Debug("zrok started", "pid", cmd.Process.Pid, "args", strings.Join(args, " "))
	go func() {
		proc.err = cmd.Wait()
		close(proc.exited)
	}()
	p.mu.Lock()
	p.proc = proc
	p.mu.Unlock()

	select {
	case u := <-proc.urlCh:
		p.mu.Lock()
		p.url = u
		p.mu.Unlock()
		return u, nil
	case msg := <-proc.fatalCh:
		proc.stop(p.grace)
		return "", connErr(ProviderZrok, "share", errors.New(msg), p.hint(bin))
	case <-proc.exited:
		select {
		case u := <-proc.urlCh: // printed the URL, then died: reported by lost()
			return u, nil
		default:
		}
		return "", connErr(ProviderZrok, "share",
			fmt.Errorf("%s exited (%v) before printing a public URL: %s", zrokName(bin), proc.err, orNone(proc.lastLine())), p.hint(bin))
	case <-ctx.Done():
		proc.stop(p.grace)
		return "", connErr(ProviderZrok, "share",
			fmt.Errorf("%w; last output: %s", context.Cause(ctx), orNone(proc.lastLine())),
			"the CLI was stopped; check that it can reach the zrok service and that it runs without a terminal (--headless)")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// enable runs "<bin> enable <token> --headless" once.
func (p *zrokProvider) enable(ctx context.Context, bin string) error {
	cmd := p.command(bin, "enable", p.token, "--headless")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			msg := strings.ReplaceAll(lastNonEmptyLine(out.String()), p.token, "[REDACTED]")
			return fmt.Errorf("%w: %s", err, orNone(msg))
		}
		return nil
	case <-ctx.Done():
		_ = signalGroup(cmd.Process.Pid, sigKill)
		<-done
		return context.Cause(ctx)
	}
}

func lastNonEmptyLine(s string) string {
	lines := strings.Split(strings.TrimSpace(ansiEscape.ReplaceAllString(s, "")), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

func (p *zrokProvider) healthy(ctx context.Context) error {
	p.mu.Lock()
	proc, u := p.proc, p.url
	p.mu.Unlock()
	if proc == nil {
		return errors.New("zrok not started")
	}
	if !proc.alive() {
		return fmt.Errorf("zrok CLI exited (%v): %s", proc.err, orNone(proc.lastLine()))
	}
	return probe(ctx, p.client, JoinURL(u, p.healthPath))
}

func (p *zrokProvider) lost() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	return p.proc.exited
}

func (p *zrokProvider) close() error {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc != nil {
		proc.stop(p.grace)
	}
	return nil
}

// compile-time checks
var (
	_ provider = (*zrokProvider)(nil)
	_ provider = (*ngrokProvider)(nil)
	_ provider = (*manualProvider)(nil)
	_ provider = (*fakeProvider)(nil)
)
