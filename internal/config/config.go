// Package config turns environment variables and flags into one validated
// Config. Every problem is reported as one line; callers print them and exit
// with status 2.
package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// DefaultBaseURL is Bitnovo Pay's production API.
const DefaultBaseURL = "https://pos.bitnovo.com"

// Mode says whether the server talks to the real provider or to the
// built-in fakes.
type Mode string

const (
	ModeLive    Mode = "live"
	ModeSandbox Mode = "sandbox"
)

// Config is everything the server needs, parsed once at start-up.
type Config struct {
	Mode Mode

	DeviceID     string // BITNOVO_DEVICE_ID (UUID); empty in sandbox mode
	DeviceSecret string // BITNOVO_DEVICE_SECRET (64 hex chars), optional
	BaseURL      string // BITNOVO_BASE_URL; in sandbox mode filled in once the fake listens

	DataDir     string // CRYPTOPAY_DATA_DIR
	DatabaseURL string // CRYPTOPAY_DATABASE_URL: postgres://… to share state between replicas; "" = SQLite in DataDir
	LogLevel    string // --log-level, CRYPTOPAY_LOG_LEVEL or LOG_LEVEL: debug | info | warn | error (log.go)
	LogFormat   string // LOG_FORMAT: text | json

	// Warnings are settings Load ignored (log.go), for the server to log
	// once its logger exists.
	Warnings []string

	APITimeout  time.Duration // API_TIMEOUT (ms): per HTTP attempt
	MaxRetries  int           // MAX_RETRIES: retries of safe (GET) requests
	RetryDelay  time.Duration // RETRY_DELAY (ms): first backoff step
	ToolTimeout time.Duration // CRYPTOPAY_TOOL_TIMEOUT (ms): overall deadline of one tool call

	// Access is CRYPTOPAY_TOOLSETS / --toolsets and CRYPTOPAY_READ_ONLY /
	// --read-only: which tools the server offers at all.
	Access access.Policy

	// UI is CRYPTOPAY_UI (default on): the MCP Apps cards for clients that
	// declare the io.modelcontextprotocol/ui extension; off hides them from
	// every client.
	UI bool

	// Tenants (CRYPTOPAY_TENANTS_FILE): several merchants behind one HTTP
	// server; nil: one merchant, configured by the variables above.
	Tenants *Tenants

	Shop    ShopConfig    // Bitrefill shop toolset (shop.go)
	Webhook WebhookConfig // webhook receiver and tunnel (webhook.go)

	Subscriptions SubscriptionLimits // caps on resource subscriptions (limits.go)
}

// Sandbox reports whether the server runs against the built-in fakes.
func (c Config) Sandbox() bool { return c.Mode == ModeSandbox }

// String describes the configuration with secrets masked, for the start-up log line.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode=%s", c.Mode)
	if c.Mode == ModeLive {
		fmt.Fprintf(&b, " device_id=%s base_url=%s", MaskID(c.DeviceID), c.BaseURL)
	}
	fmt.Fprintf(&b, " device_secret=%s", presence(c.DeviceSecret))
	if c.DatabaseURL != "" {
		fmt.Fprintf(&b, " database=%s", maskDatabaseURL(c.DatabaseURL))
	}
	fmt.Fprintf(&b, " data_dir=%s api_timeout=%s max_retries=%d tool_timeout=%s log_level=%s log_format=%s",
		c.DataDir, c.APITimeout, c.MaxRetries, c.ToolTimeout, c.LogLevel, c.LogFormat)
	if c.Tenants != nil {
		fmt.Fprintf(&b, " tenants=%d tenant_claim=%s", len(c.Tenants.List), c.Tenants.Claim)
	}
	fmt.Fprintf(&b, " toolsets=%s read_only=%t ui=%t", strings.TrimSuffix(c.Access.String(), " (read-only)"), c.Access.ReadOnly, c.UI)
	fmt.Fprintf(&b, " %s %s", c.Shop, c.Webhook)
	return b.String()
}

// checkDatabaseURL returns what is wrong with a PostgreSQL URL, or "".
func checkDatabaseURL(raw string) string {
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "must be a postgres:// or postgresql:// URL with a host"
	}
	return ""
}

// maskDatabaseURL keeps scheme, host and database name, never the password.
func maskDatabaseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "set"
	}
	return "postgres://" + u.Host + u.Path
}

