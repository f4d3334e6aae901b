package config

import (
	"strings"
	"testing"
)

func TestSubscriptionLimits(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/h"}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subscriptions != (SubscriptionLimits{PerSession: 100, PerCaller: 1000}) {
		t.Errorf("defaults %+v", c.Subscriptions)
	}
	c, err = Load(env(map[string]string{"HOME": "/h", EnvMaxSubscriptionsPerSession: "5", EnvMaxSubscriptionsPerCaller: "0"}), Flags{})
	if err != nil || c.Subscriptions != (SubscriptionLimits{PerSession: 5}) {
		t.Errorf("set: %+v %v", c.Subscriptions, err)
	}
	_, err = Load(env(map[string]string{"HOME": "/h", EnvMaxSubscriptionsPerSession: "-1"}), Flags{})
	if err == nil || !strings.Contains(err.Error(), `CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION: "-1" must be a whole number from 0 to 1000000`) {
		t.Errorf("negative: %v", err)
	}
}
