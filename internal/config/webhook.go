package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// WebhookConfig is the webhook receiver and its tunnel (WEBHOOK_*, TUNNEL_*,
// NGROK_*, ZROK_*).
type WebhookConfig struct {
	Enabled       bool          // WEBHOOK_ENABLED (default false; true in sandbox mode)
	Host          string        // WEBHOOK_HOST (default 0.0.0.0, or 127.0.0.1 when a tunnel carries the traffic)
	Port          int           // WEBHOOK_PORT (default 3000; 0 = any free port, the sandbox default)
	Path          string        // WEBHOOK_PATH (default /webhook/bitnovo)
	MaxEvents     int           // WEBHOOK_MAX_EVENTS (default 1000)
	EventTTL      time.Duration // WEBHOOK_EVENT_TTL_MS (default 1 h)
	AllowUnsigned bool          // WEBHOOK_ALLOW_UNSIGNED: accept deliveries without a device secret
	NonceWindow   time.Duration // WEBHOOK_NONCE_WINDOW_MS (default 300 s): freshness of X-NONCE
	RateLimit     float64       // WEBHOOK_RATE_LIMIT: requests per second per source (default 50; 0 = off)
	StatsToken    string        // WEBHOOK_STATS_TOKEN: bearer token for /stats from outside loopback
	// TrustedProxies (CRYPTOPAY_TRUSTED_PROXIES: CIDRs or addresses,
	// comma-separated; default none) are the peers whose X-Forwarded-For
	// names the source the rate limit counts a delivery against.
	TrustedProxies []netip.Prefix

	TunnelEnabled  bool          // TUNNEL_ENABLED (default true)
	TunnelProvider string        // TUNNEL_PROVIDER: ngrok | zrok | manual | fake; "" = detect
	PublicURL      string        // WEBHOOK_PUBLIC_URL
	NgrokAuthtoken string        // NGROK_AUTHTOKEN
	NgrokDomain    string        // NGROK_DOMAIN
	ZrokToken      string        // ZROK_TOKEN
	ZrokUniqueName string        // ZROK_UNIQUE_NAME
	HealthInterval time.Duration // TUNNEL_HEALTH_CHECK_INTERVAL (ms, default 60000)
	MaxReconnects  int           // TUNNEL_RECONNECT_MAX_RETRIES (default 10)
	ReconnectDelay time.Duration // TUNNEL_RECONNECT_BACKOFF_MS (default 5000)
}

// Addr is the receiver's listen address.
func (w WebhookConfig) Addr() string {
	return net.JoinHostPort(w.Host, strconv.Itoa(w.Port))
}

// String describes the webhook configuration with secrets masked.
func (w WebhookConfig) String() string {
	if !w.Enabled {
		return "webhooks=off"
	}
	tunnel := "off"
	if w.TunnelEnabled {
		tunnel = w.TunnelProvider
		if tunnel == "" {
			tunnel = "auto"
		}
	}
	proxies := make([]string, len(w.TrustedProxies))
	for i, p := range w.TrustedProxies {
		proxies[i] = p.String()
	}
	return fmt.Sprintf("webhooks=%s%s tunnel=%s public_url=%s unsigned=%t max_events=%d event_ttl=%s ngrok_authtoken=%s stats_token=%s trusted_proxies=%s",
		w.Addr(), w.Path, tunnel, w.PublicURL, w.AllowUnsigned, w.MaxEvents, w.EventTTL,
		presence(w.NgrokAuthtoken), presence(w.StatsToken), strings.Join(proxies, ","))
}

