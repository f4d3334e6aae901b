package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

const deviceID = "11111111-2222-4333-8444-555555555555"

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func fakeBitnovo(t *testing.T) string {
	t.Helper()
	fake := fakebitnovo.New(fakebitnovo.Options{DeviceID: deviceID})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); _ = fake.Close() })
	return srv.URL
}

func runChecks(t *testing.T, checks ...Check) map[string]Result {
	t.Helper()
	r := Run(context.Background(), checks, Options{})
	out := map[string]Result{}
	for _, c := range r.Checks {
		out[c.Name] = c
	}
	return out
}

func TestBitnovo(t *testing.T) {
	base := fakeBitnovo(t)
	tests := []struct {
		name              string
		b                 Bitnovo
		bitnovo, clock    Status
		bitnovoIn, fixHas string
	}{
		{name: "right device id", b: Bitnovo{BaseURL: base, DeviceID: deviceID},
			bitnovo: Pass, clock: Pass, bitnovoIn: "currencies"},
		{name: "wrong device id", b: Bitnovo{BaseURL: base, DeviceID: "99999999-2222-4333-8444-555555555555"},
			bitnovo: Fail, clock: Pass, bitnovoIn: "refused device id 99999999-", fixHas: "BITNOVO_DEVICE_ID"},
		{name: "unreachable API", b: Bitnovo{BaseURL: closedURL(t), DeviceID: deviceID, Timeout: 2 * time.Second},
			bitnovo: Fail, clock: Skip, bitnovoIn: "cannot reach", fixHas: "BITNOVO_BASE_URL"},
		{name: "clock ten minutes ahead", b: Bitnovo{BaseURL: base, DeviceID: deviceID, Now: func() time.Time { return time.Now().Add(10 * time.Minute) }},
			bitnovo: Pass, clock: Fail},
		{name: "clock ten minutes behind", b: Bitnovo{BaseURL: base, DeviceID: deviceID, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }},
			bitnovo: Pass, clock: Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runChecks(t, tt.b.Checks()...)
			bn, clk := got["bitnovo"], got["clock"]
			if bn.Status != tt.bitnovo || !strings.Contains(bn.Detail, tt.bitnovoIn) || !strings.Contains(bn.Fix, tt.fixHas) {
				t.Errorf("bitnovo = %+v, want %s with %q, fix with %q", bn, tt.bitnovo, tt.bitnovoIn, tt.fixHas)
			}
			if clk.Status != tt.clock {
				t.Errorf("clock = %+v, want %s", clk, tt.clock)
			}
			if strings.Contains(bn.Detail+bn.Fix, "4333-8444") {
				t.Errorf("the device id is not masked: %+v", bn)
			}
		})
	}
}

func TestClockSkewSign(t *testing.T) {
	got := runChecks(t, Bitnovo{BaseURL: fakeBitnovo(t), DeviceID: deviceID,
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }}.Checks()...)
	if c := got["clock"]; !strings.Contains(c.Detail, "ahead of") || !strings.Contains(c.Detail, "2m") {
		t.Errorf("clock = %+v, want 2m ahead", c)
	}
}

func TestBitrefill(t *testing.T) {
	fake, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	id, secret := fake.Credentials()
	deadPub, deadV2 := fakebitrefill.BaseURLs(closedURL(t))
	tests := []struct {
		name            string
		opts            bitrefill.Options
		want            Status
		detail, fixHave string
	}{
		{name: "valid credentials", opts: bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret}, want: Pass, detail: "credentials are valid"},
		{name: "no credentials", opts: bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2}, want: Pass, detail: "catalogue tools only"},
		{name: "wrong secret", opts: bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: "not-the-secret"}, want: Fail, detail: "refused the credentials", fixHave: "BITREFILL_API_SECRET"},
		{name: "unreachable API", opts: bitrefill.Options{PublicBaseURL: deadPub, V2BaseURL: deadV2, APIID: id, APISecret: secret}, want: Fail, detail: "cannot reach", fixHave: "BITREFILL_API_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.MaxRetries, tt.opts.AttemptTimeout = -1, 2*time.Second
			c, err := bitrefill.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := runChecks(t, Bitrefill(c, false))["bitrefill"]
			if got.Status != tt.want || !strings.Contains(got.Detail, tt.detail) || !strings.Contains(got.Fix, tt.fixHave) {
				t.Errorf("got %+v, want %s with %q, fix with %q", got, tt.want, tt.detail, tt.fixHave)
			}
			if strings.Contains(got.Detail+got.Fix, secret) {
				t.Errorf("the secret is in the output: %+v", got)
			}
		})
	}
}

