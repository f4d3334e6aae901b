package fakebitnovo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// Money is never held in a float64: amounts are money.Decimal values.
//
// Rounding: crypto amounts are rounded to the currency's number of decimals
// with round-half-up (amounts are always positive, so this is the same as
// rounding half away from zero). Example: 50 EUR at 60000 EUR/BTC =
// 0.000833333… → "0.00083333"; 5 EUR at 0.92 EUR/USDC = 5.4347826… →
// "5.434783".

// Input bounds of the fake's form fields, tighter than money.Parse's.
const (
	maxAmountLen = 64 // longest decimal text accepted
	maxExponent  = 30 // |e| bound for exponent notation
)

var errBadDecimal = errors.New("not a valid decimal number")

// parseAmount reads plain decimal text ("50", "50.5", ".5", "-1", "5e1") as
// the fake's API does: no white space around it, at most maxAmountLen bytes
// and an exponent within ±maxExponent; the grammar and the value are
// money.Parse's.
func parseAmount(s string) (money.Decimal, error) {
	if s == "" || len(s) > maxAmountLen || s != strings.TrimSpace(s) {
		return "", errBadDecimal
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if e, err := strconv.Atoi(s[i+1:]); err != nil || e > maxExponent || e < -maxExponent {
			return "", errBadDecimal
		}
	}
	d, err := money.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadDecimal, err)
	}
	return d, nil
}

// mustAmount parses a catalog constant; a failure is a programming error
// caught by the package tests.
func mustAmount(s string) money.Decimal {
	d, err := parseAmount(s)
	if err != nil {
		panic(fmt.Sprintf("fakebitnovo: bad decimal constant %q: %v", s, err))
	}
	return d
}
