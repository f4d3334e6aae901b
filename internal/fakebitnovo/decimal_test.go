package fakebitnovo

import (
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestParseDecimal(t *testing.T) {
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
		r, err := parseDecimal(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseDecimal(%q) = %v, want error", tc.in, r)
		case tc.want != "" && err != nil:
			t.Errorf("parseDecimal(%q): %v", tc.in, err)
		case tc.want != "" && r.String() != tc.want:
			t.Errorf("parseDecimal(%q) = %v, want %s", tc.in, r, tc.want)
		}
	}
}

func TestDecimalFormatting(t *testing.T) {
	q := func(a, b int64) *big.Rat { return big.NewRat(a, b) }
	tests := []struct {
		name     string
		r        *big.Rat
		decimals int
		round    string // half up
		trunc    string
	}{
		{"50 EUR in BTC", q(50, 60000), 8, "0.00083333", "0.00083333"},
		{"5 EUR in USDC (half up differs)", new(big.Rat).Quo(q(5, 1), mustDecimal("0.92")), 6, "5.434783", "5.434782"},
		{"exact half", q(5, 1000), 2, "0.01", "0.00"},
		{"just below half", q(4999, 1000000), 2, "0.00", "0.00"},
		{"10 EUR in ETH", q(10, 3000), 18, "0.003333333333333333", "0.003333333333333333"},
		{"20 EUR in ETH", q(20, 3000), 18, "0.006666666666666667", "0.006666666666666666"},
		{"integer", q(3, 1), 8, "3.00000000", "3.00000000"},
		{"zero decimals", q(7, 2), 0, "4", "3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatDecimal(tc.r, tc.decimals); got != tc.round {
				t.Errorf("formatDecimal = %s, want %s", got, tc.round)
			}
			if got := truncateDecimal(tc.r, tc.decimals); got != tc.trunc {
				t.Errorf("truncateDecimal = %s, want %s", got, tc.trunc)
			}
		})
	}
}

func TestSmallestUnits(t *testing.T) {
	tests := []struct {
		amount   string
		decimals int
		want     string
	}{
		{"0.010000000000000000", 18, "10000000000000000"},
		{"1.5", 18, "1500000000000000000"},
		{"0.00083333", 8, "83333"},
		{"garbage", 8, "0"},
	}
	for _, tc := range tests {
		if got := smallestUnits(tc.amount, tc.decimals); got != tc.want {
			t.Errorf("smallestUnits(%s, %d) = %s, want %s", tc.amount, tc.decimals, got, tc.want)
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
		{"ETH", "20", "0.006666666666666667"},
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
			half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Decimals)), nil)))
			if diff.Abs(diff).Cmp(half) > 0 {
				t.Errorf("%s is more than half a unit away from %s/%s", tc.want, tc.fiat, c.RateEUR)
			}
		})
	}
}
