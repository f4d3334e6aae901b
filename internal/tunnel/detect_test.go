package tunnel

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestDetect(t *testing.T) {
	dockerenv := func(p string) bool { return p == "/.dockerenv" }
	tests := []struct {
		name       string
		env        map[string]string
		fileExists func(string) bool
		tty        bool
		cwd        string

		context    string
		confidence float64
		provider   string
		publicURL  string
		indicator  string // one indicator that must be present
	}{
		{name: "n8n host", env: map[string]string{"N8N_HOST": "n8n.company.com"},
			context: ContextN8N, confidence: 0.95, provider: ProviderManual, publicURL: "https://n8n.company.com",
			indicator: "N8N public URL detected: https://n8n.company.com"},
		{name: "n8n protocol and host", env: map[string]string{"N8N_HOST": "n8n.company.com", "N8N_PROTOCOL": "http"},
			context: ContextN8N, confidence: 0.95, provider: ProviderManual, publicURL: "http://n8n.company.com",
			indicator: "N8N_HOST or N8N_PROTOCOL environment variable detected"},
		{name: "n8n WEBHOOK_URL with scheme: no double scheme", env: map[string]string{"N8N_PROTOCOL": "https", "WEBHOOK_URL": "https://n8n.company.com/"},
			context: ContextN8N, confidence: 0.95, provider: ProviderManual, publicURL: "https://n8n.company.com/"},
		{name: "n8n localhost is not public", env: map[string]string{"N8N_HOST": "localhost"},
			context: ContextN8N, confidence: 0.95, provider: ProviderManual, publicURL: "",
			indicator: "Ignored non-public URL: https://localhost"},
		{name: "opal webhook url", env: map[string]string{"OPAL_WEBHOOK_URL": "https://opal.example.com/hooks"},
			context: ContextOpal, confidence: 0.9, provider: ProviderManual, publicURL: "https://opal.example.com/hooks"},
		{name: "opal host gets https", env: map[string]string{"OPAL_HOST": "opal.example.com"},
			context: ContextOpal, confidence: 0.9, provider: ProviderManual, publicURL: "https://opal.example.com"},
		{name: "opal cwd", cwd: "/srv/Opal-app",
			context: ContextOpal, confidence: 0.9, provider: ProviderManual,
			indicator: "Opal directory detected in working directory: /srv/Opal-app"},
		{name: "kubernetes with ingress", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "INGRESS_HOST": "pay.example.com"},
			context: ContextKubernetes, confidence: 0.95, provider: ProviderManual, publicURL: "https://pay.example.com",
			indicator: "Kubernetes environment variables detected"},
		{name: "kubernetes prefers WEBHOOK_URL", env: map[string]string{"KUBERNETES_PORT": "tcp://10.0.0.1:443", "WEBHOOK_URL": "https://a.example.com", "PUBLIC_URL": "https://b.example.com"},
			context: ContextKubernetes, confidence: 0.95, provider: ProviderManual, publicURL: "https://a.example.com"},
		{name: "kubernetes without URL", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			context: ContextKubernetes, confidence: 0.95, provider: ProviderManual},
		{name: "docker via /.dockerenv (B3)", fileExists: dockerenv,
			context: ContextDocker, confidence: 0.85, provider: ProviderNgrok,
			indicator: "Docker in local development mode"},
		{name: "docker hostname with public url", env: map[string]string{"HOSTNAME": "0123456789ab", "PUBLIC_URL": "https://shop.example.com"},
			context: ContextDocker, confidence: 0.85, provider: ProviderManual, publicURL: "https://shop.example.com",
			indicator: "Docker container hostname pattern detected"},
		{name: "docker host", env: map[string]string{"DOCKER_HOST": "unix:///var/run/docker.sock"},
			context: ContextDocker, confidence: 0.85, provider: ProviderNgrok,
			indicator: "DOCKER_HOST environment variable detected"},
		{name: "server: two indicators", env: map[string]string{"SERVER_NAME": "api", "PM2_HOME": "/root/.pm2"},
			context: ContextServer, confidence: 0.8, provider: ProviderNgrok,
			indicator: "Non-interactive stdin (not counted: always true under MCP stdio)"},
		{name: "server: hostname words count separately", env: map[string]string{"HOSTNAME": "my-cloud-server", "WEBHOOK_URL": "https://vps.example.com"},
			tty: true, context: ContextServer, confidence: 0.8, provider: ProviderManual, publicURL: "https://vps.example.com",
			indicator: "Hostname contains 'cloud'"},
		{name: "laptop under MCP stdio: one indicator plus non-TTY stdin stays local", env: map[string]string{"INVOCATION_ID": "abc"},
			context: ContextLocal, confidence: 0.7, provider: ProviderNgrok, indicator: "Local development environment detected"},
		{name: "laptop", env: map[string]string{"HOME": "/home/me", "HOSTNAME": "me-laptop"}, tty: true,
			context: ContextLocal, confidence: 0.7, provider: ProviderNgrok, indicator: "Local development environment detected"},
		{name: "n8n wins over kubernetes", env: map[string]string{"N8N_HOST": "n8n.example.com", "KUBERNETES_SERVICE_HOST": "10.0.0.1"},
			context: ContextN8N, confidence: 0.95, provider: ProviderManual, publicURL: "https://n8n.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(envOf(tt.env), tt.fileExists, tt.tty, tt.cwd)
			if got.ExecutionContext != tt.context || got.Confidence != tt.confidence ||
				got.SuggestedProvider != tt.provider || got.PublicURL != tt.publicURL {
				t.Fatalf("Detect = %+v; want context=%s confidence=%v provider=%s url=%q",
					got, tt.context, tt.confidence, tt.provider, tt.publicURL)
			}
			if tt.indicator != "" && !slices.Contains(got.Indicators, tt.indicator) {
				t.Fatalf("indicators %q lack %q", got.Indicators, tt.indicator)
			}
			if len(got.Indicators) == 0 {
				t.Fatal("no indicators")
			}
			if strings.Contains(got.PublicURL, "://http") {
				t.Fatalf("double scheme in %q", got.PublicURL)
			}
		})
	}
}

// B3: the TypeScript detector threw on a plain laptop. Detect has no
// failure mode, even with nil inputs.
func TestDetectNilInputsNeverPanic(t *testing.T) {
	got := Detect(nil, nil, false, "")
	if got.ExecutionContext != ContextLocal {
		t.Fatalf("Detect(nil…) = %+v", got)
	}
	_ = Detect(envOf(map[string]string{"N8N_HOST": "%zz:bad", "WEBHOOK_URL": "::"}), nil, false, "")
}

func TestContextSummaryJSON(t *testing.T) {
	b, err := json.Marshal(Context{ExecutionContext: ContextLocal, Confidence: 0.7, SuggestedProvider: ProviderNgrok}.Summary())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"execution_context":"local","confidence":0.7,"suggested_provider":"ngrok","indicators":[]}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestDetectProcessDoesNotPanic(t *testing.T) {
	c := DetectProcess(func(string) string { return "" })
	if c.ExecutionContext == "" || c.Recommendation() == "" {
		t.Fatalf("DetectProcess = %+v", c)
	}
}
