// Package mcphttp puts the MCP Streamable HTTP endpoint on the network
// safely: a bearer token, an Origin allow list, a Host check against DNS
// rebinding, health and readiness probes and the Prometheus endpoint, in
// one http.Handler around the go-sdk's StreamableHTTPHandler.
//
// Routes:
//
//	/mcp      MCP Streamable HTTP            Host, Origin and token checked
//	/metrics  Prometheus text format 0.0.4   Host and token checked
//	/healthz  liveness: 200 while serving    open
//	/readyz   200 when the store answers,    open
//	          503 while shutting down
package mcphttp

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// Environment variables read by LoadConfig.
const (
	EnvToken          = "MCP_HTTP_TOKEN"
	EnvAllowedOrigins = "MCP_HTTP_ALLOWED_ORIGINS"
	EnvAllowedHosts   = "MCP_HTTP_ALLOWED_HOSTS"
	EnvStateless      = "MCP_HTTP_STATELESS"
	EnvTokenScopes    = "MCP_HTTP_TOKEN_SCOPES"
	EnvPublicURL      = "MCP_HTTP_PUBLIC_URL"
	EnvOAuthIssuer    = "MCP_OAUTH_ISSUER"
	EnvOAuthJWKS      = "MCP_OAUTH_JWKS_URL"
	EnvOAuthAudience  = "MCP_OAUTH_AUDIENCE"
	// EnvOAuthRequireATJWT: "true" refuses access tokens whose JOSE header
	// lacks typ "at+jwt" (RFC 9068 §2.1), so an ID token or another JWT of
	// the same issuer is never taken for an access token.
	EnvOAuthRequireATJWT = "MCP_OAUTH_REQUIRE_AT_JWT"
)

// DefaultListen is the address served when --listen is not given.
const DefaultListen = "127.0.0.1:8080"

// MinTokenLen is the shortest MCP_HTTP_TOKEN accepted.
const MinTokenLen = 32

// Config is the HTTP transport's configuration.
type Config struct {
	Listen    string // host:port to bind
	Stateless bool   // no sessions: every POST stands alone
	// Token is the bearer token required on /mcp and /metrics. Required
	// when Listen is not a loopback address.
	Token string
	// AllowedOrigins are extra browser origins allowed to call /mcp, on top
	// of the defaults (see originAllowList). Entries are scheme://host[:port]
	// with port "*" for any port, lower-cased.
	AllowedOrigins []string
	// AllowedHosts are the host names (no port) clients may use to reach the
	// server, e.g. the public name of a tunnel or reverse proxy. A leading
	// "*." matches any subdomain. See Handler.hostAllowed for the full rule.
	AllowedHosts []string
	// TokenScopes are the scopes a caller with Token holds; nil: all.
	TokenScopes []access.Scope
	// PublicURL is the public address of /mcp (MCP_HTTP_PUBLIC_URL with
	// "/mcp" appended when it has no path): the OAuth resource identifier.
	// Empty: derived from the bound address (see ResourceURL).
	PublicURL string
	// OAuth, when Issuer is set, makes /mcp an OAuth 2.1 resource server
	// instead of checking Token.
	OAuth OAuthConfig
}

// OAuthConfig is the MCP_OAUTH_* part of the configuration.
type OAuthConfig struct {
	Issuer   string // MCP_OAUTH_ISSUER
	JWKSURL  string // MCP_OAUTH_JWKS_URL; "": discovered from the issuer
	Audience string // MCP_OAUTH_AUDIENCE: accepted as aud besides the resource URL
	// RequireATJWT (MCP_OAUTH_REQUIRE_AT_JWT): tokens must carry typ
	// "at+jwt" (RFC 9068).
	RequireATJWT bool
}

// Enabled reports whether OAuth is configured.
func (o OAuthConfig) Enabled() bool { return o.Issuer != "" }