func presence(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// MaskID keeps the first and last four characters of an identifier:
// "12345678-****-****-****-********90ab" style.
func MaskID(id string) string {
	if len(id) <= 8 {
		return strings.Repeat("*", len(id))
	}
	var b strings.Builder
	for i, r := range id {
		switch {
		case i < 8 || i >= len(id)-4 || r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('*')
		}
	}
	return b.String()
}

// Flags are command-line overrides; empty values mean "not given".
type Flags struct {
	DataDir  string
	LogLevel string
	Sandbox  bool
	Toolsets string // --toolsets, overrides CRYPTOPAY_TOOLSETS
	ReadOnly bool   // --read-only; CRYPTOPAY_READ_ONLY=true does the same
}

// Bind defines the flags every serving command shares on fs.
func (f *Flags) Bind(fs *flag.FlagSet) {
	fs.StringVar(&f.DataDir, "data-dir", "", "where state lives (overrides CRYPTOPAY_DATA_DIR)")
	fs.StringVar(&f.LogLevel, "log-level", "", "debug, info, warn or error (overrides CRYPTOPAY_LOG_LEVEL and LOG_LEVEL)")
	fs.BoolVar(&f.Sandbox, "sandbox", false, "run against the built-in fake provider even if credentials are set")
	fs.StringVar(&f.Toolsets, "toolsets", "", "comma list of toolsets to offer: all, payments, webhooks, shop, shop-purchase (overrides CRYPTOPAY_TOOLSETS)")
	fs.BoolVar(&f.ReadOnly, "read-only", false, "offer only tools annotated read-only (also CRYPTOPAY_READ_ONLY=true)")
}

// ErrInvalid wraps every configuration problem.
var ErrInvalid = errors.New("invalid configuration")

// Problems is a list of one-line configuration errors.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (p Problems) Unwrap() error { return ErrInvalid }

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	secretRE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Load reads the environment through getenv (os.Getenv in production) and
// applies flags on top. It returns every problem found, not just the first.
func Load(getenv func(string) string, f Flags) (Config, error) {
	var p Problems
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }

	c := Config{Mode: ModeLive}
	c.DeviceID = get("BITNOVO_DEVICE_ID")
	c.DeviceSecret = get("BITNOVO_DEVICE_SECRET")
	c.BaseURL = get("BITNOVO_BASE_URL")

	tenantsPath := get(EnvTenantsFile)
	forced := boolVar(&p, get, "CRYPTOPAY_SANDBOX", false) || f.Sandbox
	if forced || (c.DeviceID == "" && tenantsPath == "") {
		c.Mode = ModeSandbox
	}
	if tenantsPath != "" {
		// Each tenant names its own credentials.
		for _, k := range []string{"BITNOVO_DEVICE_ID", "BITNOVO_DEVICE_SECRET", "BITREFILL_API_ID", "BITREFILL_API_SECRET"} {
			if get(k) != "" {
				p = append(p, fmt.Sprintf("%s: unset it with %s (each tenant names its own)", k, EnvTenantsFile))
			}
		}
		c.DeviceID, c.DeviceSecret = "", ""
		c.Tenants = loadTenants(tenantsPath, c.Mode == ModeLive, &p)
	}

	if c.Mode == ModeLive {
		if c.Tenants == nil && tenantsPath == "" && !uuidRE.MatchString(c.DeviceID) {
			p = append(p, "BITNOVO_DEVICE_ID: must be a UUID like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (copy it from the Bitnovo Pay dashboard)")
		}
		if c.BaseURL == "" {
			c.BaseURL = DefaultBaseURL
		}
		if msg := checkBaseURL(c.BaseURL); msg != "" {
			p = append(p, "BITNOVO_BASE_URL: "+msg)
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	} else {
		c.BaseURL = "" // the sandbox fills it in
	}
	if c.DeviceSecret != "" && !secretRE.MatchString(c.DeviceSecret) {
		p = append(p, fmt.Sprintf("BITNOVO_DEVICE_SECRET: must be exactly 64 hexadecimal characters (got %d characters)", len(c.DeviceSecret)))
	}

	ls := LoadLog(getenv, f.LogLevel, &p)
	c.LogLevel, c.LogFormat, c.Warnings = ls.Level, ls.Format, ls.Warnings

	c.APITimeout = durationMS(&p, get, "API_TIMEOUT", 5000, 500, 60000)
	c.MaxRetries = intRange(&p, get, "MAX_RETRIES", 2, 0, 5)
	c.RetryDelay = durationMS(&p, get, "RETRY_DELAY", 1000, 50, 10000)
	c.ToolTimeout = durationMS(&p, get, "CRYPTOPAY_TOOL_TIMEOUT", 30000, 1000, 300000)

	c.Access = loadAccess(get, &p, f)
	c.UI = boolVar(&p, get, "CRYPTOPAY_UI", true)
	c.Shop = loadShop(get, &p)
	c.Subscriptions = loadSubscriptionLimits(get, &p)
	secret := c.DeviceSecret
	if c.Tenants != nil {
		secret = "per-tenant" // checked below, tenant by tenant
	}
	c.Webhook = loadWebhook(get, &p, c.Mode == ModeSandbox, secret)
	if c.Tenants != nil && c.Webhook.Enabled {
		if c.Webhook.AllowUnsigned {
			p = append(p, "WEBHOOK_ALLOW_UNSIGNED: not with "+EnvTenantsFile+": a delivery's signature is what says whose it is")
		}
		for _, t := range c.Tenants.List {
			if t.DeviceSecret == "" && c.Mode == ModeLive {
				p = append(p, fmt.Sprintf("%s: tenant %q: bitnovo_device_secret is required with WEBHOOK_ENABLED=true", EnvTenantsFile, t.ID))
			}
		}
	}

	c.DatabaseURL = get("CRYPTOPAY_DATABASE_URL")
	if c.DatabaseURL != "" && tenantsPath != "" {
		p = append(p, "CRYPTOPAY_DATABASE_URL: not with "+EnvTenantsFile+": give each tenant its own database_url in the tenants file (one database per tenant)")
	} else if c.DatabaseURL != "" {
		if msg := checkDatabaseURL(c.DatabaseURL); msg != "" {
			p = append(p, "CRYPTOPAY_DATABASE_URL: "+msg+" (unset it to use the embedded SQLite store)")
		}
	}
	c.DataDir = cmp.Or(f.DataDir, get("CRYPTOPAY_DATA_DIR"))
	if c.DataDir == "" {
		dir, err := defaultDataDir(getenv)
		if err != nil {
			p = append(p, "CRYPTOPAY_DATA_DIR: not set and no home directory to default to: "+err.Error())
		}
		c.DataDir = dir
		if c.Mode == ModeSandbox && dir != "" {
			// Sandbox records never mix with live ones.
			c.DataDir = filepath.Join(dir, "sandbox")
		}
	}

	if len(p) > 0 {
		return c, p
	}
	return c, nil
}

func checkBaseURL(raw string) string {
	return checkHTTPSURL(raw,
		"%q uses plain http; use https:// (http is only allowed for loopback hosts)",
		"%q must start with https://")
}

// checkHTTPSURL accepts an absolute https URL without credentials, query or
// fragment, or http for a loopback host; otherwise it returns a problem,
// formatting raw into plainHTTP (a remote http URL) or otherScheme.
func checkHTTPSURL(raw, plainHTTP, otherScheme string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q must not carry credentials, a query or a fragment", raw)
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && loopback.Host(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return fmt.Sprintf(plainHTTP, raw)
	default:
		return fmt.Sprintf(otherScheme, raw)
	}
}

func parseBool(s string, def bool) (bool, error) {
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return def, fmt.Errorf("%q is not a boolean (use true or false)", s)
}

// boolVar reads a boolean variable, recording a problem for a bad value.
func boolVar(p *Problems, get func(string) string, key string, def bool) bool {
	v, err := parseBool(get(key), def)
	if err != nil {
		*p = append(*p, key+": "+err.Error())
	}
	return v
}

func intRange(p *Problems, get func(string) string, key string, def, lo, hi int) int {
	s := get(key)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		*p = append(*p, fmt.Sprintf("%s: %q must be a whole number from %d to %d", key, s, lo, hi))
		return def
	}
	return n
}

