package mcphttp

import (
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Environment variables of the HTTP limits (see Limits); each has a flag
// of the same name in lower case without the MCP_HTTP_ prefix
// (--max-conns, --header-timeout, ...), which wins over the variable.
const (
	EnvMaxConns           = "MCP_HTTP_MAX_CONNS"
	EnvMaxConnsPerIP      = "MCP_HTTP_MAX_CONNS_PER_IP"
	EnvHeaderTimeout      = "MCP_HTTP_HEADER_TIMEOUT"
	EnvBodyTimeout        = "MCP_HTTP_BODY_TIMEOUT"
	EnvIdleTimeout        = "MCP_HTTP_IDLE_TIMEOUT"
	EnvMaxSessions        = "MCP_HTTP_MAX_SESSIONS"
	EnvSessionIdleTimeout = "MCP_HTTP_SESSION_IDLE_TIMEOUT"
)

// Limits bound what clients can hold on the HTTP transport: connections,
// the time to send a request's header and body, idle keep-alive
// connections, and MCP sessions.
type Limits struct {
	MaxConns      int           // open connections, all sources (default DefaultMaxConns(); 0: no limit)
	MaxConnsPerIP int           // open connections per IPv4 address or IPv6 /64 (default 256; 0: no limit)
	HeaderTimeout time.Duration // to send a request's header (default 10s)
	BodyTimeout   time.Duration // to send a request's body (default 30s)
	IdleTimeout   time.Duration // a keep-alive connection between requests (default 60s)
	MaxSessions   int           // open MCP sessions, stateful mode (default 4096; 0: no limit)
	SessionIdle   time.Duration // a session with no request open, its GET stream included, is closed (default 10m)
}

// DefaultLimits are the limits when nothing is configured.
func DefaultLimits() Limits {
	return Limits{MaxConns: DefaultMaxConns(), MaxConnsPerIP: 256, HeaderTimeout: 10 * time.Second, BodyTimeout: DefaultBodyReadTimeout,
		IdleTimeout: time.Minute, MaxSessions: 4096, SessionIdle: 10 * time.Minute}
}

// DefaultMaxConns is half the open-file limit (ulimit -n), at most 4096:
// 512 under the common limit of 1024. The other half is for the webhook
// receiver (a quarter), the store and outgoing calls. Where the limit is
// unknown, 1024.
func DefaultMaxConns() int {
	return maxConnsFor(openFileLimit())
}

func maxConnsFor(nofile uint64) int {
	if nofile == 0 {
		return 1024
	}
	return int(min(4096, max(16, nofile/2)))
}

// limitSetting is one configurable limit: an int (count) or a duration.
type limitSetting struct {
	env, help string
	count     func(*Limits) *int
	dur       func(*Limits) *time.Duration
	minDur    time.Duration
}

var limitSettings = []limitSetting{
	{env: EnvMaxConns, help: "open HTTP connections, all clients together; 0: no limit", count: func(l *Limits) *int { return &l.MaxConns }},
	{env: EnvMaxConnsPerIP, help: "open HTTP connections per client IPv4 address or IPv6 /64; 0: no limit", count: func(l *Limits) *int { return &l.MaxConnsPerIP }},
	{env: EnvHeaderTimeout, help: "time a client may take to send a request's header", dur: func(l *Limits) *time.Duration { return &l.HeaderTimeout }, minDur: 100 * time.Millisecond},
	{env: EnvBodyTimeout, help: "time a client may take to send a request's body", dur: func(l *Limits) *time.Duration { return &l.BodyTimeout }, minDur: 100 * time.Millisecond},
	{env: EnvIdleTimeout, help: "time a keep-alive connection may stay idle between requests", dur: func(l *Limits) *time.Duration { return &l.IdleTimeout }, minDur: 100 * time.Millisecond},
	{env: EnvMaxSessions, help: "open MCP sessions; 0: no limit", count: func(l *Limits) *int { return &l.MaxSessions }},
	{env: EnvSessionIdleTimeout, help: "an MCP session with no request open (its GET stream counts) for this long is closed", dur: func(l *Limits) *time.Duration { return &l.SessionIdle }, minDur: time.Second},
}

func (s limitSetting) flagName() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.env, "MCP_HTTP_")), "_", "-")
}

// LimitFlags are the command-line values of the limits; empty: not given.
type LimitFlags map[string]*string

// BindLimitFlags defines a flag per limit on fs.
func BindLimitFlags(fs *flag.FlagSet) LimitFlags {
	f := LimitFlags{}
	def := DefaultLimits()
	for _, s := range limitSettings {
		var d string
		if s.count != nil {
			d = strconv.Itoa(*s.count(&def))
		} else {
			d = s.dur(&def).String()
		}
		f[s.env] = fs.String(s.flagName(), "", fmt.Sprintf("%s (default %s; also %s)", s.help, d, s.env))
	}
	return f
}

// LoadLimits reads the limits: a flag in f wins over its variable (read
// through getenv), which wins over the default. Every problem is one line.
func LoadLimits(getenv func(string) string, f LimitFlags) (Limits, error) {
	l := DefaultLimits()
	var p Problems
	for _, s := range limitSettings {
		name, raw := s.env, strings.TrimSpace(getenv(s.env))
		if v, ok := f[s.env]; ok && v != nil && strings.TrimSpace(*v) != "" {
			name, raw = "--"+s.flagName(), strings.TrimSpace(*v)
		}
		if raw == "" {
			continue
		}
		if s.count != nil {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 || n > 1_000_000 {
				p = append(p, fmt.Sprintf("%s: %q must be a whole number from 0 (no limit) to 1000000", name, raw))
				continue
			}
			*s.count(&l) = n
			continue
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < s.minDur || d > 24*time.Hour {
			p = append(p, fmt.Sprintf("%s: %q must be a duration from %s to 24h, e.g. 30s or 10m", name, raw, s.minDur))
			continue
		}
		*s.dur(&l) = d
	}
	if len(p) > 0 {
		return l, p
	}
	return l, nil
}

// String lists the limits for the start-up log line.
func (l Limits) String() string {
	return fmt.Sprintf("max_conns=%d max_conns_per_ip=%d header_timeout=%s body_timeout=%s idle_timeout=%s max_sessions=%d session_idle=%s",
		l.MaxConns, l.MaxConnsPerIP, l.HeaderTimeout, l.BodyTimeout, l.IdleTimeout, l.MaxSessions, l.SessionIdle)
}

// admitSession refuses, with 503 and Retry-After, a POST that would open
// an MCP session (it carries no Mcp-Session-Id and is not a sessionless
// 2026-07-28 request) while MaxSessions are open. Concurrent first requests may pass the check together, so the cap
// can be exceeded by the number of those in flight, not more.
func (h *Handler) admitSession(w http.ResponseWriter, r *http.Request) bool {
	if h.sessions == nil || h.maxSessions <= 0 || r.Method != http.MethodPost || r.Header.Get(headerSessionID) != "" {
		return true
	}
	if namesSessionless(r) {
		return true // a sessionless (2026-07-28) request opens no session
	}
	if h.sessions() < h.maxSessions {
		return true
	}
	h.observe(LimitSessions)
	w.Header().Set("Retry-After", "30")
	h.refuse(w, r, http.StatusServiceUnavailable, "session limit reached",
		fmt.Sprintf("too many open MCP sessions (%d, %s): retry later, or reuse a session", h.maxSessions, EnvMaxSessions))
	return false
}
