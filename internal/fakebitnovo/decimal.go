package fakebitnovo

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Money is never held in a float64. Amounts are parsed into big.Rat values
// and rendered as fixed-point decimal text.
//
// Rounding: crypto amounts are rounded to the currency's number of decimals
// with round-half-up (amounts are always positive, so this is the same as
// rounding half away from zero, which is what big.Rat.FloatString does).
// Example: 50 EUR at 60000 EUR/BTC = 0.000833333… → "0.00083333";
// 5 EUR at 0.92 EUR/USDC = 5.4347826… → "5.434783".

const (
	maxDecimalLen = 64 // longest decimal text accepted
	maxExponent   = 30 // |e| bound for exponent notation (keeps big.Rat cheap)
)

var errBadDecimal = errors.New("not a valid decimal number")

// parseDecimal parses plain decimal text ("50", "50.5", ".5", "-1", "5e1").
// It rejects fractions ("1/3"), hex, NaN/Inf, and huge exponents, all of which
// big.Rat.SetString would otherwise accept or spend unbounded effort on.
func parseDecimal(s string) (*big.Rat, error) {
	if s == "" || len(s) > maxDecimalLen {
		return nil, errBadDecimal
	}
	i := 0
	if s[i] == '+' || s[i] == '-' {
		i++
	}
	intDigits := countDigits(s[i:])
	i += intDigits
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		fracDigits = countDigits(s[i:])
		i += fracDigits
	}
	if intDigits+fracDigits == 0 {
		return nil, errBadDecimal
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil || exp > maxExponent || exp < -maxExponent || strings.ContainsAny(s[i+1:], " _") {
			return nil, errBadDecimal
		}
		i = len(s)
	}
	if i != len(s) {
		return nil, errBadDecimal
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, errBadDecimal
	}
	return r, nil
}

func countDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// mustDecimal parses a catalog constant; a failure is a programming error
// caught by the package tests.
func mustDecimal(s string) *big.Rat {
	r, err := parseDecimal(s)
	if err != nil {
		panic(fmt.Sprintf("fakebitnovo: bad decimal constant %q: %v", s, err))
	}
	return r
}

// formatDecimal renders r with exactly decimals fractional digits, rounding
// half away from zero.
func formatDecimal(r *big.Rat, decimals int) string {
	return r.FloatString(decimals)
}

// truncateDecimal renders r with exactly decimals fractional digits,
// rounding towards zero (used where the fake must not overshoot, e.g. an
// underpayment must stay strictly below the expected amount).
func truncateDecimal(r *big.Rat, decimals int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	n := new(big.Int).Mul(r.Num(), scale)
	n.Quo(n, r.Denom())
	return formatDecimal(new(big.Rat).SetFrac(n, scale), decimals)
}

// hasAtMostDecimals reports whether r*10^decimals is an integer.
func hasAtMostDecimals(r *big.Rat, decimals int) bool {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	return x.IsInt()
}

// smallestUnits converts fixed-point text with the given decimals to an
// integer count of the smallest unit (e.g. wei), as decimal text.
func smallestUnits(amount string, decimals int) string {
	r, err := parseDecimal(amount)
	if err != nil {
		return "0"
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	return new(big.Int).Quo(x.Num(), x.Denom()).String()
}
