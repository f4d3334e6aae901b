package tunnel

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as a fake zrok CLI: with TUNNEL_FAKE_ZROK set
// it behaves as that mode says instead of running tests.
const (
	envFakeMode    = "TUNNEL_FAKE_ZROK"         // behaviour, see fakeZrok
	envFakeURL     = "TUNNEL_FAKE_ZROK_URL"     // public URL base to print
	envFakeState   = "TUNNEL_FAKE_ZROK_STATE"   // dir: args log, counter, enabled marker, pids
	envFakeDieMS   = "TUNNEL_FAKE_ZROK_DIE_MS"  // mode die: lifetime of the first share
	envFakeSleepMS = "TUNNEL_FAKE_ZROK_SLEEP_S" // how long to stay up (default 1h)
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envFakeMode); mode != "" {
		os.Exit(fakeZrok(mode, os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// fakeZrok imitates the zrok CLI. Modes:
//
//	banner     zrok v1 --headless: logrus text on stderr, an API URL first, then the banner
//	banner2    zrok2 text output: banner line, URL on the next line (stdout)
//	json       zrok2 --subordinate boot message
//	jsonerror  zrok2 --subordinate error message, exit 1
//	silent     prints nothing, stays up
//	fail       "[ERROR]: unable to create share (boom)", exit 1
//	notenabled fails like an environment that is not enabled until "enable" ran
//	die        banner, then exits after TUNNEL_FAKE_ZROK_DIE_MS on the first share only
//	child      starts a grandchild in its process group, then banner
//	ignoreterm ignores SIGTERM, then banner
//	sleep      stays up (the grandchild)
func fakeZrok(mode string, args []string) int {
	state := os.Getenv(envFakeState)
	if state != "" {
		appendFile(filepath.Join(state, "args"), strings.Join(args, " ")+"\n")
		appendFile(filepath.Join(state, "pids"), strconv.Itoa(os.Getpid())+"\n")
	}
	if len(args) > 0 && args[0] == "enable" {
		if mode == "enablefail" {
			fmt.Fprintln(os.Stderr, "the zrok service returned an error: 401 unauthorized")
			return 1
		}
		writeFile(filepath.Join(state, "enabled"), "yes")
		fmt.Println("the zrok environment was successfully enabled...")
		return 0
	}
	n := 1
	if state != "" {
		b, _ := os.ReadFile(filepath.Join(state, "counter"))
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		n++
		writeFile(filepath.Join(state, "counter"), strconv.Itoa(n))
	}
	u := fmt.Sprintf("%s/s%d", os.Getenv(envFakeURL), n)
	stay := time.Hour
	if s, err := strconv.Atoi(os.Getenv(envFakeSleepMS)); err == nil {
		stay = time.Duration(s) * time.Second
	}
	banner := func() {
		fmt.Fprintln(os.Stderr, `time="2026-01-01T00:00:00Z" level=info msg="using api endpoint https://api.zrok.io"`)
		fmt.Fprintf(os.Stderr, "time=\"2026-01-01T00:00:01Z\" level=info msg=\"access your zrok share at the following endpoints:\\n %s\"\n", u)
	}
	switch mode {
	case "banner":
		banner()
	case "banner2":
		fmt.Println("[   0.412]    INFO main.(*sharePublicCommand).shareLocal: access your zrok share at the following endpoints:")
		fmt.Println(" " + u)
	case "json":
		fmt.Printf(`{"msg":"boot","token":"abc123","frontend_endpoints":[%q]}`+"\n", u)
	case "jsonerror":
		fmt.Println(`{"msg":"error","error":"unable to create share: [POST /share][401] shareUnauthorized"}`)
		return 1
	case "silent", "sleep":
	case "fail":
		fmt.Fprintln(os.Stderr, "[ERROR]: unable to create share (boom)")
		return 1
	case "notenabled", "enablefail":
		if _, err := os.Stat(filepath.Join(state, "enabled")); err != nil {
			fmt.Fprintln(os.Stderr, "[ERROR]: unable to load environment; did you 'zrok enable'?")
			return 1
		}
		banner()
	case "die":
		banner()
		if n == 1 {
			ms, _ := strconv.Atoi(os.Getenv(envFakeDieMS))
			time.Sleep(time.Duration(ms) * time.Millisecond)
			fmt.Fprintln(os.Stderr, "[ERROR]: lost connection to the zrok service")
			return 1
		}
	case "child":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envFakeMode+"=sleep", envFakeState+"=")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		writeFile(filepath.Join(state, "grandchild"), strconv.Itoa(cmd.Process.Pid))
		banner()
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
		banner()
	default:
		fmt.Fprintln(os.Stderr, "unknown fake mode", mode)
		return 2
	}
	time.Sleep(stay)
	return 0
}

func appendFile(name, s string) {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	_, _ = f.WriteString(s)
	_ = f.Close()
}

func writeFile(name, s string) { _ = os.WriteFile(name, []byte(s), 0o600) }

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receiver is a local webhook receiver: /health answers 200, anything
// else echoes the path.
func receiver(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/health") {
			_, _ = w.Write([]byte(`{"status":"ok"}`))
			return
		}
		_, _ = fmt.Fprintf(w, "received %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// urlLog collects OnURLChange calls.
type urlLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *urlLog) add(u string) {
	l.mu.Lock()
	l.urls = append(l.urls, u)
	l.mu.Unlock()
}

func (l *urlLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// sleepLog records backoff waits and returns at once.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
	gate  chan struct{} // if non-nil, each sleep waits for a value
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	gate := s.gate
	s.mu.Unlock()
	if gate == nil {
		return ctx.Err()
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sleepLog) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func localContext() *Context {
	return &Context{ExecutionContext: ContextLocal, Confidence: 0.7, SuggestedProvider: ProviderNgrok,
		Indicators: []string{"Local development environment detected"}}
}
