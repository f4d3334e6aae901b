package tunnel

import (
	"strings"
	"testing"
	"time"
)

func TestNewValidation(t *testing.T) {
	const local = "http://127.0.0.1:3000"
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid
	}{
		{"unknown provider names the valid ones", Config{Enabled: true, Provider: "cloudflare"}, "valid values are ngrok, zrok, manual, fake"},
		{"manual needs a URL", Config{Enabled: true, Provider: "manual"}, "needs WEBHOOK_PUBLIC_URL"},
		{"manual https", Config{Enabled: true, Provider: "manual", PublicURL: "https://n8n.company.com/"}, ""},
		{"manual http refused", Config{Enabled: true, Provider: "manual", PublicURL: "http://n8n.company.com"}, "must use https"},
		{"manual http loopback ok", Config{Enabled: true, Provider: "manual", PublicURL: "http://127.0.0.1:8080"}, ""},
		{"manual http localhost ok", Config{Enabled: true, Provider: "manual", PublicURL: "http://localhost:8080"}, ""},
		{"manual query refused", Config{Enabled: true, Provider: "manual", PublicURL: "https://a.example.com/?x=1"}, "query"},
		{"manual no scheme refused", Config{Enabled: true, Provider: "manual", PublicURL: "a.example.com"}, "https://"},
		{"disabled with bad URL refused", Config{PublicURL: "ftp://a.example.com"}, "https://"},
		{"ngrok needs authtoken", Config{Enabled: true, Provider: "ngrok", LocalURL: local}, "NGROK_AUTHTOKEN"},
		{"ngrok needs local URL", Config{Enabled: true, Provider: "ngrok", NgrokAuthtoken: "t"}, "LocalURL"},
		{"ngrok ok", Config{Enabled: true, Provider: "NGROK ", NgrokAuthtoken: "t", LocalURL: local, NgrokDomain: "x.ngrok-free.app"}, ""},
		{"ngrok domain with path refused", Config{Enabled: true, Provider: "ngrok", NgrokAuthtoken: "t", LocalURL: local, NgrokDomain: "https://x.ngrok-free.app/hook"}, "without a path"},
		{"zrok needs local URL", Config{Enabled: true, Provider: "zrok"}, "LocalURL"},
		{"zrok bad local URL", Config{Enabled: true, Provider: "zrok", LocalURL: "127.0.0.1:3000"}, "http(s) URL"},
		{"fake ok", Config{Enabled: true, Provider: "fake", LocalURL: local}, ""},
		{"negative interval", Config{HealthInterval: -time.Second}, "HealthInterval"},
		{"negative retries", Config{MaxRetries: -1}, "MaxRetries"},
		{"disabled, nothing configured is fine", Config{}, ""},
		{"auto without credentials is fine", Config{Enabled: true, LocalURL: local}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Detected = localContext()
			_, err := New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	const local = "http://127.0.0.1:3000"
	n8n := Context{ExecutionContext: ContextN8N, SuggestedProvider: ProviderManual, PublicURL: "https://n8n.company.com"}
	n8nHTTP := Context{ExecutionContext: ContextN8N, SuggestedProvider: ProviderManual, PublicURL: "http://n8n.company.com"}
	k8sNoURL := Context{ExecutionContext: ContextKubernetes, SuggestedProvider: ProviderManual}
	laptop := *localContext()
	tests := []struct {
		name     string
		cfg      Config
		det      Context
		provider string
		url      string
		problem  string // substring; "" = none
		enabled  bool
		health   bool
	}{
		{"B5: tunnel off + WEBHOOK_PUBLIC_URL → manual", Config{PublicURL: "https://n8n.company.com"}, laptop,
			ProviderManual, "https://n8n.company.com", "", false, false},
		{"tunnel off, nothing → says how to get a URL", Config{}, laptop,
			ProviderManual, "", "Set WEBHOOK_PUBLIC_URL", false, false},
		{"tunnel off, detected n8n URL used", Config{}, n8n,
			ProviderManual, "https://n8n.company.com", "", false, false},
		{"tunnel off, detected http URL explained", Config{}, n8nHTTP,
			ProviderManual, "", "must use https", false, false},
		{"B6: auto uses the suggestion (n8n → manual)", Config{Enabled: true, LocalURL: local}, n8n,
			ProviderManual, "https://n8n.company.com", "", true, false},
		{"auto k8s without URL explains", Config{Enabled: true, LocalURL: local}, k8sNoURL,
			ProviderManual, "", "found no public URL", true, false},
		{"auto with WEBHOOK_PUBLIC_URL → manual even on a laptop", Config{Enabled: true, PublicURL: "https://h.example.com/", LocalURL: local}, laptop,
			ProviderManual, "https://h.example.com", "", true, false},
		{"auto laptop without token explains", Config{Enabled: true, LocalURL: local}, laptop,
			ProviderNgrok, "", "NGROK_AUTHTOKEN", true, false},
		{"auto laptop with token → ngrok", Config{Enabled: true, LocalURL: local, NgrokAuthtoken: "t"}, laptop,
			ProviderNgrok, "", "", true, true},
		{"auto laptop with zrok settings → zrok", Config{Enabled: true, LocalURL: local, ZrokUniqueName: "hooks"}, laptop,
			ProviderZrok, "", "", true, true},
		{"explicit provider beats detection", Config{Enabled: true, Provider: "zrok", LocalURL: local}, n8n,
			ProviderZrok, "", "", true, true},
		{"explicit manual uses detected URL", Config{Enabled: true, Provider: "manual"}, n8n,
			ProviderManual, "https://n8n.company.com", "", true, false},
		{"manual with health check", Config{Enabled: true, Provider: "manual", PublicURL: "https://h.example.com", ManualHealthCheck: true}, laptop,
			ProviderManual, "https://h.example.com", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if err := cfg.applyDefaults(); err != nil {
				t.Fatal(err)
			}
			p, err := resolve(&cfg, tt.det)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if p.provider != tt.provider || p.url != tt.url || p.enabled != tt.enabled || p.health != tt.health {
				t.Fatalf("plan = %+v; want provider=%s url=%q enabled=%v health=%v", p, tt.provider, tt.url, tt.enabled, tt.health)
			}
			if (tt.problem == "") != (p.problem == "") || !strings.Contains(p.problem, tt.problem) {
				t.Fatalf("problem = %q; want %q", p.problem, tt.problem)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		base time.Duration
		n    int
		want time.Duration
	}{
		{5 * time.Second, 1, 5 * time.Second},
		{5 * time.Second, 2, 10 * time.Second},
		{5 * time.Second, 3, 20 * time.Second},
		{5 * time.Second, 4, 40 * time.Second},
		{5 * time.Second, 5, 60 * time.Second},
		{5 * time.Second, 500, 60 * time.Second},
		{90 * time.Second, 1, 60 * time.Second},
		{time.Millisecond, 3, 4 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.base, tt.n); got != tt.want {
			t.Errorf("backoff(%s, %d) = %s; want %s", tt.base, tt.n, got, tt.want)
		}
	}
}

func TestJoinURL(t *testing.T) {
	tests := []struct{ base, path, want string }{
		{"https://a.example.com", "/webhook/bitnovo", "https://a.example.com/webhook/bitnovo"},
		{"https://a.example.com/", "webhook/bitnovo", "https://a.example.com/webhook/bitnovo"},
		{"https://a.example.com/prefix/", "/webhook", "https://a.example.com/prefix/webhook"},
		{"https://a.example.com", "", "https://a.example.com"},
	}
	for _, tt := range tests {
		if got := JoinURL(tt.base, tt.path); got != tt.want {
			t.Errorf("JoinURL(%q, %q) = %q; want %q", tt.base, tt.path, got, tt.want)
		}
	}
}

func TestValidatePublicURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"https://n8n.company.com/", "https://n8n.company.com", ""},
		{" https://a.example.com/base/ ", "https://a.example.com/base", ""},
		{"http://[::1]:8080", "http://[::1]:8080", ""},
		{"https://user:pw@a.example.com", "", "credentials"},
		{"https://a.example.com/#x", "", "fragment"},
		{"https://", "", "no host"},
		{"http://10.0.0.5", "", "https"},
	}
	for _, tt := range tests {
		got, err := ValidatePublicURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ValidatePublicURL(%q) err = %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ValidatePublicURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