func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want Status
	}{
		{"existing", dir, Pass},
		{"created", filepath.Join(dir, "new", "state"), Pass},
		{"under a file", filepath.Join(file, "state"), Fail}, // fails for root too
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runChecks(t, DataDir(tt.dir))["data dir"]
			if got.Status != tt.want {
				t.Fatalf("got %+v, want %s", got, tt.want)
			}
			if tt.want == Fail && !strings.Contains(got.Fix, "CRYPTOPAY_DATA_DIR") {
				t.Errorf("fix %q does not name CRYPTOPAY_DATA_DIR", got.Fix)
			}
			if tt.want == Pass {
				if left, _ := filepath.Glob(filepath.Join(tt.dir, ".doctor-*")); len(left) > 0 {
					t.Errorf("left %v behind", left)
				}
			}
		})
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		open func(ctx context.Context) (io.Closer, error)
		want Status
	}{
		{"sqlite opens", func(ctx context.Context) (io.Closer, error) {
			return store.OpenSQLite(ctx, filepath.Join(dir, "cryptopay.db"))
		}, Pass},
		{"sqlite on a directory", func(ctx context.Context) (io.Closer, error) {
			return store.OpenSQLite(ctx, dir)
		}, Fail},
		{"open error", func(context.Context) (io.Closer, error) { return nil, errors.New("boom") }, Fail},
		{"corrupt sqlite", func(ctx context.Context) (io.Closer, error) {
			return store.OpenSQLite(ctx, corrupt)
		}, Fail},
		{"file removed while open", func(ctx context.Context) (io.Closer, error) {
			path := filepath.Join(dir, "removed.db")
			st, err := store.OpenSQLite(ctx, path)
			if err == nil {
				err = os.Remove(path)
			}
			return st, err
		}, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runChecks(t, Store("test store", tt.open))["store"]
			if got.Status != tt.want {
				t.Errorf("got %+v, want %s", got, tt.want)
			}
			if strings.Contains(tt.name, "corrupt") && (!strings.Contains(got.Detail, "corrupt") || !strings.Contains(got.Fix, "aside")) {
				t.Errorf("corrupt store reported as %+v", got)
			}
		})
	}
}

func TestBind(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		addr string
		want Status
	}{
		{"127.0.0.1:0", Pass},
		{busy.Addr().String(), Fail},
	}
	for _, tt := range tests {
		if got := runChecks(t, Bind(tt.addr))["webhook receiver"]; got.Status != tt.want {
			t.Errorf("Bind(%s) = %+v, want %s", tt.addr, got, tt.want)
		}
	}
}

// endpoint is a webhook receiver on loopback seen through its "public"
// URL (here the receiver itself), probed like get_webhook_url validate.
type endpoint struct {
	url        string
	urlErr     error
	connecting bool   // the tunnel may still give a URL
	key        []byte // the key the probe signs with
}

func (e endpoint) URL() (string, string, error) { return e.url, "manual", e.urlErr }
func (e endpoint) Connecting() bool             { return e.connecting }
func (e endpoint) Validate(ctx context.Context, u string) error {
	return webhook.Probe(ctx, http.DefaultClient, u, e.key, time.Now())
}

func TestWebhook(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	rc, err := webhook.New(webhook.Options{Key: key, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	u := srv.URL + rc.Path()
	tests := []struct {
		name   string
		ep     endpoint
		want   Status
		detail string
	}{
		{"probe round-trips", endpoint{url: u, key: key}, Pass, "came back"},
		{"another secret", endpoint{url: u, key: bytes.Repeat([]byte{8}, 32)}, Fail, "does not reach"},
		{"URL answers 404", endpoint{url: srv.URL + "/elsewhere", key: key}, Fail, "HTTP 404"},
		{"nothing listens", endpoint{url: closedURL(t) + "/webhook/bitnovo", key: key}, Fail, "not reachable"},
		{"no public URL configured fails at once", endpoint{urlErr: errors.New("no public URL is configured")}, Fail, "no public URL is configured"},
		{"a tunnel still connecting is skipped at the deadline", endpoint{urlErr: errors.New("the tunnel is still connecting"), connecting: true}, Skip, "still connecting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopped := false
			c := Webhook(func(context.Context) (WebhookEndpoint, func(), error) {
				return tt.ep, func() { stopped = true }, nil
			})
			c.Timeout = time.Second
			got := runChecks(t, c)["webhook URL"]
			if got.Status != tt.want || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("got %+v, want %s with %q", got, tt.want, tt.detail)
			}
			if !stopped {
				t.Error("the receiver was not stopped")
			}
		})
	}
	t.Run("start fails", func(t *testing.T) {
		c := Webhook(func(context.Context) (WebhookEndpoint, func(), error) { return nil, nil, errors.New("no secret") })
		if got := runChecks(t, c)["webhook URL"]; got.Status != Fail || !strings.Contains(got.Detail, "no secret") {
			t.Errorf("got %+v", got)
		}
	})
}

