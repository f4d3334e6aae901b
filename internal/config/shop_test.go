package config

import (
	"strings"
	"testing"
)

func TestLoadShopDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/h"}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Shop
	if s.HasCredentials() || s.PurchasesEnabled || s.MaxOrderCents != 5000 || s.DailyLimitCents != 20000 ||
		s.PublicURL != DefaultBitrefillPublicURL || s.V2URL != DefaultBitrefillV2URL {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestLoadShopValues(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/h",
		"BITREFILL_API_ID": "my-api-id-123456", "BITREFILL_API_SECRET": "topsecretvalue",
		"BITREFILL_PUBLIC_API_URL": "http://127.0.0.1:9/api/", "BITREFILL_API_URL": "https://example.com/v2",
		"SHOP_PURCHASES_ENABLED": "true", "SHOP_MAX_ORDER_EUR": "12.5", "SHOP_DAILY_LIMIT_EUR": "30"}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Shop
	if !s.HasCredentials() || !s.PurchasesEnabled || s.MaxOrderCents != 1250 || s.DailyLimitCents != 3000 ||
		s.PublicURL != "http://127.0.0.1:9/api" || s.V2URL != "https://example.com/v2" {
		t.Fatalf("values: %+v", s)
	}
	str := c.String()
	if strings.Contains(str, "topsecretvalue") || strings.Contains(str, "my-api-id-123456") {
		t.Fatalf("String leaks a credential: %s", str)
	}
	if !strings.Contains(str, "shop_max_order_eur=12.50") || !strings.Contains(str, "bitrefill_api_secret=set") {
		t.Fatalf("String lacks the shop part: %s", str)
	}
}

func TestLoadShopProblems(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BITREFILL_API_ID": "x"}, "set both or neither"},
		{map[string]string{"BITREFILL_API_URL": "http://api.example.com/v2"}, "BITREFILL_API_URL:"},
		{map[string]string{"BITREFILL_PUBLIC_API_URL": "ftp://x"}, "BITREFILL_PUBLIC_API_URL:"},
		{map[string]string{"SHOP_PURCHASES_ENABLED": "maybe"}, "SHOP_PURCHASES_ENABLED:"},
		{map[string]string{"SHOP_MAX_ORDER_EUR": "0"}, "SHOP_MAX_ORDER_EUR:"},
		{map[string]string{"SHOP_MAX_ORDER_EUR": "-5"}, "SHOP_MAX_ORDER_EUR:"},
		{map[string]string{"SHOP_MAX_ORDER_EUR": "1.001"}, "SHOP_MAX_ORDER_EUR:"},
		{map[string]string{"SHOP_DAILY_LIMIT_EUR": "1e9"}, "SHOP_DAILY_LIMIT_EUR:"},
		{map[string]string{"SHOP_DAILY_LIMIT_EUR": "abc"}, "SHOP_DAILY_LIMIT_EUR:"},
		{map[string]string{"SHOP_DAILY_LIMIT_EUR": "100000.01"}, "SHOP_DAILY_LIMIT_EUR:"},
		{map[string]string{"SHOP_DAILY_LIMIT_EUR": "1/2"}, "SHOP_DAILY_LIMIT_EUR:"},
		{map[string]string{"SHOP_DAILY_LIMIT_EUR": "0x10"}, "SHOP_DAILY_LIMIT_EUR:"},
		{map[string]string{"SHOP_MAX_ORDER_EUR": "100", "SHOP_DAILY_LIMIT_EUR": "50"}, "more than SHOP_DAILY_LIMIT_EUR"},
	}
	for _, tt := range tests {
		tt.env["HOME"] = "/h"
		_, err := Load(env(tt.env), Flags{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err=%v, want %q", tt.env, err, tt.want)
		}
	}
}
