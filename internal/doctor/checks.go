package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// DataDir checks that dir exists (or can be created, mode 0700) and that a
// file can be written, synced and removed there.
func DataDir(dir string) Check {
	return Check{Name: "data dir", Run: func(context.Context) Result {
		fix := fmt.Sprintf("make %s writable by this user, or point CRYPTOPAY_DATA_DIR (or --data-dir) at a writable directory", dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return Failed(fix, "cannot create %s: %v", dir, err)
		}
		f, err := os.CreateTemp(dir, ".doctor-*")
		if err != nil {
			return Failed(fix, "cannot write in %s: %v", dir, err)
		}
		name := f.Name()
		defer os.Remove(name)
		_, werr := f.WriteString("cryptopay-mcp doctor\n")
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return Failed(fix, "cannot write in %s: %v", dir, err)
		}
		return Passed("%s is writable", dir)
	}}
}

// Store checks that the store opens (which runs its migrations and, for
// SQLite, a quick_check of the file), that it can keep what it is given
// (Check: the file is the one opened and passes quick_check), and closes.
// what names it in the output ("SQLite in /x/cryptopay.db").
func Store(what string, open func(ctx context.Context) (io.Closer, error)) Check {
	return Check{Name: "store", Waiting: "the store (" + what + ") to open", Run: func(ctx context.Context) Result {
		st, err := open(ctx)
		if err != nil {
			if errors.Is(err, store.ErrCorrupt) {
				return Failed("move the database file and its -wal and -shm files aside (or restore them from a backup), then start again",
					"%s: %v", what, err)
			}
			return Failed("fix the path or CRYPTOPAY_DATABASE_URL in the message; a store another version migrated further needs that version", "%s: %v", what, err)
		}
		if c, ok := st.(interface{ Check(context.Context) error }); ok {
			if err := c.Check(ctx); err != nil {
				_ = st.Close()
				fix := "check the disk, then restart the server"
				if errors.Is(err, store.ErrCorrupt) {
					fix = "move the database file and its -wal and -shm files aside (or restore them from a backup), then start again"
				}
				return Failed(fix, "%s cannot keep what it is given: %v", what, err)
			}
		}
		if err := st.Close(); err != nil {
			return Failed("check the disk or the database server", "%s opened but did not close cleanly: %v", what, err)
		}
		return Passed("%s opens, is migrated and passes its integrity check", what)
	}}
}

// Bitnovo describes the Bitnovo Pay API to check.
type Bitnovo struct {
	BaseURL  string
	DeviceID string
	Sandbox  bool          // the base URL is the built-in fake
	Timeout  time.Duration // per attempt; 0: 10s
	// Transport sends the requests; nil: a fresh http.Transport.
	Transport http.RoundTripper
	// Now is the local clock (tests shift it); nil: time.Now.
	Now func() time.Time
	// MaxSkew is the largest clock difference accepted; 0: DefaultMaxSkew.
	MaxSkew time.Duration
}

// DefaultMaxSkew is the clock difference beyond which the clock check
// fails: webhook nonces are timestamps checked against this clock.
const DefaultMaxSkew = 30 * time.Second

// probe is one read-only call to Bitnovo and the provider's Date header.
type probe struct {
	once     sync.Once
	err      error
	n        int           // currencies listed
	elapsed  time.Duration // the call
	date     time.Time     // the Date header of the last answer, zero if none
	midpoint time.Time     // local time halfway through that answer's request
}

// Checks returns the Bitnovo reachability check and the clock check; they
// share one read-only call (GET /api/v1/currencies with the device id).
func (b Bitnovo) Checks() []Check {
	p := &probe{}
	waiting := "Bitnovo Pay at " + b.BaseURL + " to answer"
	if b.Sandbox {
		waiting = "the sandbox's fake Bitnovo API to answer"
	}
	return []Check{
		{Name: "bitnovo", Waiting: waiting, Run: func(ctx context.Context) Result { return b.reachable(ctx, p) }},
		{Name: "clock", Waiting: waiting, Run: func(ctx context.Context) Result { return b.clock(ctx, p) }},
	}
}

