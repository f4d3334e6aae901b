package fakebitnovo

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Webhook bodies are serialised the way Bitnovo's Python backend does it:
// json.dumps with the default separators (", " and ": "), ensure_ascii, and
// amounts as Python floats (repr: the shortest text that reads back as the
// same IEEE-754 double, "100.0", "0.0", "1e-05"). The signature covers these
// exact bytes, so they are produced here by hand from the exact decimal
// values; no float64 is involved.

// pyFloat renders decimal text as Python's repr(float(text)).
func pyFloat(text string) (string, error) {
	d, err := parseAmount(text)
	if err != nil {
		return "", err
	}
	r, ok := d.Rat()
	if !ok {
		return "", fmt.Errorf("%w: %q", errBadDecimal, text)
	}
	return pyFloatRat(r), nil
}

// pyFloatRat renders r as Python's repr(float(r)): r is rounded to the
// nearest double (round half to even), then the shortest decimal that
// rounds back to that double is chosen (the nearest one when several of the
// same length do), and laid out with Python's rule: exponent notation when
// the decimal point position is <= -4 or > 16, otherwise fixed notation
// with at least one fractional digit. Magnitudes beyond the double range
// (never money) are not clamped to inf or subnormals.
func pyFloatRat(r *big.Rat) string {
	if r.Sign() == 0 {
		return "0.0"
	}
	sign := ""
	if r.Sign() < 0 {
		sign = "-"
	}
	v := new(big.Rat).Abs(r)
	dbl := toDouble(v)
	exact, _ := dbl.Rat(nil) // the double's exact value
	digits, decpt := shortestDigits(exact, dbl)
	return sign + pyLayout(digits, decpt)
}

// toDouble rounds v to 53 significant bits, as float(v) does.
func toDouble(v *big.Rat) *big.Float {
	return new(big.Float).SetPrec(53).SetMode(big.ToNearestEven).SetRat(v)
}

// pow10 returns 10^e as a big.Rat (e may be negative).
func pow10(e int) *big.Rat {
	if e >= 0 {
		return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e)), nil))
	}
	return new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-e)), nil))
}

// shortestDigits returns the digits (no leading or trailing zeros) and the
// decimal point position of the shortest decimal that rounds to dbl, whose
// exact value is v > 0: value = 0.digits × 10^decpt.
func shortestDigits(v *big.Rat, dbl *big.Float) (string, int) {
	// k with 10^(k-1) <= v < 10^k.
	exp2 := dbl.MantExp(nil)
	k := exp2 * 30103 / 100000 // log10(2)·exp2, an estimate corrected below
	for v.Cmp(pow10(k)) >= 0 {
		k++
	}
	for v.Cmp(pow10(k-1)) < 0 {
		k--
	}
	for n := 1; ; n++ {
		scale := pow10(n - k) // v×scale has n digits before the point
		scaled := new(big.Rat).Mul(v, scale)
		lo := new(big.Int).Quo(scaled.Num(), scaled.Denom())
		cands := []*big.Int{lo}
		if !scaled.IsInt() {
			cands = append(cands, new(big.Int).Add(lo, big.NewInt(1)))
		}
		var best *big.Int
		var bestDist *big.Rat
		for _, c := range cands {
			val := new(big.Rat).Quo(new(big.Rat).SetInt(c), scale)
			if c.Sign() == 0 || toDouble(val).Cmp(dbl) != 0 {
				continue
			}
			dist := new(big.Rat).Abs(new(big.Rat).Sub(val, v))
			if best == nil || dist.Cmp(bestDist) < 0 || (dist.Cmp(bestDist) == 0 && c.Bit(0) == 0) {
				best, bestDist = c, dist
			}
		}
		// 17 significant digits always identify a double, so this ends.
		if best != nil {
			s := best.String()
			decpt := k + len(s) - n // a carry (999→1000) lengthens s
			return strings.TrimRight(s, "0"), decpt
		}
	}
}

// pyLayout lays out digits×10^(decpt-len(digits)) like Python's float repr.
func pyLayout(digits string, decpt int) string {
	switch {
	case decpt <= -4 || decpt > 16:
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		e := decpt - 1
		es := "+"
		if e < 0 {
			es, e = "-", -e
		}
		ed := strconv.Itoa(e)
		if len(ed) < 2 {
			ed = "0" + ed
		}
		return m + "e" + es + ed
	case decpt <= 0:
		return "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	default:
		return digits[:decpt] + "." + digits[decpt:]
	}
}

// pyString appends s as Python's json.dumps (ensure_ascii=True) writes a
// string: printable ASCII as is, the usual short escapes, everything else
// as \uXXXX (lower-case hex, UTF-16 surrogate pairs above U+FFFF). Invalid
// UTF-8 becomes U+FFFD.
func pyString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hexd[r>>12&0xf], hexd[r>>8&0xf], hexd[r>>4&0xf], hexd[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s { // ranging over a string yields U+FFFD for bad bytes
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= ' ' && r <= '~':
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u(b, 0xd800+(r>>10))
			b = u(b, 0xdc00+(r&0x3ff))
		default:
			b = u(b, r)
		}
	}
	return append(b, '"')
}
