package config

// Environment variables of the subscription caps.
const (
	EnvMaxSubscriptionsPerSession = "CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION"
	EnvMaxSubscriptionsPerCaller  = "CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_CALLER"
)

// SubscriptionLimits cap the resource subscriptions (bitnovo://payments/…)
// one MCP session and one caller (all its sessions together: the
// operator's own transports are one caller, each OAuth subject and
// client another) may hold; 0 means no cap.
type SubscriptionLimits struct {
	PerSession int // CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION (default 100)
	PerCaller  int // CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_CALLER (default 1000)
}

func loadSubscriptionLimits(get func(string) string, p *Problems) SubscriptionLimits {
	return SubscriptionLimits{
		PerSession: intRange(p, get, EnvMaxSubscriptionsPerSession, 100, 0, 1_000_000),
		PerCaller:  intRange(p, get, EnvMaxSubscriptionsPerCaller, 1000, 0, 10_000_000),
	}
}