func (b Bitnovo) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b Bitnovo) call(ctx context.Context, p *probe) {
	p.once.Do(func() {
		rt := b.Transport
		if rt == nil {
			rt = http.DefaultTransport.(*http.Transport).Clone()
		}
		hc := &http.Client{Transport: dateRecorder{next: rt, now: b.now, p: p}}
		timeout := b.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		c, err := bitnovo.New(b.BaseURL, b.DeviceID, bitnovo.Options{
			HTTPClient: hc, AttemptTimeout: timeout, MaxRetries: 0, UserAgent: "cryptopay-mcp-doctor",
		})
		if err != nil {
			p.err = err
			return
		}
		start := time.Now()
		list, err := c.Currencies(ctx)
		p.elapsed = time.Since(start).Round(time.Millisecond)
		p.n, p.err = len(list), err
		hc.CloseIdleConnections()
	})
}

// dateRecorder keeps the Date header of every answer.
type dateRecorder struct {
	next http.RoundTripper
	now  func() time.Time
	p    *probe
}

func (d dateRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	sent := d.now()
	resp, err := d.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	got := d.now()
	if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
		d.p.date, d.p.midpoint = t, sent.Add(got.Sub(sent)/2)
	}
	return resp, nil
}

func (b Bitnovo) reachable(ctx context.Context, p *probe) Result {
	b.call(ctx, p)
	dev := config.MaskID(b.DeviceID)
	where := b.BaseURL
	if b.Sandbox {
		where = "the sandbox's fake Bitnovo API"
	}
	var apiErr *bitnovo.APIError
	switch {
	case p.err == nil:
		return Passed("%s answered in %s with device id %s (%d currencies)", where, p.elapsed, dev, p.n)
	case errors.As(p.err, &apiErr) && (apiErr.StatusCode == http.StatusForbidden || apiErr.StatusCode == http.StatusUnauthorized):
		return Failed("copy BITNOVO_DEVICE_ID from the Bitnovo Pay dashboard (Settings → Merchant → Devices); a test-environment device needs the test API's BITNOVO_BASE_URL",
			"%s refused device id %s (HTTP %d %s)", where, dev, apiErr.StatusCode, apiErr.Code)
	case errors.As(p.err, &apiErr):
		return Failed("check that BITNOVO_BASE_URL is the Bitnovo Pay API (default https://pos.bitnovo.com); if it is, retry later",
			"%s answered HTTP %d %s", where, apiErr.StatusCode, apiErr.Code)
	default:
		return Failed("check BITNOVO_BASE_URL, the network, DNS and any HTTPS_PROXY; raise API_TIMEOUT on a slow link",
			"cannot reach %s: %v", where, p.err)
	}
}

func (b Bitnovo) clock(ctx context.Context, p *probe) Result {
	b.call(ctx, p)
	if p.date.IsZero() {
		return Skipped("no Date header from Bitnovo to compare with (it was not reached)")
	}
	maxSkew := b.MaxSkew
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	// Date has whole seconds: allow for the truncation.
	skew := p.midpoint.Sub(p.date.Add(500 * time.Millisecond)).Round(time.Second)
	if skew.Abs() > maxSkew {
		return Failed("synchronise the system clock (NTP, e.g. timedatectl set-ntp true): webhook nonces are checked against it",
			"this clock is %s %s Bitnovo's (more than %s)", skew.Abs(), aheadBehind(skew), maxSkew)
	}
	return Passed("within %s of Bitnovo's clock", max(skew.Abs(), time.Second))
}

func aheadBehind(d time.Duration) string {
	if d > 0 {
		return "ahead of"
	}
	return "behind"
}