func loadWebhook(get func(string) string, p *Problems, sandbox bool, secret string) WebhookConfig {
	w := WebhookConfig{Path: "/webhook/bitnovo"}
	w.Enabled = boolVar(p, get, "WEBHOOK_ENABLED", sandbox)
	w.AllowUnsigned = boolVar(p, get, "WEBHOOK_ALLOW_UNSIGNED", false)
	w.TunnelEnabled = boolVar(p, get, "TUNNEL_ENABLED", true)
	defPort := 3000
	if sandbox {
		defPort = 0
	}
	w.Port = intRange(p, get, "WEBHOOK_PORT", defPort, 0, 65535)
	if path := get("WEBHOOK_PATH"); path != "" {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# ") || path == "/health" || path == "/stats" {
			*p = append(*p, fmt.Sprintf("WEBHOOK_PATH: %q must start with / and not be /health or /stats", path))
		} else {
			w.Path = path
		}
	}
	w.MaxEvents = intRange(p, get, "WEBHOOK_MAX_EVENTS", 1000, 1, 10_000_000)
	w.EventTTL = durationMS(p, get, "WEBHOOK_EVENT_TTL_MS", 3_600_000, 1000, 365*24*3_600_000)
	w.NonceWindow = durationMS(p, get, "WEBHOOK_NONCE_WINDOW_MS", 300_000, 1000, 3_600_000)
	w.RateLimit = 50
	if s := get("WEBHOOK_RATE_LIMIT"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r < 0 || r > 1e6 {
			*p = append(*p, fmt.Sprintf("WEBHOOK_RATE_LIMIT: %q must be requests per second per source, 0 to turn the limit off", s))
		} else {
			w.RateLimit = r
		}
	}
	w.StatsToken = get("WEBHOOK_STATS_TOKEN")
	w.TrustedProxies = trustedProxies(p, get(EnvTrustedProxies))

	w.TunnelProvider = strings.ToLower(get("TUNNEL_PROVIDER"))
	switch w.TunnelProvider {
	case "", "ngrok", "zrok", "manual", "fake":
	default:
		*p = append(*p, fmt.Sprintf("TUNNEL_PROVIDER: %q is not one of ngrok, zrok, manual (or unset to detect)", w.TunnelProvider))
	}
	if sandbox && w.TunnelProvider == "" && get("WEBHOOK_PUBLIC_URL") == "" {
		w.TunnelProvider = "fake" // a loopback stand-in for a tunnel: the whole path works offline
	}
	w.PublicURL = strings.TrimRight(get("WEBHOOK_PUBLIC_URL"), "/")
	if w.PublicURL != "" {
		if msg := checkPublicURL(w.PublicURL); msg != "" {
			*p = append(*p, "WEBHOOK_PUBLIC_URL: "+msg)
		}
	}
	w.NgrokAuthtoken = get("NGROK_AUTHTOKEN")
	w.NgrokDomain = get("NGROK_DOMAIN")
	w.ZrokToken = get("ZROK_TOKEN")
	w.ZrokUniqueName = get("ZROK_UNIQUE_NAME")
	w.HealthInterval = durationMS(p, get, "TUNNEL_HEALTH_CHECK_INTERVAL", 60_000, 1000, 3_600_000)
	w.MaxReconnects = intRange(p, get, "TUNNEL_RECONNECT_MAX_RETRIES", 10, 0, 1000)
	w.ReconnectDelay = durationMS(p, get, "TUNNEL_RECONNECT_BACKOFF_MS", 5000, 100, 600_000)

	tunnelled := w.TunnelEnabled && w.TunnelProvider != "manual" && !(w.TunnelProvider == "" && w.PublicURL != "")
	w.Host = get("WEBHOOK_HOST")
	if w.Host == "" {
		w.Host = "0.0.0.0"
		if tunnelled || sandbox {
			w.Host = "127.0.0.1" // the tunnel reaches it on loopback; nothing else needs to
		}
	}

	if !w.Enabled {
		return w
	}
	if w.TunnelEnabled && w.TunnelProvider == "ngrok" && w.NgrokAuthtoken == "" {
		*p = append(*p, "NGROK_AUTHTOKEN: required with TUNNEL_PROVIDER=ngrok (get one at https://dashboard.ngrok.com/get-started/your-authtoken)")
	}
	if w.TunnelProvider == "manual" && w.PublicURL == "" {
		*p = append(*p, "WEBHOOK_PUBLIC_URL: required with TUNNEL_PROVIDER=manual (the https:// address Bitnovo can reach this server at)")
	}
	if secret == "" && !w.AllowUnsigned && !sandbox {
		*p = append(*p, "BITNOVO_DEVICE_SECRET: required with WEBHOOK_ENABLED=true to verify webhook signatures (or set WEBHOOK_ALLOW_UNSIGNED=true to accept unverified events, which are hidden by default)")
	}
	return w
}

// EnvTrustedProxies lists the proxies whose X-Forwarded-For is believed.
const EnvTrustedProxies = "CRYPTOPAY_TRUSTED_PROXIES"

// trustedProxies parses a comma-separated list of CIDRs (127.0.0.1/32,
// 10.0.0.0/8, ::1/128) and single addresses.
func trustedProxies(p *Problems, raw string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if ip, err := netip.ParseAddr(f); err == nil && ip.Zone() == "" {
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(f)
		if err != nil {
			*p = append(*p, fmt.Sprintf("%s: %q is not an address or CIDR (e.g. 127.0.0.1/32, ::1/128, 10.0.0.0/8)", EnvTrustedProxies, f))
			continue
		}
		if pf.Addr().Is4In6() && pf.Bits() >= 96 {
			pf = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96)
		}
		out = append(out, pf.Masked())
	}
	return out
}

func checkPublicURL(raw string) string {
	const msg = "%q must be an https:// URL (Bitnovo only delivers to https; http is allowed for loopback hosts)"
	return checkHTTPSURL(raw, msg, msg)
}
