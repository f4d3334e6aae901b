package shop

import (
	"context"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

func TestUnitPrice(t *testing.T) {
	fixed := &bitrefill.ProductDetail{Name: "Fixed", Packages: []bitrefill.Package{
		{Value: "25", Amount: "25", EurPrice: "24.501"},
		{Value: "1GB, 7 Days", EurPrice: "3.10"},
		{Value: "50", Amount: "50", EurPrice: "0"},
	}}
	ranged := &bitrefill.ProductDetail{Name: "Ranged", Range: &bitrefill.PriceRange{
		Min: "5", Max: "500", CustomerEurPriceRate: "0.9213", PurchaseFeeEur: "0.25"}}
	noFee := &bitrefill.ProductDetail{Name: "NoFee", Range: &bitrefill.PriceRange{
		Min: "5", Max: "500", CustomerEurPriceRate: "1"}}
	tests := []struct {
		product, value string
		cents          int64
		code           string
	}{
		{"fixed", "25", 2451, ""},         // 24.501 rounds up to 24.51
		{"fixed", "25.00", 2451, ""},      // matched by amount
		{"fixed", "1GB, 7 Days", 310, ""}, // matched by text
		{"fixed", "50", 0, CodePriceUnavailable},
		{"fixed", "30", 0, CodePriceUnavailable},
		{"ranged", "10", 947, ""}, // 10 × 0.9213 + 0.25 = 9.463
		{"ranged", "5", 486, ""},  // 4.6065 + 0.25 = 4.8565
		{"ranged", "500", 46090, ""},
		{"ranged", "500.01", 0, CodePriceUnavailable},
		{"ranged", "4.99", 0, CodePriceUnavailable},
		{"ranged", "ten", 0, CodePriceUnavailable},
		{"nofee", "12.345", 1235, ""},
	}
	s := &Service{}
	for _, tt := range tests {
		pc := priceCache{"fixed": fixed, "ranged": ranged, "nofee": noFee}
		cents, _, err := s.unitPrice(context.Background(), pc, tt.product, tt.value)
		if tt.code != "" {
			if err == nil || toolerr.From(err).Code != tt.code {
				t.Errorf("unitPrice(%s, %q) = %d, %v; want error %s", tt.product, tt.value, cents, err, tt.code)
			}
			continue
		}
		if err != nil || cents != tt.cents {
			t.Errorf("unitPrice(%s, %q) = %d, %v; want %d", tt.product, tt.value, cents, err, tt.cents)
		}
	}
}
