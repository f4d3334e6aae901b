//go:build linux

package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the test binary as a fake zrok CLI (see fakeZrok).

type zrokFixture struct {
	dir     string // fake CLI state
	baseURL string // the "public" URL base the fake prints (a local receiver)
	env     []string
}

func newZrokFixture(t *testing.T, mode string, extraEnv ...string) zrokFixture {
	t.Helper()
	srv := receiver(t)
	f := zrokFixture{dir: t.TempDir(), baseURL: srv.URL}
	f.env = append([]string{envFakeMode + "=" + mode, envFakeURL + "=" + f.baseURL, envFakeState + "=" + f.dir,
		"GORACE=atexit_sleep_ms=0"}, extraEnv...) // a -race fake would idle 1s at exit
	return f
}

func (f zrokFixture) provider(token string) *zrokProvider {
	return &zrokProvider{
		binary: os.Args[0], localURL: "http://127.0.0.1:3000", token: token, healthPath: "/health",
		env: f.env, grace: 2 * time.Second, log: slog.New(slog.DiscardHandler), client: newHealthClient(), shared: &zrokShared{},
	}
}

func (f zrokFixture) lines(name string) []string {
	b, _ := os.ReadFile(filepath.Join(f.dir, name))
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

func (f zrokFixture) pids(t *testing.T) []int {
	t.Helper()
	var pids []int
	for _, l := range f.lines("pids") {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, n)
	}
	return pids
}

// gone reports whether pid no longer runs (missing, or a zombie waiting
// for a reaper that is not us).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func assertGone(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		waitFor(t, fmt.Sprintf("pid %d to end", pid), 5*time.Second, func() bool { return gone(pid) })
	}
}

func connectWithin(p *zrokProvider, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), d, fmt.Errorf("no public URL within %s", d))
	defer cancel()
	return p.connect(ctx)
}