// Problems is a list of one-line configuration errors.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// LoadConfig reads the MCP_HTTP_* environment through getenv and combines
// it with the flags. stateless is the --stateless flag: true forces
// stateless mode, false leaves the choice to MCP_HTTP_STATELESS. Every
// problem is one line; the token never appears in them.
func LoadConfig(getenv func(string) string, listen string, stateless bool) (Config, error) {
	var p Problems
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{Listen: cmp.Or(strings.TrimSpace(listen), DefaultListen), Stateless: stateless}

	if !stateless {
		switch v := strings.ToLower(get(EnvStateless)); v {
		case "", "0", "false", "no", "off":
		case "1", "true", "yes", "on":
			c.Stateless = true
		default:
			p = append(p, fmt.Sprintf("%s: %q is not a boolean (use true or false)", EnvStateless, v))
		}
	}

	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		p = append(p, fmt.Sprintf("--listen %q: want host:port, e.g. 127.0.0.1:8080", c.Listen))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p = append(p, fmt.Sprintf("--listen %q: port must be a number from 0 to 65535", c.Listen))
	}

	c.Token = get(EnvToken)
	c.OAuth = OAuthConfig{Issuer: get(EnvOAuthIssuer), JWKSURL: get(EnvOAuthJWKS), Audience: get(EnvOAuthAudience)}
	switch {
	case c.Token != "" && c.OAuth.Enabled():
		p = append(p, fmt.Sprintf("%s and %s: set one (a static token or OAuth), not both", EnvToken, EnvOAuthIssuer))
	case c.Token == "" && !c.OAuth.Enabled() && err == nil && !IsLoopbackHost(host):
		p = append(p, fmt.Sprintf("%s: required when --listen is not a loopback address (got %s); generate one with: openssl rand -hex 32, or set %s for OAuth", EnvToken, c.Listen, EnvOAuthIssuer))
	case c.Token != "" && len(c.Token) < MinTokenLen:
		p = append(p, fmt.Sprintf("%s: too short (%d characters); use at least %d, e.g. openssl rand -hex 32", EnvToken, len(c.Token), MinTokenLen))
	case strings.ContainsFunc(c.Token, func(r rune) bool { return r <= ' ' || r > '~' }):
		p = append(p, EnvToken+": must be printable ASCII without spaces")
	}

	if raw := get(EnvTokenScopes); raw != "" {
		sc, serr := access.ParseScopes(raw, true)
		switch {
		case c.Token == "":
			p = append(p, fmt.Sprintf("%s: only applies with %s", EnvTokenScopes, EnvToken))
		case serr != nil:
			p = append(p, EnvTokenScopes+": "+serr.Error())
		case len(sc) == 0:
			p = append(p, EnvTokenScopes+": lists no scope")
		default:
			c.TokenScopes = sc
		}
	}
	switch v := strings.ToLower(get(EnvOAuthRequireATJWT)); v {
	case "", "0", "false", "no", "off":
	case "1", "true", "yes", "on":
		c.OAuth.RequireATJWT = true
	default:
		p = append(p, fmt.Sprintf("%s: %q is not a boolean (use true or false)", EnvOAuthRequireATJWT, v))
	}
	if c.OAuth.Enabled() {
		if msg := checkURL(c.OAuth.Issuer); msg != "" {
			p = append(p, EnvOAuthIssuer+": "+msg)
		}
		if c.OAuth.JWKSURL != "" {
			if msg := checkURL(c.OAuth.JWKSURL); msg != "" {
				p = append(p, EnvOAuthJWKS+": "+msg)
			}
		}
		if err == nil && c.PublicURL == "" && get(EnvPublicURL) == "" {
			if ip := net.ParseIP(strings.Trim(host, "[]")); host == "" || (ip != nil && ip.IsUnspecified()) {
				p = append(p, fmt.Sprintf("%s: required with %s when --listen is a wildcard address (%s): it is the resource that tokens must name", EnvPublicURL, EnvOAuthIssuer, c.Listen))
			}
		}
	} else {
		for _, k := range []string{EnvOAuthJWKS, EnvOAuthAudience, EnvOAuthRequireATJWT} {
			if get(k) != "" {
				p = append(p, fmt.Sprintf("%s: only applies with %s", k, EnvOAuthIssuer))
			}
		}
	}
	publicHost := ""
	if raw := get(EnvPublicURL); raw != "" {
		if msg := checkURL(raw); msg != "" {
			p = append(p, EnvPublicURL+": "+msg)
		} else {
			u, _ := url.Parse(raw)
			if u.Path == "" || u.Path == "/" {
				u.Path = "/mcp"
			}
			c.PublicURL = u.String()
			// Clients reach the server by the public name: serve it.
			if h := strings.ToLower(u.Hostname()); !IsLoopbackHost(h) {
				publicHost = h
			}
		}
	}

	for _, raw := range splitList(get(EnvAllowedOrigins)) {
		o, msg := parseOrigin(raw)
		if msg != "" {
			p = append(p, fmt.Sprintf("%s: %q %s", EnvAllowedOrigins, raw, msg))
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, o.String())
	}
	for _, raw := range splitList(get(EnvAllowedHosts)) {
		h, msg := parseHostPattern(raw)
		if msg != "" {
			p = append(p, fmt.Sprintf("%s: %q %s", EnvAllowedHosts, raw, msg))
			continue
		}
		c.AllowedHosts = append(c.AllowedHosts, h)
	}
	if publicHost != "" && !slices.Contains(c.AllowedHosts, publicHost) {
		c.AllowedHosts = append(c.AllowedHosts, publicHost)
	}
	if len(p) > 0 {
		return c, p
	}
	return c, nil
}

