package tunnel

import (
	"strings"
	"testing"
)

// The seed's get_webhook_url example, for an ngrok static domain.
const seedInstructions = "✅ ngrok tunnel active with persistent URL.\n\nConfiguration steps:\n1. Copy this URL: https://bitnovo-dev.ngrok-free.app/webhook/bitnovo\n2. Go to https://pay.bitnovo.com\n3. Navigate to: Settings → Merchant → Devices\n4. Select device\n5. Configure 'notification_url' with the URL\n\nNote: This URL is persistent and won't change between restarts."

func TestInstructions(t *testing.T) {
	if got := Instructions(ProviderNgrok, "https://bitnovo-dev.ngrok-free.app/webhook/bitnovo", true); got != seedInstructions {
		t.Fatalf("ngrok static domain:\n%s\nwant the seed's:\n%s", got, seedInstructions)
	}
	tests := []struct {
		name, provider, url string
		reserved            bool
		want, notWant       []string
	}{
		{"B16: custom domain", ProviderNgrok, "https://hooks.shop.com/webhook/bitnovo", true,
			[]string{"custom domain hooks.shop.com", "persistent"}, []string{"static domain"}},
		{"random ngrok URL is honest", ProviderNgrok, "https://1a2b-3c.ngrok-free.app/webhook/bitnovo", false,
			[]string{"temporary URL", "changes every time", "NGROK_DOMAIN"}, []string{"persistent URL."}},
		{"zrok reserved", ProviderZrok, "https://hooks.share.zrok.io/webhook/bitnovo", true,
			[]string{"zrok tunnel active with persistent URL (reserved share)"}, nil},
		{"zrok ephemeral", ProviderZrok, "https://abc.share.zrok.io/webhook/bitnovo", false,
			[]string{"temporary URL", "ZROK_UNIQUE_NAME"}, nil},
		{"manual", ProviderManual, "https://n8n.company.com/webhook/bitnovo", false,
			[]string{"public URL (manual configuration)", "firewall allows inbound HTTPS"}, nil},
		{"fake", ProviderFake, "http://127.0.0.1:4000/webhook/bitnovo", false,
			[]string{"Bitnovo cannot reach it"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Instructions(tt.provider, tt.url, tt.reserved)
			for _, w := range append(tt.want, "1. Copy this URL: "+tt.url, "5. Configure 'notification_url' with the URL\n\nNote: ") {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in:\n%s", w, got)
				}
			}
		})
	}
}