func TestReport(t *testing.T) {
	checks := []Check{
		{Name: "a", Run: func(context.Context) Result { return Passed("fine") }},
		{Name: "b", Run: func(context.Context) Result { return Failed("do this", "broken") }},
		{Name: "c", Run: func(context.Context) Result { return Skipped("n/a") }},
		{Name: "d", Run: func(context.Context) Result { panic("bug") }},
		{Name: "e", Timeout: 10 * time.Millisecond, Run: func(ctx context.Context) Result {
			<-ctx.Done() // the runner's deadline reaches the check
			return Failed("", "timed out: %v", ctx.Err())
		}},
	}
	r := Run(context.Background(), checks, Options{})
	if r.OK {
		t.Fatal("OK with failures")
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"✅ a: fine\n", "❌ b: broken\n   fix: do this\n", "➖ c: n/a\n", "❌ d: the check crashed: bug\n",
		"❌ e: timed out: context deadline exceeded\n   fix: see README.md\n", "doctor: 3 of 5 checks need attention\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.OK || len(back.Checks) != 5 || back.Checks[1].Fix != "do this" || back.Checks[2].Status != Skip {
		t.Errorf("JSON round trip: %+v", back)
	}
	if ok := Run(context.Background(), checks[:1], Options{}); !ok.OK {
		t.Error("not OK with only passes")
	}
	if ok := Run(context.Background(), checks[2:3], Options{}); !ok.OK {
		t.Error("a skipped check is not a failure")
	}
}

// TestRunNeverSilent: a slow check gets a progress line saying what it
// waits for, and one that ignores its deadline is skipped with the reason
// shortly after it, instead of holding the report (issue 21).
func TestRunNeverSilent(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	checks := []Check{
		{Name: "slow", Waiting: "the slow thing", Timeout: 2500 * time.Millisecond, Run: func(ctx context.Context) Result {
			select {
			case <-time.After(2200 * time.Millisecond):
			case <-ctx.Done():
			}
			return Passed("done")
		}},
		{Name: "stuck", Timeout: 100 * time.Millisecond, Run: func(context.Context) Result {
			<-release // ignores its context
			return Passed("never")
		}},
		{Name: "too long", Timeout: time.Hour, Run: func(context.Context) Result { return Passed("capped") }},
	}
	var progress bytes.Buffer
	var streamed []string
	start := time.Now()
	r := Run(context.Background(), checks, Options{Progress: &progress, OnResult: func(res Result) { streamed = append(streamed, res.Name) }})
	elapsed := time.Since(start)
	if !strings.Contains(progress.String(), "doctor: waiting for the slow thing (at most 2.5s)") {
		t.Errorf("progress %q: want a line naming what the slow check waits for", progress.String())
	}
	if strings.Contains(progress.String(), "stuck") {
		t.Errorf("progress %q: a check under 2 s needs no line", progress.String())
	}
	if got := r.Checks[1]; got.Status != Skip || !strings.Contains(got.Detail, "no answer from stuck within 100ms") {
		t.Errorf("stuck check: %+v, want skipped with the reason", got)
	}
	if !r.OK || strings.Join(streamed, ",") != "slow,stuck,too long" {
		t.Errorf("OK %v, streamed %v", r.OK, streamed)
	}
	if elapsed > 10*time.Second {
		t.Errorf("Run took %s", elapsed)
	}
}

// connectsBetween is a tunnel that connects between the check's reads:
// each URL call is one step of the tunnel's life, and Connecting reports
// the state the next URL call starts from.
type connectsBetween struct {
	endpoint
	calls int
}

func (c *connectsBetween) URL() (string, string, error) {
	c.calls++
	if c.calls == 1 {
		return "", "fake", errors.New("the tunnel is still connecting")
	}
	return c.url, "fake", nil
}

// Connecting is true until the tunnel has connected, then false (a
// connected tunnel is not connecting).
func (c *connectsBetween) Connecting() bool { return c.calls == 0 }

// TestWebhookTunnelConnectsBetweenReads: the tunnel said "still
// connecting" and connected right after; the check must wait for the URL,
// not fail on the second read (a race seen in TestDoctor).
func TestWebhookTunnelConnectsBetweenReads(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	rc, err := webhook.New(webhook.Options{Key: key, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	ep := &connectsBetween{endpoint: endpoint{url: srv.URL + rc.Path(), key: key}}
	c := Webhook(func(context.Context) (WebhookEndpoint, func(), error) { return ep, func() {}, nil })
	if got := runChecks(t, c)["webhook URL"]; got.Status != Pass {
		t.Errorf("got %+v, want a pass once the tunnel connected", got)
	}
}