// checkURL accepts an absolute https URL without credentials, query or
// fragment, or http for a loopback host. It returns the problem, or "".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Sprintf("%q is not an absolute http(s) URL", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("%q must not carry credentials, a query or a fragment", raw)
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		return fmt.Sprintf("%q uses plain http; use https:// (http is only allowed for loopback hosts)", raw)
	}
	return ""
}

// AuthMode is "oauth", "bearer" (static token) or "none".
func (c Config) AuthMode() string {
	switch {
	case c.OAuth.Enabled():
		return "oauth"
	case c.Token != "":
		return "bearer"
	}
	return "none"
}

// ResourceURL is the OAuth resource identifier of /mcp: PublicURL, or
// http://<bound address>/mcp.
func (c Config) ResourceURL(bound net.Addr) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	addr := c.Listen
	if bound != nil {
		addr = bound.String()
	}
	return "http://" + addr + "/mcp"
}

// String describes the configuration with the token masked.
func (c Config) String() string {
	tok := "unset"
	if c.Token != "" {
		tok = "set"
	}
	return fmt.Sprintf("listen=%s stateless=%t auth=%s token=%s allowed_origins=%s allowed_hosts=%s",
		c.Listen, c.Stateless, c.AuthMode(), tok, strings.Join(c.AllowedOrigins, ","), strings.Join(c.AllowedHosts, ","))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// IsLoopbackHost reports whether a host (no port, brackets allowed) is
// "localhost" or a loopback IP. An empty host (all interfaces) is not.
func IsLoopbackHost(host string) bool {
	return loopback.Host(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
}

// origin is a parsed allow-list entry or request Origin.
type origin struct {
	scheme, host, port string // port "*" matches any; never empty
}

func (o origin) String() string {
	h := o.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return o.scheme + "://" + h + ":" + o.port
}

func (o origin) matches(req origin) bool {
	return o.scheme == req.scheme && o.host == req.host && (o.port == "*" || o.port == req.port)
}

// parseOrigin parses scheme://host[:port] (port may be "*"); the message is
// empty on success.
func parseOrigin(raw string) (origin, string) {
	s := strings.ToLower(strings.TrimSuffix(raw, "/"))
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return origin{}, "must start with http:// or https://"
	}
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return origin{}, "must be scheme://host[:port] without path, query or credentials (port * means any)"
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		host = rest[1 : len(rest)-1]
	}
	if host == "" || strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return origin{}, "has an invalid host"
	}
	switch {
	case port == "":
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	case port == "*":
	default:
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return origin{}, "has an invalid port"
		}
		port = strconv.Itoa(n)
	}
	return origin{scheme: scheme, host: host, port: port}, ""
}

// parseHostPattern validates an MCP_HTTP_ALLOWED_HOSTS entry: a DNS name,
// an IP address or *.domain, without scheme, port or path.
func parseHostPattern(raw string) (string, string) {
	s := strings.TrimSuffix(strings.ToLower(raw), ".")
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@ ") {
		return "", "must be a bare host name such as mcp.example.com (no scheme or path)"
	}
	if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil {
		return ip.String(), ""
	}
	if strings.Contains(s, ":") {
		return "", "must not carry a port (any port is accepted)"
	}
	name := strings.TrimPrefix(s, "*.")
	if name == "" || len(name) > 253 {
		return "", "is not a valid host name"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.ContainsFunc(label, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
			}) {
			return "", "is not a valid host name"
		}
	}
	return s, ""
}
