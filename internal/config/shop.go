package config

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// Default Bitrefill base URLs (the same as internal/bitrefill's).
const (
	DefaultBitrefillPublicURL = "https://www.bitrefill.com/api"
	DefaultBitrefillV2URL     = "https://api.bitrefill.com/v2"
)

// Default shop limits, in EUR.
const (
	DefaultShopMaxOrderEUR   = "50"
	DefaultShopDailyLimitEUR = "200"
)

// ShopConfig configures the Bitrefill shop toolset. The limits are read
// once at start-up; no tool can change them.
type ShopConfig struct {
	APIID     string // BITREFILL_API_ID
	APISecret string // BITREFILL_API_SECRET
	PublicURL string // BITREFILL_PUBLIC_API_URL
	V2URL     string // BITREFILL_API_URL

	PurchasesEnabled bool  // SHOP_PURCHASES_ENABLED (default false)
	MaxOrderCents    int64 // SHOP_MAX_ORDER_EUR, in EUR cents
	DailyLimitCents  int64 // SHOP_DAILY_LIMIT_EUR, in EUR cents
}

// HasCredentials reports whether both Bitrefill API credentials are set.
func (s ShopConfig) HasCredentials() bool { return s.APIID != "" && s.APISecret != "" }

// String describes the shop configuration with the secret masked.
func (s ShopConfig) String() string {
	return fmt.Sprintf("bitrefill_api_id=%s bitrefill_api_secret=%s bitrefill_public_api_url=%s bitrefill_api_url=%s shop_purchases=%t shop_max_order_eur=%s shop_daily_limit_eur=%s",
		MaskID(s.APIID), presence(s.APISecret), s.PublicURL, s.V2URL, s.PurchasesEnabled,
		CentsText(s.MaxOrderCents), CentsText(s.DailyLimitCents))
}

// CentsText formats EUR cents as "12.34".
func CentsText(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

func loadShop(get func(string) string, p *Problems) ShopConfig {
	s := ShopConfig{
		APIID:     get("BITREFILL_API_ID"),
		APISecret: get("BITREFILL_API_SECRET"),
		PublicURL: cmp.Or(get("BITREFILL_PUBLIC_API_URL"), DefaultBitrefillPublicURL),
		V2URL:     cmp.Or(get("BITREFILL_API_URL"), DefaultBitrefillV2URL),
	}
	if (s.APIID == "") != (s.APISecret == "") {
		*p = append(*p, "BITREFILL_API_ID and BITREFILL_API_SECRET: set both or neither")
	}
	for _, u := range []struct {
		key string
		val *string
	}{{"BITREFILL_PUBLIC_API_URL", &s.PublicURL}, {"BITREFILL_API_URL", &s.V2URL}} {
		if msg := checkBaseURL(*u.val); msg != "" {
			*p = append(*p, u.key+": "+msg)
		}
		*u.val = strings.TrimRight(*u.val, "/")
	}
	s.PurchasesEnabled = boolVar(p, get, "SHOP_PURCHASES_ENABLED", false)
	s.MaxOrderCents = eurCents(p, get, "SHOP_MAX_ORDER_EUR", DefaultShopMaxOrderEUR)
	s.DailyLimitCents = eurCents(p, get, "SHOP_DAILY_LIMIT_EUR", DefaultShopDailyLimitEUR)
	if s.MaxOrderCents > s.DailyLimitCents {
		*p = append(*p, fmt.Sprintf("SHOP_MAX_ORDER_EUR: %s is more than SHOP_DAILY_LIMIT_EUR %s",
			CentsText(s.MaxOrderCents), CentsText(s.DailyLimitCents)))
	}
	return s
}

// maxShopEUR bounds the limits: a typo must not allow a fortune.
const maxShopEUR = 100000

// eurCents parses a positive EUR amount with at most 2 decimals.
func eurCents(p *Problems, get func(string) string, key, def string) int64 {
	s := cmp.Or(get(key), def)
	d, err := money.Parse(s)
	c, ok := d.Minor(2, money.Down)
	if err != nil || strings.ContainsAny(s, "eE") || d.Sign() <= 0 || !d.FitsScale(2) || !ok || c > maxShopEUR*100 {
		*p = append(*p, fmt.Sprintf("%s: %q must be an amount in EUR from 0.01 to %d with at most 2 decimals (e.g. 50 or 12.50)", key, s, maxShopEUR))
		c, _ = money.MustParse(def).Minor(2, money.Down)
	}
	return c
}
