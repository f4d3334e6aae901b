package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// Provider names, as TUNNEL_PROVIDER spells them.
const (
	ProviderNgrok  = "ngrok"
	ProviderZrok   = "zrok"
	ProviderManual = "manual"
	ProviderFake   = "fake"
)

const validProviders = "ngrok, zrok, manual, fake"

// Defaults applied by New to zero Config fields.
const (
	DefaultHealthInterval = 60 * time.Second
	DefaultMaxRetries     = 10
	DefaultBackoff        = 5 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	DefaultHealthPath     = "/health"
	// MaxBackoff caps the wait between two reconnect attempts.
	MaxBackoff = 60 * time.Second
)

// Config configures a Manager. The zero value of every duration and count
// means its default.
type Config struct {
	Enabled   bool   // TUNNEL_ENABLED
	Provider  string // TUNNEL_PROVIDER: "" (auto), ngrok, zrok, manual or fake
	PublicURL string // WEBHOOK_PUBLIC_URL: base URL for the manual provider

	NgrokAuthtoken string // NGROK_AUTHTOKEN
	NgrokDomain    string // NGROK_DOMAIN: static or custom domain, with or without https://

	ZrokToken      string // ZROK_TOKEN: used to run "zrok enable" once if the environment is not enabled
	ZrokUniqueName string // ZROK_UNIQUE_NAME: reserved share (zrok v1) or name (zrok2)
	ZrokBinary     string // zrok CLI; default: "zrok2", then "zrok", looked up on PATH

	HealthInterval time.Duration // TUNNEL_HEALTH_CHECK_INTERVAL; default 60s
	MaxRetries     int           // TUNNEL_RECONNECT_MAX_RETRIES; default 10
	Backoff        time.Duration // TUNNEL_RECONNECT_BACKOFF_MS; default 5s, doubled per attempt, capped at MaxBackoff
	ConnectTimeout time.Duration // one connect attempt; default 30s

	// LocalURL is the local webhook receiver the tunnel forwards to, such
	// as "http://127.0.0.1:3000". Required by ngrok, zrok and fake.
	LocalURL string
	// HealthPath is appended to the public URL by health checks; default "/health".
	HealthPath string
	// ManualHealthCheck turns on reachability checks (GET <url><HealthPath>)
	// for the manual provider. Off by default: a server behind a firewall
	// that does not hairpin would otherwise be reported as down.
	ManualHealthCheck bool

	Logger *slog.Logger // default: discard

	// Getenv feeds context detection; default os.Getenv.
	Getenv func(string) string
	// Detected replaces context detection (tests, or a caller that already
	// ran Detect). Nil: New runs Detect on this process.
	Detected *Context

	// Fake is the fake provider's backend when Provider is "fake"; nil
	// means New creates one. Tests keep a handle to make it drop.
	Fake *Fake

	// Now and Sleep are clock hooks for tests. Sleep must return early
	// with ctx.Err() when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	// zrokEnv is added to the zrok CLI's environment (tests).
	zrokEnv []string
}

