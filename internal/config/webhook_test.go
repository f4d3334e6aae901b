package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookDefaults(t *testing.T) {
	live := map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID, "BITNOVO_DEVICE_SECRET": goodSecret}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range live {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		enabled  bool
		addr     string
		provider string
		tunnel   bool
	}{
		{"live default is off", live, false, "127.0.0.1:3000", "", true},
		{"enabled with auto tunnel binds loopback", with(map[string]string{"WEBHOOK_ENABLED": "true"}), true, "127.0.0.1:3000", "", true},
		{"public url without tunnel binds all interfaces", with(map[string]string{"WEBHOOK_ENABLED": "true", "TUNNEL_ENABLED": "false", "WEBHOOK_PUBLIC_URL": "https://n8n.company.com/"}), true, "0.0.0.0:3000", "", false},
		{"manual provider binds all interfaces", with(map[string]string{"WEBHOOK_ENABLED": "1", "TUNNEL_PROVIDER": "manual", "WEBHOOK_PUBLIC_URL": "https://x.example"}), true, "0.0.0.0:3000", "manual", true},
		{"explicit host and port", with(map[string]string{"WEBHOOK_ENABLED": "true", "WEBHOOK_HOST": "10.0.0.5", "WEBHOOK_PORT": "8443", "TUNNEL_PROVIDER": "manual", "WEBHOOK_PUBLIC_URL": "https://x.example"}), true, "10.0.0.5:8443", "manual", true},
		{"sandbox is on, loopback, any port, fake tunnel", map[string]string{"HOME": "/h"}, true, "127.0.0.1:0", "fake", true},
		{"sandbox can turn it off", map[string]string{"HOME": "/h", "WEBHOOK_ENABLED": "false"}, false, "127.0.0.1:0", "fake", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env), Flags{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			w := c.Webhook
			if w.Enabled != tt.enabled || w.Addr() != tt.addr || w.TunnelProvider != tt.provider || w.TunnelEnabled != tt.tunnel {
				t.Fatalf("got enabled=%t addr=%s provider=%q tunnel=%t", w.Enabled, w.Addr(), w.TunnelProvider, w.TunnelEnabled)
			}
			if w.Path != "/webhook/bitnovo" || w.MaxEvents != 1000 || w.EventTTL != time.Hour || w.NonceWindow != 5*time.Minute {
				t.Fatalf("defaults: %+v", w)
			}
		})
	}
}

func TestWebhookProblems(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no secret in live mode", map[string]string{"BITNOVO_DEVICE_ID": goodID, "WEBHOOK_ENABLED": "true", "TUNNEL_ENABLED": "false"}, "BITNOVO_DEVICE_SECRET: required with WEBHOOK_ENABLED=true"},
		{"ngrok without token", map[string]string{"WEBHOOK_ENABLED": "true", "TUNNEL_PROVIDER": "ngrok"}, "NGROK_AUTHTOKEN: required"},
		{"manual without url", map[string]string{"WEBHOOK_ENABLED": "true", "TUNNEL_PROVIDER": "manual"}, "WEBHOOK_PUBLIC_URL: required"},
		{"unknown provider", map[string]string{"TUNNEL_PROVIDER": "cloudflare"}, "TUNNEL_PROVIDER: \"cloudflare\" is not one of"},
		{"http public url", map[string]string{"WEBHOOK_PUBLIC_URL": "http://n8n.company.com"}, "WEBHOOK_PUBLIC_URL: \"http://n8n.company.com\" must be an https:// URL"},
		{"bad port", map[string]string{"WEBHOOK_PORT": "70000"}, "WEBHOOK_PORT"},
		{"bad path", map[string]string{"WEBHOOK_PATH": "webhook"}, "WEBHOOK_PATH"},
		{"path shadows health", map[string]string{"WEBHOOK_PATH": "/health"}, "WEBHOOK_PATH"},
		{"bad bool", map[string]string{"WEBHOOK_ENABLED": "yes please"}, "WEBHOOK_ENABLED"},
		{"bad max events", map[string]string{"WEBHOOK_MAX_EVENTS": "NaN"}, "WEBHOOK_MAX_EVENTS"},
		{"bad ttl", map[string]string{"WEBHOOK_EVENT_TTL_MS": "-1"}, "WEBHOOK_EVENT_TTL_MS"},
		{"bad rate", map[string]string{"WEBHOOK_RATE_LIMIT": "fast"}, "WEBHOOK_RATE_LIMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["HOME"] = "/h"
			_, err := Load(env(tt.env), Flags{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a line containing %q", err, tt.want)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.Contains(line, goodSecret) {
					t.Fatalf("secret leaked: %s", line)
				}
			}
		})
	}
}

func TestWebhookUnsignedAllowed(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID, "WEBHOOK_ENABLED": "true",
		"WEBHOOK_ALLOW_UNSIGNED": "true", "TUNNEL_ENABLED": "false", "WEBHOOK_PUBLIC_URL": "https://x.example"}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Webhook.AllowUnsigned || strings.Contains(c.String(), goodSecret) {
		t.Fatalf("%+v", c.Webhook)
	}
}

func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    string
		problem string
	}{
		{"", "", ""},
		{"127.0.0.1/32, ::1/128", "127.0.0.1/32 ::1/128", ""},
		{"10.1.2.3/8,192.0.2.7,2001:db8::1", "10.0.0.0/8 192.0.2.7/32 2001:db8::1/128", ""},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"127.0.0.1,loopback", "", `CRYPTOPAY_TRUSTED_PROXIES: "loopback" is not an address or CIDR (e.g. 127.0.0.1/32, ::1/128, 10.0.0.0/8)`},
		{"10.0.0.0/33", "", `CRYPTOPAY_TRUSTED_PROXIES: "10.0.0.0/33" is not an address or CIDR`},
	} {
		var p Problems
		got := trustedProxies(&p, tc.raw)
		if tc.problem != "" {
			if len(p) != 1 || !strings.HasPrefix(p[0], tc.problem) {
				t.Errorf("%q: problems %q, want %q", tc.raw, p, tc.problem)
			}
			continue
		}
		var s []string
		for _, pf := range got {
			s = append(s, pf.String())
		}
		if len(p) > 0 || strings.Join(s, " ") != tc.want {
			t.Errorf("%q: got %v (problems %q), want %s", tc.raw, s, p, tc.want)
		}
	}
}
