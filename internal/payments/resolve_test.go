package payments

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// TestResolveCurrency: the unambiguous ways of writing a currency give its
// symbol; the rest is refused with the symbols meant suggested.
func TestResolveCurrency(t *testing.T) {
	api := &stubAPI{currencies: []bitnovo.Currency{
		{Symbol: "BTC", Name: "Bitcoin"}, {Symbol: "ETH", Name: "Ethereum"}, {Symbol: "BCH", Name: "Bitcoin Cash"},
		{Symbol: "USDC_ERC20", Name: "USD Coin (ERC20)"}, {Symbol: "USDC_POLYGON", Name: "USD Coin (Polygon)"},
		{Symbol: "USDT_TRC20", Name: "Tether (TRC20)"}, {Symbol: "BTC_TEST", Name: "Bitcoin Testnet"},
		{Symbol: "USDC_ETH_TEST", Name: "USD Coin (Ethereum Testnet)"},
	}}
	c := newCatalog(api, time.Now, slog.New(slog.DiscardHandler))
	tests := []struct {
		in, want string
		suggest  string // for a refusal: the suggestions, joined by " "
	}{
		{"BTC", "BTC", ""},
		{"btc", "BTC", ""},
		{" Btc ", "BTC", ""},
		{"Bitcoin", "BTC", ""},
		{"BITCOIN", "BTC", ""},
		{"bitcoin cash", "BCH", ""},
		{"usdc_erc20", "USDC_ERC20", ""},
		{"USD Coin (Polygon)", "USDC_POLYGON", ""},
		{"btc_test", "BTC_TEST", ""},
		{"USDC", "", "USDC_ERC20 USDC_POLYGON"},
		{"USDT", "", "USDT_TRC20"},
		{"USD Coin", "", "USDC_ERC20 USDC_ETH_TEST USDC_POLYGON"},
		{"Etherium", "", "ETH"},
		{"BTCC", "", "BTC"},
		{"DOGE", "", ""},
		{strings.Repeat("X", 5000), "", ""},
	}
	for _, tt := range tests {
		got, err := c.resolve(context.Background(), tt.in)
		if tt.want != "" {
			if err != nil || got != tt.want {
				t.Errorf("%q: %q, %v; want %s", tt.in, got, err, tt.want)
			}
			continue
		}
		var te *toolerr.Error
		if !errors.As(err, &te) || te.Code != CodeCurrencyNotSupported {
			t.Errorf("%.20q: %q, %v; want %s", tt.in, got, err, CodeCurrencyNotSupported)
			continue
		}
		if s := strings.Join(te.Details["suggestions"].([]string), " "); s != tt.suggest {
			t.Errorf("%.20q: suggestions %q, want %q", tt.in, s, tt.suggest)
		}
		if tt.suggest != "" && !strings.Contains(te.Message, "did you mean") {
			t.Errorf("%q: message %q", tt.in, te.Message)
		}
		if len(te.Message) > 200 {
			t.Errorf("%.20q: message of %d bytes", tt.in, len(te.Message))
		}
	}
	api.currErr = errors.New("down")
	c = newCatalog(api, time.Now, slog.New(slog.DiscardHandler))
	if got, err := c.resolve(context.Background(), "Bitcoin"); err != nil || got != "Bitcoin" {
		t.Errorf("without a catalog: %q, %v; want the input back", got, err)
	}
}