func (c *Config) applyDefaults() error {
	c.Provider = strings.ToLower(strings.TrimSpace(c.Provider))
	c.PublicURL = strings.TrimSpace(c.PublicURL)
	c.NgrokDomain = strings.TrimSpace(c.NgrokDomain)
	c.ZrokUniqueName = strings.TrimSpace(c.ZrokUniqueName)
	c.LocalURL = strings.TrimSpace(c.LocalURL)
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"HealthInterval", &c.HealthInterval, DefaultHealthInterval},
		{"Backoff", &c.Backoff, DefaultBackoff},
		{"ConnectTimeout", &c.ConnectTimeout, DefaultConnectTimeout},
	} {
		if *d.v < 0 {
			return fmt.Errorf("tunnel: %s must not be negative, got %s", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("tunnel: MaxRetries must not be negative, got %d", c.MaxRetries)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.HealthPath == "" {
		c.HealthPath = DefaultHealthPath
	}
	if !strings.HasPrefix(c.HealthPath, "/") {
		c.HealthPath = "/" + c.HealthPath
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff returns the wait before reconnect attempt n (1-based):
// min(base·2^(n−1), MaxBackoff).
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// ValidatePublicURL checks a public base URL such as WEBHOOK_PUBLIC_URL
// and returns it normalised: no trailing slash. It must be absolute,
// without query, fragment or credentials, and https unless its host is
// loopback.
func ValidatePublicURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("public URL %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("public URL %q must start with https://", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("public URL %q has no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("public URL %q must not carry credentials, a query or a fragment", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("public URL %q must use https (plain http is only accepted for loopback hosts)", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func validateLocalURL(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("tunnel: LocalURL (the local webhook receiver, e.g. http://127.0.0.1:3000) is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tunnel: LocalURL %q must be an http(s) URL with a host, e.g. http://127.0.0.1:3000", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// isLoopback is loopback.Host plus the RFC 6761 *.localhost names.
func isLoopback(host string) bool {
	return loopback.Host(host) || strings.HasSuffix(strings.ToLower(host), ".localhost")
}

// JoinURL joins a base URL and a path with exactly one slash between them.
func JoinURL(base, path string) string {
	base = strings.TrimRight(base, "/")
	if path == "" {
		return base
	}
	return base + "/" + strings.TrimLeft(path, "/")
}

// plan is what New decided to run.
type plan struct {
	enabled  bool   // TUNNEL_ENABLED, as reported by Status
	provider string // effective provider
	url      string // manual: the public URL
	problem  string // non-empty: nothing can run; Status.last_error says why
	health   bool   // health checks run after a connect
}

// resolve picks the provider and validates what it needs. Errors are for
// explicit configuration that cannot work; a missing piece in automatic
// mode is a problem reported through Status instead, so that webhooks
// without a tunnel never stop the server from starting.
func resolve(c *Config, det Context) (plan, error) {
	p := plan{enabled: c.Enabled}
	switch c.Provider {
	case "", ProviderNgrok, ProviderZrok, ProviderManual, ProviderFake:
	default:
		return p, fmt.Errorf("tunnel: unknown provider %q (TUNNEL_PROVIDER): valid values are %s, or empty to choose from the execution context", c.Provider, validProviders)
	}
	var public string
	if c.PublicURL != "" {
		u, err := ValidatePublicURL(c.PublicURL)
		if err != nil {
			return p, fmt.Errorf("tunnel: WEBHOOK_PUBLIC_URL: %w", err)
		}
		public = u
	}
	manual := func(u, source string) (plan, error) {
		p.provider = ProviderManual
		if u == "" {
			p.problem = source
			return p, nil
		}
		p.url = u
		p.health = c.ManualHealthCheck
		return p, nil
	}
	// detectedURL returns the detected public URL, or "" and why not.
	detectedURL := func() (string, string) {
		if det.PublicURL == "" {
			return "", ""
		}
		u, err := ValidatePublicURL(det.PublicURL)
		if err != nil {
			return "", fmt.Sprintf("the %s public URL found in the environment cannot be used: %v", det.ExecutionContext, err)
		}
		return u, ""
	}

	if !c.Enabled {
		if public != "" {
			return manual(public, "")
		}
		if det.SuggestedProvider == ProviderManual {
			if u, why := detectedURL(); u != "" {
				return manual(u, "")
			} else if why != "" {
				return manual("", why+". Set WEBHOOK_PUBLIC_URL=https://<public host>.")
			}
		}
		return manual("", "Tunnel is not enabled and no public URL is configured. Set WEBHOOK_PUBLIC_URL=https://<public host> "+
			"if this server is reachable from the internet, or set TUNNEL_ENABLED=true with NGROK_AUTHTOKEN (ngrok) "+
			"or TUNNEL_PROVIDER=zrok to open a tunnel to this machine.")
	}

	provider := c.Provider
	if provider == "" {
		switch {
		case public != "":
			provider = ProviderManual
		case det.SuggestedProvider == ProviderManual:
			u, why := detectedURL()
			if u != "" {
				return manual(u, "")
			}
			if why == "" {
				why = fmt.Sprintf("detected a %s environment but found no public URL", det.ExecutionContext)
			}
			return manual("", why+". Set WEBHOOK_PUBLIC_URL=https://<public host>, or TUNNEL_PROVIDER=ngrok or zrok to use a tunnel.")
		case c.NgrokAuthtoken == "" && (c.ZrokToken != "" || c.ZrokUniqueName != ""):
			provider = ProviderZrok
		default:
			provider = ProviderNgrok
			if c.NgrokAuthtoken == "" {
				p.provider = ProviderNgrok
				p.problem = "No tunnel configured. Set NGROK_AUTHTOKEN (free account: https://dashboard.ngrok.com/get-started/your-authtoken), " +
					"or TUNNEL_PROVIDER=zrok after 'zrok enable <token>', or WEBHOOK_PUBLIC_URL=https://<public host> if this machine is reachable from the internet."
				return p, nil
			}
		}
	}

	p.provider = provider
	switch provider {
	case ProviderManual:
		if public == "" {
			public, _ = detectedURL()
		}
		if public == "" {
			return p, fmt.Errorf("tunnel: TUNNEL_PROVIDER=manual needs WEBHOOK_PUBLIC_URL (the server's public https base URL)")
		}
		return manual(public, "")
	case ProviderNgrok:
		if c.NgrokAuthtoken == "" {
			return p, fmt.Errorf("tunnel: TUNNEL_PROVIDER=ngrok needs NGROK_AUTHTOKEN (https://dashboard.ngrok.com/get-started/your-authtoken)")
		}
		if c.NgrokDomain != "" {
			if _, err := ngrokEndpointURL(c.NgrokDomain); err != nil {
				return p, fmt.Errorf("tunnel: NGROK_DOMAIN: %w", err)
			}
		}
	}
	local, err := validateLocalURL(c.LocalURL)
	if err != nil {
		return p, err
	}
	c.LocalURL = local
	p.health = true
	return p, nil
}
