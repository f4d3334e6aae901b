package fakebitnovo

import (
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want string // exact rational as a/b; "" = error
	}{
		{"50", "50/1"},
		{"50.5", "101/2"},
		{".5", "1/2"},
		{"5.", "5/1"},
		{"-1.25", "-5/4"},
		{"+3", "3/1"},
		{"5e1", "50/1"},
		{"1.5E-2", "3/200"},
		{"0.000000000000000001", "1/1000000000000000000"},
		{"", ""},
		{".", ""},
		{"-", ""},
		{"1/3", ""},
		{"0x10", ""},
		{"NaN", ""},
		{"Inf", ""},
		{"1e", ""},
		{"1e31", ""},
		{"1e-31", ""},
		{"1e+3", "1000/1"},
		{"1 ", ""},
		{" 1", ""},
		{"1_000", ""},
		{"1.2.3", ""},
		{strings.Repeat("9", 65), ""},
	}
	for _, tc := range tests {
		d, err := parseAmount(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseAmount(%q) = %v, want error", tc.in, d)
		case tc.want != "" && err != nil:
			t.Errorf("parseAmount(%q): %v", tc.in, err)
		case tc.want != "":
			if r, ok := d.Rat(); !ok || r.String() != tc.want {
				t.Errorf("parseAmount(%q) = %v, want %s", tc.in, d, tc.want)
			}
		}
	}
}

// TestCryptoAmountsOnTheWire checks the exact text the client sees, for a
// range of fiat amounts, against an independent computation.
func TestCryptoAmountsOnTheWire(t *testing.T) {
	s := New(Options{})
	tests := []struct {
		symbol, fiat, want string
	}{
		{"BTC", "50", "0.00083333"},
		{"BTC", "50.01", "0.00083350"},
		{"BTC", "100", "0.00166667"}, // 0.001666666… rounds up
		{"USDC_ERC20", "5", "5.434783"},
		{"USDT_TRC20", "1.00", "1.086957"},
		{"ETH", "20", "0.00666667"}, // quoted at 8 decimals, not to the wei
		{"ETH", "42.50", "0.01416667"},
		{"XLM", "0.10", "1.0000000"},
		{"ALGO", "0.10", "0.500000"},
	}
	for _, tc := range tests {
		t.Run(tc.symbol+" "+tc.fiat, func(t *testing.T) {
			body := `{"expected_output_amount":"` + tc.fiat + `","input_currency":"` + tc.symbol + `"}`
			rec := call(t, s, http.MethodPost, "/api/v1/orders/", "application/json", body)
			if rec.Code != http.StatusCreated {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			re := regexp.MustCompile(`"expected_input_amount":([0-9.]+),`)
			m := re.FindStringSubmatch(rec.Body.String())
			if m == nil || m[1] != tc.want {
				t.Errorf("expected_input_amount %v, want %s", m, tc.want)
			}
			// Independent check: want × rate is within half a unit of fiat.
			var c Currency
			for _, x := range Currencies() {
				if x.Symbol == tc.symbol {
					c = x
				}
			}
			got, _ := new(big.Rat).SetString(tc.want)
			rate, _ := new(big.Rat).SetString(c.RateEUR)
			fiat, _ := new(big.Rat).SetString(tc.fiat)
			diff := new(big.Rat).Sub(new(big.Rat).Quo(fiat, rate), got)
			half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(min(c.Decimals, 8))), nil)))
			if diff.Abs(diff).Cmp(half) > 0 {
				t.Errorf("%s is more than half a unit away from %s/%s", tc.want, tc.fiat, c.RateEUR)
			}
		})
	}
}