// Bitrefill checks the Bitrefill API: GET /ping, and with credentials
// GET /accounts/balance, which proves them.
func Bitrefill(c *bitrefill.Client, sandbox bool) Check {
	return Check{Name: "bitrefill", Waiting: "Bitrefill's API to answer", Run: func(ctx context.Context) Result {
		where := "Bitrefill"
		if sandbox {
			where = "the sandbox's fake Bitrefill API"
		}
		if _, err := c.Ping(ctx); err != nil {
			return Failed("check BITREFILL_API_URL, the network and any HTTPS_PROXY", "cannot reach %s: %v", where, err)
		}
		if !c.HasCredentials() {
			return Passed("%s is reachable (no credentials: catalogue tools only)", where)
		}
		if _, err := c.Balance(ctx); err != nil {
			var apiErr *bitrefill.APIError
			if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
				return Failed("copy BITREFILL_API_ID and BITREFILL_API_SECRET from Bitrefill's API settings (both, without spaces)",
					"%s refused the credentials (HTTP %d)", where, apiErr.StatusCode)
			}
			return Failed("check BITREFILL_API_URL; if it is right, retry later", "%s is reachable but the account call failed: %v", where, err)
		}
		return Passed("%s is reachable and the API credentials are valid", where)
	}}
}

// Bind checks that the webhook receiver's address can be listened on.
func Bind(addr string) Check {
	return Check{Name: "webhook receiver", Run: func(context.Context) Result {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return Failed("stop what holds the port (a cryptopay-mcp already running?) or set WEBHOOK_PORT (and WEBHOOK_HOST) to an address this machine can listen on",
				"cannot listen on %s: %v", addr, err)
		}
		got := ln.Addr().String()
		_ = ln.Close()
		return Passed("can listen on %s", got)
	}}
}

// WebhookEndpoint is the running receiver behind its tunnel or public
// URL, as the get_webhook_url tool sees it.
type WebhookEndpoint interface {
	// URL is the public webhook URL and the tunnel provider, or why there
	// is none yet.
	URL() (url, provider string, err error)
	// Connecting reports whether a URL may still come: the tunnel is
	// connecting or reconnecting. Otherwise URL's error is final.
	Connecting() bool
	// Validate sends a signed probe through url and checks that this
	// receiver answered it (get_webhook_url validate=true).
	Validate(ctx context.Context, url string) error
}

// Webhook starts the receiver and its tunnel with start, waits (up to the
// check's deadline, while the tunnel is connecting) for the public URL, and
// sends a signed probe through it. stop is called at the end. No URL
// because none is configured fails at once; a tunnel still connecting at
// the deadline is skipped with the reason.
func Webhook(start func(ctx context.Context) (ep WebhookEndpoint, stop func(), err error)) Check {
	return Check{Name: "webhook URL", Waiting: "the tunnel to give the webhook receiver a public URL", Run: func(ctx context.Context) Result {
		ep, stop, err := start(ctx)
		if err != nil {
			return Failed("fix the webhook settings in the message (WEBHOOK_*, TUNNEL_*, BITNOVO_DEVICE_SECRET)", "the receiver did not start: %v", err)
		}
		defer stop()
		var (
			u, provider string
			last        error
		)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		const fix = "check the tunnel settings (NGROK_AUTHTOKEN, ZROK_TOKEN, or WEBHOOK_PUBLIC_URL with TUNNEL_PROVIDER=manual); get_tunnel_status shows the same"
		for {
			// Connecting is read before URL: a tunnel that connects in
			// between then gives its URL, instead of a "not connecting"
			// read after a "still connecting" error failing the check.
			connecting := ep.Connecting()
			u, provider, last = ep.URL()
			if last == nil {
				break
			}
			if !connecting {
				return Failed(fix, "no public webhook URL: %v", last)
			}
			select {
			case <-ctx.Done():
				return Skipped("the tunnel gave no public webhook URL before the check's deadline (%v); run doctor again, or start the server and call get_tunnel_status", last)
			case <-tick.C:
			}
		}
		if err := ep.Validate(ctx, u); err != nil {
			return Failed("make the public URL forward POST requests to this receiver ("+provider+"); then paste it into the Bitnovo dashboard",
				"%s does not reach this receiver: %v", u, err)
		}
		return Passed("a signed probe through %s (%s) came back from this receiver", u, provider)
	}}
}
