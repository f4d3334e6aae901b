package tunnel

import (
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Execution contexts Detect reports.
const (
	ContextN8N        = "n8n"
	ContextOpal       = "opal"
	ContextKubernetes = "kubernetes"
	ContextDocker     = "docker"
	ContextServer     = "server"
	ContextLocal      = "local"
)

// Context is what Detect found about where the server runs.
type Context struct {
	ExecutionContext  string   // n8n | opal | kubernetes | docker | server | local
	Confidence        float64  // 0.7 – 0.95
	SuggestedProvider string   // manual or ngrok
	Indicators        []string // human-readable reasons
	PublicURL         string   // a public base URL found in the environment, or ""
}

// Summary returns the get_tunnel_status form.
func (c Context) Summary() *ContextDetected {
	ind := c.Indicators
	if ind == nil {
		ind = []string{}
	}
	return &ContextDetected{
		ExecutionContext:  c.ExecutionContext,
		Confidence:        c.Confidence,
		SuggestedProvider: c.SuggestedProvider,
		Indicators:        ind,
	}
}

// Recommendation is a one-line reason for the suggestion.
func (c Context) Recommendation() string {
	switch c.ExecutionContext {
	case ContextN8N:
		return "N8N instance with a public URL. Use the manual provider with that URL."
	case ContextOpal:
		return "Opal deployment with a public URL. Use the manual provider with that URL."
	case ContextKubernetes:
		return "Kubernetes cluster. Use the manual provider with the ingress or load balancer URL."
	case ContextDocker, ContextServer:
		if c.SuggestedProvider == ProviderManual {
			return "Server with a public URL. Use the manual provider."
		}
		return "No public URL found. Use an ngrok tunnel with a persistent domain, or set WEBHOOK_PUBLIC_URL."
	default:
		return "Local development environment. Use ngrok tunnel with persistent domain."
	}
}

var dockerHostname = regexp.MustCompile(`^[a-f0-9]{12}$`)

// Detect guesses the execution context from the environment. Rules are
// checked in order and the first match wins:
//
//  1. N8N_HOST or N8N_PROTOCOL set → n8n (0.95, manual)
//  2. OPAL_WEBHOOK_URL or OPAL_HOST set, or cwd contains "opal" → opal (0.9, manual)
//  3. KUBERNETES_SERVICE_HOST or KUBERNETES_PORT set → kubernetes (0.95, manual)
//  4. DOCKER_HOST set, a 12-hex HOSTNAME, or /.dockerenv exists → docker
//     (0.85, manual with a URL, else ngrok)
//  5. ≥ 2 server indicators → server (0.8, manual with a URL, else ngrok)
//  6. otherwise → local (0.7, ngrok)
//
// Unlike the TypeScript detector it never fails: fileExists is injected
// (B3), a URL that already has a scheme gets none added, and a scheme-less
// host gets https://. Loopback hosts are not public URLs and are ignored.
//
// stdinIsTTY does not count as a server indicator: under MCP stdio stdin
// is never a terminal, so counting it would turn every laptop with one
// other indicator into a "server". It is only listed as an extra
// indicator once rule 5 has matched on its own.
func Detect(getenv func(string) string, fileExists func(string) bool, stdinIsTTY bool, cwd string) Context {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if fileExists == nil {
		fileExists = func(string) bool { return false }
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }

	// 1. n8n
	if env("N8N_HOST") != "" || env("N8N_PROTOCOL") != "" {
		c := Context{ExecutionContext: ContextN8N, Confidence: 0.95, SuggestedProvider: ProviderManual,
			Indicators: []string{"N8N_HOST or N8N_PROTOCOL environment variable detected"}}
		host := env("N8N_HOST")
		if host == "" {
			host = env("WEBHOOK_URL")
		}
		scheme := strings.ToLower(env("N8N_PROTOCOL"))
		if scheme == "" {
			scheme = "https"
		}
		c.addURL("N8N public URL detected: ", withScheme(host, scheme))
		return c
	}

	// 2. Opal
	opalURL, opalHost := env("OPAL_WEBHOOK_URL"), env("OPAL_HOST")
	if opalURL != "" || opalHost != "" || strings.Contains(strings.ToLower(cwd), "opal") {
		c := Context{ExecutionContext: ContextOpal, Confidence: 0.9, SuggestedProvider: ProviderManual}
		if opalURL != "" || opalHost != "" {
			c.Indicators = append(c.Indicators, "OPAL_WEBHOOK_URL or OPAL_HOST environment variable detected")
		} else {
			c.Indicators = append(c.Indicators, "Opal directory detected in working directory: "+cwd)
		}
		c.addURL("Opal public URL detected: ", withScheme(firstNonEmpty(opalURL, opalHost), "https"))
		return c
	}

	publicURL := func(keys ...string) string {
		for _, k := range keys {
			if v := env(k); v != "" {
				return withScheme(v, "https")
			}
		}
		return ""
	}

	// 3. Kubernetes
	if env("KUBERNETES_SERVICE_HOST") != "" || env("KUBERNETES_PORT") != "" {
		c := Context{ExecutionContext: ContextKubernetes, Confidence: 0.95, SuggestedProvider: ProviderManual,
			Indicators: []string{"Kubernetes environment variables detected"}}
		c.addURL("Kubernetes public URL detected: ", publicURL("WEBHOOK_URL", "PUBLIC_URL", "INGRESS_HOST"))
		return c
	}

	// 4. Docker
	var docker []string
	if env("DOCKER_HOST") != "" {
		docker = append(docker, "DOCKER_HOST environment variable detected")
	}
	if dockerHostname.MatchString(env("HOSTNAME")) {
		docker = append(docker, "Docker container hostname pattern detected")
	}
	if fileExists("/.dockerenv") {
		docker = append(docker, "/.dockerenv file detected")
	}
	if len(docker) > 0 {
		c := Context{ExecutionContext: ContextDocker, Confidence: 0.85, Indicators: docker}
		c.suggestFromURL("Docker public URL detected: ", publicURL("WEBHOOK_URL", "PUBLIC_URL"), "Docker in local development mode")
		return c
	}

	// 5. Server
	var server []string
	hostname := strings.ToLower(env("HOSTNAME"))
	for _, ind := range []struct {
		ok   bool
		text string
	}{
		{env("SERVER_NAME") != "", "SERVER_NAME environment variable detected"},
		{env("SERVER_ADDR") != "", "SERVER_ADDR environment variable detected"},
		{strings.Contains(hostname, "server"), "Hostname contains 'server'"},
		{strings.Contains(hostname, "vps"), "Hostname contains 'vps'"},
		{strings.Contains(hostname, "cloud"), "Hostname contains 'cloud'"},
		{env("AWS_EXECUTION_ENV") != "", "AWS execution environment detected"},
		{env("GCP_PROJECT") != "", "GCP project detected"},
		{env("AZURE_HTTP_USER_AGENT") != "", "Azure environment detected"},
		{env("PM2_HOME") != "", "PM2 process manager detected"},
		{env("PM2_JSON_PROCESSING") != "", "PM2 JSON processing detected"},
		{env("INVOCATION_ID") != "", "systemd service detected (INVOCATION_ID)"},
	} {
		if ind.ok {
			server = append(server, ind.text)
		}
	}
	if len(server) >= 2 {
		if !stdinIsTTY {
			server = append(server, "Non-interactive stdin (not counted: always true under MCP stdio)")
		}
		c := Context{ExecutionContext: ContextServer, Confidence: 0.8, Indicators: server}
		c.suggestFromURL("Server public URL detected: ", publicURL("WEBHOOK_URL", "PUBLIC_URL"), "Server without a public URL in the environment")
		return c
	}

	// 6. Local
	return Context{ExecutionContext: ContextLocal, Confidence: 0.7, SuggestedProvider: ProviderNgrok,
		Indicators: []string{"Local development environment detected"}}
}

// addURL records u as the public URL unless it is empty or loopback.
func (c *Context) addURL(prefix, u string) bool {
	if u == "" {
		return false
	}
	if h := hostOf(u); h == "" || isLoopback(h) {
		c.Indicators = append(c.Indicators, "Ignored non-public URL: "+u)
		return false
	}
	c.PublicURL = u
	c.Indicators = append(c.Indicators, prefix+u)
	return true
}

func (c *Context) suggestFromURL(prefix, u, noURL string) {
	if c.addURL(prefix, u) {
		c.SuggestedProvider = ProviderManual
		return
	}
	c.SuggestedProvider = ProviderNgrok
	c.Indicators = append(c.Indicators, noURL)
}

// withScheme returns v with scheme:// prepended unless it already has one.
func withScheme(v, scheme string) string {
	if v == "" {
		return ""
	}
	if strings.Contains(v, "://") {
		return v
	}
	return scheme + "://" + v
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// DetectProcess runs Detect on this process: os.Getenv, os.Stat, the
// real stdin and working directory.
func DetectProcess(getenv func(string) string) Context {
	if getenv == nil {
		getenv = os.Getenv
	}
	tty := false
	if fi, err := os.Stdin.Stat(); err == nil {
		tty = fi.Mode()&os.ModeCharDevice != 0
	}
	cwd, _ := os.Getwd()
	return Detect(getenv, func(p string) bool { _, err := os.Stat(p); return err == nil }, tty, cwd)
}