func TestZrokCLIFindsURL(t *testing.T) {
	for _, mode := range []string{"banner", "banner2", "json"} {
		t.Run(mode, func(t *testing.T) {
			f := newZrokFixture(t, mode)
			p := f.provider("")
			u, err := connectWithin(p, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if want := f.baseURL + "/s1"; u != want {
				t.Fatalf("URL = %q; want %q", u, want)
			}
			if err := p.healthy(context.Background()); err != nil {
				t.Fatalf("healthy: %v", err)
			}
			if got := f.lines("args"); !slices.Equal(got, []string{"share_public_http://127.0.0.1:3000_--headless"}) {
				t.Fatalf("args = %q", got)
			}
			_ = p.close()
			assertGone(t, f.pids(t)...)
		})
	}
}

func TestZrokCLIConnectTimeoutKillsIt(t *testing.T) {
	f := newZrokFixture(t, "silent")
	p := f.provider("")
	_, err := connectWithin(p, 300*time.Millisecond)
	var te *Error
	if !errors.As(err, &te) || te.Code != CodeConnectionFailed || !strings.Contains(err.Error(), "no public URL within 300ms") {
		t.Fatalf("err = %v", err)
	}
	pids := f.pids(t)
	if len(pids) != 1 {
		t.Fatalf("pids = %v", pids)
	}
	if !gone(pids[0]) { // connect returns only after the process was reaped
		t.Fatalf("zrok pid %d survived the connect timeout", pids[0])
	}
	_ = p.close()
}

func TestZrokCLIExitBeforeURL(t *testing.T) {
	tests := []struct{ mode, want string }{
		{"fail", "[ERROR]: unable to create share (boom)"},
		{"jsonerror", "unable to create share: [POST /share][401] shareUnauthorized"},
		{"notenabled", "did you 'zrok enable'?"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			f := newZrokFixture(t, tt.mode)
			p := f.provider("")
			_, err := connectWithin(p, 10*time.Second)
			var te *Error
			if !errors.As(err, &te) || te.Code != CodeConnectionFailed {
				t.Fatalf("err = %v", err)
			}
			for _, w := range []string{tt.want, "did you run 'zrok enable <token>'?"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			_ = p.close()
		})
	}
}

func TestZrokCLIEnablesOnceWithToken(t *testing.T) {
	f := newZrokFixture(t, "notenabled")
	p := f.provider("tok-123")
	u, err := connectWithin(p, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.baseURL + "/s2"; u != want {
		t.Fatalf("URL = %q; want %q", u, want)
	}
	want := []string{"share_public_http://127.0.0.1:3000_--headless", "enable_tok-123_--headless", "share_public_http://127.0.0.1:3000_--headless"}
	if got := f.lines("args"); !slices.Equal(got, want) {
		t.Fatalf("args = %q; want %q", got, want)
	}
	_ = p.close()
}

func TestZrokCLIEnableFailure(t *testing.T) {
	f := newZrokFixture(t, "enablefail")
	p := f.provider("tok-123")
	_, err := connectWithin(p, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "zrok enable") || !strings.Contains(err.Error(), "401 unauthorized") ||
		strings.Contains(err.Error(), "tok-123") {
		t.Fatalf("err = %v", err)
	}
	// Enable is tried once per Manager: the next attempt does not repeat it.
	p2 := f.provider("tok-123")
	p2.shared = p.shared
	if _, err := connectWithin(p2, 10*time.Second); err == nil {
		t.Fatal("connected without an enabled environment")
	}
	n := 0
	for _, l := range f.lines("args") {
		if strings.HasPrefix(l, "enable") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("enable ran %d times", n)
	}
}

func TestZrokCLICloseKillsProcessGroup(t *testing.T) {
	f := newZrokFixture(t, "child")
	p := f.provider("")
	if _, err := connectWithin(p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "grandchild"))
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(string(b))
	if gone(grandchild) {
		t.Fatal("grandchild not running")
	}
	_ = p.close()
	assertGone(t, append(f.pids(t), grandchild)...)
}

func TestZrokCLIKillsWhatIgnoresSIGTERM(t *testing.T) {
	f := newZrokFixture(t, "ignoreterm")
	p := f.provider("")
	p.grace = 100 * time.Millisecond
	if _, err := connectWithin(p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = p.close()
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("close took %s; SIGTERM should have been ignored", d)
	}
	assertGone(t, f.pids(t)...)
}

func TestZrokCLIHealthNeedsThePublicURL(t *testing.T) {
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	f := newZrokFixture(t, "banner")
	f.env = append(f.env, envFakeURL+"="+deadURL) // the later value wins
	p := f.provider("")
	if _, err := connectWithin(p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if err := p.healthy(context.Background()); err == nil || !strings.Contains(err.Error(), "health probe") {
		t.Fatalf("healthy = %v", err)
	}
}

func TestZrokCLIMissingBinary(t *testing.T) {
	p := newZrokFixture(t, "banner").provider("")
	p.binary = filepath.Join(t.TempDir(), "zrok2")
	_, err := connectWithin(p, time.Second)
	if err == nil || !isPermanent(err) || !strings.Contains(err.Error(), "install the zrok CLI") {
		t.Fatalf("err = %v", err)
	}
}

// The Manager reconnects when the CLI dies and reports the new URL.
func TestZrokManagerReconnectsAfterProcessDies(t *testing.T) {
	f := newZrokFixture(t, "die", envFakeDieMS+"=300")
	sl := &sleepLog{}
	m, err := New(Config{
		Enabled: true, Provider: ProviderZrok, ZrokBinary: os.Args[0], LocalURL: "http://127.0.0.1:3000",
		HealthInterval: time.Hour, Detected: localContext(), Sleep: sl.sleep, zrokEnv: f.env,
	})
	if err != nil {
		t.Fatal(err)
	}
	var urls urlLog
	m.OnURLChange(urls.add)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first, second := f.baseURL+"/s1", f.baseURL+"/s2"
	waitFor(t, "two connects", 10*time.Second, func() bool { return len(urls.get()) == 2 })
	if got := urls.get(); !slices.Equal(got, []string{first, second}) {
		t.Fatalf("URLs = %q", got)
	}
	if st := m.Status(); st.Status != StateConnected || deref(st.PublicURL) != second || st.ReconnectAttempts != 0 {
		t.Fatalf("status = %+v", st)
	}
	if got := sl.get(); !slices.Equal(got, []time.Duration{DefaultBackoff}) {
		t.Fatalf("waits = %v", got)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertGone(t, f.pids(t)...)
}