func durationMS(p *Problems, get func(string) string, key string, def, lo, hi int) time.Duration {
	return time.Duration(intRange(p, get, key, def, lo, hi)) * time.Millisecond
}

// defaultDataDir follows the platform's convention for application state:
// $XDG_STATE_HOME or ~/.local/state on Unix, the user config dir elsewhere.
func defaultDataDir(getenv func(string) string) (string, error) {
	const app = "cryptopay-mcp"
	if runtime.GOOS == "linux" || runtime.GOOS == "freebsd" || runtime.GOOS == "openbsd" {
		if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
			return filepath.Join(x, app), nil
		}
		home := getenv("HOME")
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("resolve home: %w", err)
			}
			home = h
		}
		return filepath.Join(home, ".local", "state", app), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("resolve config dir: %w", err)
	}
	return filepath.Join(dir, app), nil
}

// loadAccess reads the toolsets and read-only mode. A flag wins over its
// variable; read-only is on when either says so.
func loadAccess(get func(string) string, p *Problems, f Flags) access.Policy {
	var pol access.Policy
	src, list := "CRYPTOPAY_TOOLSETS", get("CRYPTOPAY_TOOLSETS")
	if f.Toolsets != "" {
		src, list = "--toolsets", f.Toolsets
	}
	ts, err := access.ParseToolsets(list)
	if err != nil {
		*p = append(*p, src+": "+err.Error())
	} else if len(ts) < len(access.AllToolsets()) {
		pol.Toolsets = ts
	}
	pol.ReadOnly = boolVar(p, get, "CRYPTOPAY_READ_ONLY", false) || f.ReadOnly
	return pol
}
