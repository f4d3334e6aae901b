package tunnel

import (
	"fmt"
	"net/url"
	"strings"
)

// isNgrokOwned reports whether host is under a domain ngrok hands out
// (static dev domains and random URLs alike); any other host on an ngrok
// tunnel is a custom domain the user brought.
func isNgrokOwned(host string) bool {
	host = strings.ToLower(host)
	for _, s := range [...]string{".ngrok-free.app", ".ngrok-free.dev", ".ngrok.app", ".ngrok.dev", ".ngrok.io", ".ngrok.pizza"} {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// Instructions is the get_webhook_url instructions text for a provider.
// webhookURL is the full URL to paste (public base + webhook path).
// reserved says the address was configured rather than assigned: an
// NGROK_DOMAIN for ngrok, a ZROK_UNIQUE_NAME for zrok. For ngrok, a
// reserved domain under an ngrok-owned suffix is the free static domain
// and any other is a custom domain (B16: the TypeScript server always
// claimed "free static domain").
func Instructions(provider, webhookURL string, reserved bool) string {
	var headline, note string
	host := ""
	if u, err := url.Parse(webhookURL); err == nil {
		host = u.Hostname()
	}
	switch provider {
	case ProviderNgrok:
		switch {
		case reserved && !isNgrokOwned(host):
			headline = fmt.Sprintf("✅ ngrok tunnel active with persistent URL (custom domain %s).", host)
			note = "This URL is persistent and won't change between restarts. It uses your own domain, which must stay pointed at ngrok (CNAME) in your DNS."
		case reserved: // the free static domain; the seed's wording
			headline = "✅ ngrok tunnel active with persistent URL."
			note = "This URL is persistent and won't change between restarts."
		default:
			headline = "⚠️ ngrok tunnel active with a temporary URL."
			note = "This URL is random: it changes every time the server restarts or the tunnel reconnects, and notification_url must then be updated. " +
				"For a persistent URL, claim your free static domain at https://dashboard.ngrok.com/domains and set NGROK_DOMAIN."
		}
	case ProviderZrok:
		if reserved {
			headline = "✅ zrok tunnel active with persistent URL (reserved share)."
			note = "This URL is persistent and won't change between restarts."
		} else {
			headline = "⚠️ zrok tunnel active with a temporary URL."
			note = "This URL belongs to an ephemeral share: it changes every time the server restarts or the tunnel reconnects. " +
				"For a persistent URL, reserve a share ('zrok reserve public --unique-name <name> <port>', or 'zrok2 create name <name>') and set ZROK_UNIQUE_NAME."
		}
	case ProviderFake:
		headline = "🧪 Sandbox tunnel (fake provider) active."
		note = "This URL only works on this machine: Bitnovo cannot reach it. It is for local tests; use ngrok, zrok or WEBHOOK_PUBLIC_URL for real webhooks."
	default:
		headline = "✅ Using this server's public URL (manual configuration)."
		note = "This is your server's public URL from WEBHOOK_PUBLIC_URL or the environment. Make sure the firewall allows inbound HTTPS and that this path reaches the webhook receiver."
	}
	var b strings.Builder
	b.WriteString(headline)
	b.WriteString("\n\nConfiguration steps:\n1. Copy this URL: ")
	b.WriteString(webhookURL)
	b.WriteString("\n2. Go to https://pay.bitnovo.com\n3. Navigate to: Settings → Merchant → Devices\n4. Select device\n5. Configure 'notification_url' with the URL\n\nNote: ")
	b.WriteString(note)
	return b.String()
}
