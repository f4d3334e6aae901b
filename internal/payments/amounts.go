package payments

import "strings"

// cryptoAmount is how every crypto amount of a result is written: the
// provider's exact text, except that a zero amount is written with the
// currency's decimals ("0.00000000" for BTC, "0.000000" for USDC), however
// Bitnovo wrote it (0, 0.0, "0"). Without a currency (a payment link before
// the customer chose one) zero is "0". Empty text (null or absent at
// Bitnovo) is nil, which the result shows as null.
func cryptoAmount(text, currency string) *string {
	if text == "" {
		return nil
	}
	if !isZeroText(text) {
		return &text
	}
	z := "0"
	if currency != "" {
		d := 8
		if n, ok := decimals[baseSymbol(currency)]; ok {
			d = n
		}
		if d > 0 {
			z += "." + strings.Repeat("0", d)
		}
	}
	return &z
}

// isZeroText reports whether decimal text is a zero ("0", "-0.000", "0e3").
func isZeroText(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	digits := 0
	for _, r := range s {
		switch {
		case r == '0':
			digits++
		case r == '.':
		default:
			return false
		}
	}
	return digits > 0
}
