// Package money is the server's one decimal amount type: every fiat and crypto
// amount that the Bitnovo and Bitrefill clients decode, the payment and shop
// domains compare against limits, and the fakes compute, goes through it.
// Money is never held in a float64.
//
// # The library underneath
//
// Arithmetic, comparison, exponent expansion and rounding are done by
// github.com/cockroachdb/apd/v3, an implementation of the General Decimal
// Arithmetic specification (the IEEE 754-2008 decimal model used by Python's
// decimal module, Java's BigDecimal and CockroachDB's DECIMAL column). It was
// picked over the alternatives for correctness with money:
//
//   - Every operation runs under an explicit apd.Context (precision, rounding
//     mode, traps) and reports Inexact and Rounded conditions, so an amount is
//     never rounded without the caller asking for it. This package traps
//     Inexact on Add, Sub and Mul: the sum of two amounts is exact or an error.
//   - The scale is part of the value, as on the wire: "50.00" keeps its two
//     fraction digits and still compares equal to "50".
//   - It has no package-level knobs. shopspring/decimal divides at a global
//     DivisionPrecision (16 digits by default) and formats JSON by a global
//     MarshalJSONWithoutQuotes, both mutable package state.
//   - The coefficient is arbitrary precision. govalues/decimal stops at 19
//     digits, which an 18-decimal ETH amount in wei does not fit.
//
// # The type
//
// A [Decimal] is the canonical decimal text of an amount ("50", "50.00",
// "0.00083333"); the empty Decimal means absent. Keeping the exact text rather
// than an apd.Decimal makes it a comparable, copyable value whose zero value is
// "absent", and makes wire formats trivially exact. [Number] is the same
// amount as a JSON number that is kept byte for byte as a peer sent it
// (Bitrefill's wire); it converts to a Decimal with [Number.Decimal].
package money

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Decimal is an exact decimal amount kept as canonical decimal text, for
// example "50", "50.00" or "0.00083333". The empty Decimal ("") means the
// amount is absent (JSON null, "" or a missing field).
//
// Canonical text is produced by [Parse]: an optional leading "-", an integer
// part without superfluous leading zeros and an optional fraction. There is
// never an exponent; exponent input ("1e-8", "2.5E3") is expanded exactly
// ("0.00000001", "2500"). The scale (number of fraction digits) is kept as
// given: "50.00" stays "50.00" and compares equal to "50".
//
// In JSON a Decimal unmarshals from a JSON number (using its exact text, never
// a float64), from a JSON string holding a decimal, or from null / "" (absent).
// It marshals as a JSON string, or as null when absent.
//
// A Decimal built by a conversion such as Decimal("abc") rather than by Parse
// or JSON decoding may hold invalid text; methods never panic on it and treat
// it as absent.
type Decimal string

// Limits that keep hostile input from turning into huge numbers.
const (
	MaxInput  = 256 // bytes of input text
	MaxDigits = 128 // digits in the canonical text (and |exponent| of input)
)

// ErrInvalid is wrapped by every parsing error.
var ErrInvalid = errors.New("invalid decimal")

// Rounding says how [Decimal.Round], [Decimal.Minor] and [Decimal.Quo] drop
// digits.
type Rounding int

const (
	// HalfUp rounds to the nearest, ties away from zero (0.005 → 0.01,
	// -0.005 → -0.01), like big.Rat.FloatString.
	HalfUp Rounding = iota
	// Down truncates towards zero.
	Down
	// Up rounds away from zero (0.001 → 0.01): a price charged in whole
	// cents never falls below the exact price.
	Up
)

func (r Rounding) rounder() apd.Rounder {
	if r == Down {
		return apd.RoundDown
	}
	return apd.RoundHalfUp
}

// exact returns a context for operations whose result must be exact: any
// rounding is an error.
func exact() *apd.Context {
	return &apd.Context{
		Precision:   4 * MaxDigits,
		MaxExponent: apd.MaxExponent,
		MinExponent: apd.MinExponent,
		Traps:       apd.DefaultTraps | apd.Inexact,
		Rounding:    apd.RoundHalfUp,
	}
}

// rounding returns a context that rounds to precision digits by mode without
// trapping Inexact.
func rounding(precision uint32, mode Rounding) *apd.Context {
	return &apd.Context{
		Precision:   precision,
		MaxExponent: apd.MaxExponent,
		MinExponent: apd.MinExponent,
		Traps:       apd.DefaultTraps,
		Rounding:    mode.rounder(),
	}
}

// Parse validates s as a decimal number and returns it in canonical form.
// Leading and trailing white space is trimmed. Accepted syntax is
// [+-]digits[.digits][(e|E)[+-]digits], where either the integer or the
// fraction digits may be empty but not both. Negative values are accepted (a
// Decimal is a general amount); callers that need a positive value check
// [Decimal.Sign]. The empty string is rejected; use "" directly for an absent
// amount.
func Parse(s string) (Decimal, error) {
	d, err := parse(s)
	if err != nil {
		return "", err
	}
	return format(d)
}

// MustParse is like Parse but panics on error. It is meant for constants in
// tests and tables.
func MustParse(s string) Decimal {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// parse checks the grammar and bounds of s, then lets apd read it.
func parse(s string) (*apd.Decimal, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > MaxInput {
		return nil, fmt.Errorf("%w: too long (%d bytes)", ErrInvalid, len(s))
	}
	bad := func() (*apd.Decimal, error) { return nil, fmt.Errorf("%w: %q", ErrInvalid, in) }
	mant := s
	if mant[0] == '-' || mant[0] == '+' {
		mant = mant[1:]
	}
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(mant[i+1:]) // accepts an optional sign
		if err != nil {
			return bad()
		}
		if e > MaxDigits || e < -MaxDigits {
			return nil, fmt.Errorf("%w: exponent out of range in %q", ErrInvalid, in)
		}
		mant = mant[:i]
	}
	intPart, fracPart, _ := strings.Cut(mant, ".")
	if intPart == "" && fracPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return bad()
	}
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite {
		return bad()
	}
	if d.Exponent > 0 { // "2.5e3" is 2500: no exponent in canonical text
		if _, err := exact().Quantize(d, d, 0); err != nil {
			return nil, fmt.Errorf("%w: too many digits in %q", ErrInvalid, in)
		}
	}
	if digits(d) > MaxDigits {
		return nil, fmt.Errorf("%w: too many digits in %q", ErrInvalid, in)
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digits counts the digits of d's fixed-point text: the integer part (at
// least one) and the fraction.
func digits(d *apd.Decimal) int64 {
	n := d.NumDigits()
	if d.Exponent < 0 {
		frac := int64(-d.Exponent)
		return frac + max(n-frac, 1)
	}
	return n + int64(d.Exponent)
}

// format renders a finite d as canonical text; negative zero loses its sign.
func format(d *apd.Decimal) (Decimal, error) {
	if d.Form != apd.Finite {
		return "", fmt.Errorf("%w: %s", ErrInvalid, d.Text('f'))
	}
	if digits(d) > MaxDigits {
		return "", fmt.Errorf("%w: result has more than %d digits", ErrInvalid, MaxDigits)
	}
	if d.IsZero() {
		d.Negative = false
	}
	if d.Exponent > 0 {
		if _, err := exact().Quantize(d, d, 0); err != nil {
			return "", fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return Decimal(d.Text('f')), nil
}

// value returns d as an apd.Decimal; ok is false when d is absent or invalid.
func (d Decimal) value() (*apd.Decimal, bool) {
	if d == "" {
		return nil, false
	}
	v, err := parse(string(d))
	return v, err == nil
}

// FromFloat converts a float64 tool input to a Decimal using the shortest
// text that round-trips (strconv.FormatFloat(f, 'f', -1, 64)), so 0.1 becomes
// "0.1", not 0.1000000000000000055…. NaN, ±Inf and negative values are
// rejected. When maxScale ≥ 0, a value needing more than maxScale fraction
// digits is rejected rather than rounded (money is never silently rounded); a
// negative maxScale means no limit. -0 becomes "0".
func FromFloat(f float64, maxScale int) (Decimal, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "", fmt.Errorf("%w: %v is not a finite number", ErrInvalid, f)
	case f < 0:
		return "", fmt.Errorf("%w: %v is negative", ErrInvalid, f)
	}
	d, err := Parse(strconv.FormatFloat(f, 'f', -1, 64))
	if err != nil {
		return "", err
	}
	if maxScale >= 0 && d.Scale() > maxScale {
		return "", fmt.Errorf("%w: %s has more than %d decimal places", ErrInvalid, d, maxScale)
	}
	return d, nil
}

// String returns the decimal text ("" when absent).
func (d Decimal) String() string { return string(d) }

// IsSet reports whether the amount is present.
func (d Decimal) IsSet() bool { return d != "" }

// Rat returns the exact value. ok is false when d is absent or invalid.
func (d Decimal) Rat() (r *big.Rat, ok bool) {
	v, ok := d.value()
	if !ok {
		return nil, false
	}
	return new(big.Rat).SetString(v.Text('f'))
}

// Float64 returns the nearest float64, for display and for JSON outputs that
// must be numbers. ok is false when d is absent or invalid.
func (d Decimal) Float64() (f float64, ok bool) {
	v, ok := d.value()
	if !ok {
		return 0, false
	}
	f, err := v.Float64()
	return f, err == nil
}

// Scale returns the number of fraction digits of the canonical text (0 when
// absent or invalid).
func (d Decimal) Scale() int {
	v, ok := d.value()
	if !ok || v.Exponent >= 0 {
		return 0
	}
	return int(-v.Exponent)
}

// FitsScale reports whether the value has at most n fraction digits once
// trailing zeros are dropped ("1.50" fits 1). An absent or invalid amount
// does not fit.
func (d Decimal) FitsScale(n int) bool {
	v, ok := d.value()
	if !ok {
		return false
	}
	v.Reduce(v)
	return v.Exponent >= 0 || int(-v.Exponent) <= n
}

// Reduce returns d without trailing fraction zeros ("50.00" → "50",
// "1.50" → "1.5"). An absent or invalid amount stays absent.
func (d Decimal) Reduce() Decimal {
	v, ok := d.value()
	if !ok {
		return ""
	}
	v.Reduce(v)
	out, err := format(v)
	if err != nil {
		return ""
	}
	return out
}

// Sign returns -1, 0 or +1. An absent or invalid amount has sign 0.
func (d Decimal) Sign() int {
	v, ok := d.value()
	if !ok {
		return 0
	}
	return v.Sign()
}

// Cmp compares two amounts by value ("50" == "50.00"). An absent (or invalid)
// amount sorts before every present amount, and two absent amounts are equal.
// Cmp never panics.
func (d Decimal) Cmp(o Decimal) int {
	a, aok := d.value()
	b, bok := o.value()
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	}
	return a.Cmp(b)
}

// Add returns d + o exactly, with the larger of the two scales. An absent or
// invalid operand counts as zero; the result is absent only when both are, or
// when it would exceed MaxDigits.
func (d Decimal) Add(o Decimal) Decimal { return d.arith(o, (*apd.Context).Add) }

// Sub returns d − o exactly, with the larger of the two scales. An absent or
// invalid operand counts as zero (as for the remaining amount of a partially
// paid order); the result is absent only when both are, or when it would
// exceed MaxDigits.
func (d Decimal) Sub(o Decimal) Decimal { return d.arith(o, (*apd.Context).Sub) }

// Mul returns d × o exactly (the scales add up). An absent or invalid operand
// counts as zero; the result is absent only when both are, or when it would
// exceed MaxDigits.
func (d Decimal) Mul(o Decimal) Decimal { return d.arith(o, (*apd.Context).Mul) }

func (d Decimal) arith(o Decimal, op func(*apd.Context, *apd.Decimal, *apd.Decimal, *apd.Decimal) (apd.Condition, error)) Decimal {
	a, aok := d.value()
	b, bok := o.value()
	if !aok && !bok {
		return ""
	}
	if !aok {
		a = new(apd.Decimal)
	}
	if !bok {
		b = new(apd.Decimal)
	}
	r := new(apd.Decimal)
	if _, err := op(exact(), r, a, b); err != nil {
		return ""
	}
	out, err := format(r)
	if err != nil {
		return ""
	}
	return out
}

// Round returns d with exactly scale fraction digits, rounded by mode
// ("0.005" HalfUp 2 → "0.01"; "3.5" Down 0 → "3"; "3" HalfUp 2 → "3.00").
// An absent or invalid amount stays absent.
func (d Decimal) Round(scale int, mode Rounding) Decimal {
	v, ok := d.value()
	if !ok || scale < 0 || scale > MaxDigits {
		return ""
	}
	return quantize(v, scale, mode)
}

// Quo returns d ÷ o with exactly scale fraction digits, rounded by mode
// (HalfUp or Down; Up is an error). The
// rounding is done once, on the exact quotient: the division is first carried
// out truncated a digit past scale, which decides HalfUp and Down exactly.
// Division by zero, an absent or invalid operand, or a result above MaxDigits
// is an error.
func (d Decimal) Quo(o Decimal, scale int, mode Rounding) (Decimal, error) {
	a, aok := d.value()
	b, bok := o.value()
	switch {
	case !aok || !bok:
		return "", fmt.Errorf("%w: %q ÷ %q", ErrInvalid, d, o)
	case b.IsZero():
		return "", fmt.Errorf("%w: %s ÷ 0", ErrInvalid, d)
	case scale < 0 || scale > MaxDigits:
		return "", fmt.Errorf("%w: scale %d", ErrInvalid, scale)
	case mode == Up:
		// The truncated quotient below cannot tell whether digits beyond it
		// were all zero, which Up needs.
		return "", fmt.Errorf("%w: Quo does not round Up", ErrInvalid)
	}
	// The quotient's leading digit is at most at position adj(a)-adj(b)
	// (10^k has position k), so that many digits plus scale plus one more
	// reach past the last kept place: truncated there, the quotient is below
	// the rounding boundary exactly when the exact quotient is.
	p := max(adjusted(a)-adjusted(b)+int64(scale)+3, 2)
	q := new(apd.Decimal)
	if _, err := rounding(uint32(p), Down).Quo(q, a, b); err != nil {
		return "", fmt.Errorf("%w: %s ÷ %s: %w", ErrInvalid, d, o, err)
	}
	out := quantize(q, scale, mode)
	if out == "" {
		return "", fmt.Errorf("%w: %s ÷ %s exceeds %d digits", ErrInvalid, d, o, MaxDigits)
	}
	return out, nil
}

// adjusted is the position of d's leading digit (1 → 0, 0.05 → -2).
func adjusted(d *apd.Decimal) int64 { return d.NumDigits() + int64(d.Exponent) - 1 }

func quantize(v *apd.Decimal, scale int, mode Rounding) Decimal {
	r, err := quantizeTo(v, scale, mode)
	if err != nil {
		return ""
	}
	out, err := format(r)
	if err != nil {
		return ""
	}
	return out
}

// quantizeTo rounds v to scale fraction digits by mode. apd's Quantize drops
// the digits without rounding when all of them lie below the kept place
// (0.001 becomes 0 even under apd.RoundUp), so Up is done here as Down plus
// one unit of the last place whenever anything was dropped.
func quantizeTo(v *apd.Decimal, scale int, mode Rounding) (*apd.Decimal, error) {
	m := mode
	if m == Up {
		m = Down
	}
	r := new(apd.Decimal)
	if _, err := rounding(uint32(4*MaxDigits), m).Quantize(r, v, -int32(scale)); err != nil {
		return nil, err
	}
	if mode == Up && r.Cmp(v) != 0 {
		if _, err := exact().Add(r, r, apd.New(int64(v.Sign()), -int32(scale))); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Units returns d × 10^decimals truncated to an integer, as decimal text: an
// amount in the currency's smallest unit (satoshi, wei). An absent or invalid
// amount is "0".
func (d Decimal) Units(decimals int) string {
	v, ok := d.shifted(decimals)
	if !ok {
		return "0"
	}
	out := quantize(v, 0, Down)
	if out == "" {
		return "0"
	}
	return string(out)
}

// shifted returns d × 10^decimals, exactly; ok is false when d is absent
// or invalid or decimals is outside 0..MaxDigits.
func (d Decimal) shifted(decimals int) (*apd.Decimal, bool) {
	v, ok := d.value()
	if !ok || decimals < 0 || decimals > MaxDigits {
		return nil, false
	}
	v.Exponent += int32(decimals)
	return v, true
}

// Minor returns d × 10^decimals rounded to an integer by mode: an amount in
// the currency's smallest unit as an int64 ("12.341" Up 2 → 1235 cents). ok
// is false when d is absent or invalid or the result does not fit an int64.
func (d Decimal) Minor(decimals int, mode Rounding) (n int64, ok bool) {
	v, ok := d.shifted(decimals)
	if !ok {
		return 0, false
	}
	r, err := quantizeTo(v, 0, mode)
	if err != nil {
		return 0, false
	}
	n, err = r.Int64()
	return n, err == nil
}

// MarshalJSON encodes the amount as a JSON string, or null when absent.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	c, err := Parse(string(d))
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(c))
}

// UnmarshalJSON accepts a JSON number, a JSON string holding a decimal, null
// or "". Exponent forms are expanded exactly.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("%w: empty JSON value", ErrInvalid)
	}
	var text string
	switch b[0] {
	case 'n':
		if string(b) != "null" {
			return fmt.Errorf("%w: JSON %s", ErrInvalid, truncate(string(b), 32))
		}
		*d = ""
		return nil
	case '"':
		if err := json.Unmarshal(b, &text); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if strings.TrimSpace(text) == "" {
			*d = ""
			return nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		text = string(b)
	default:
		return fmt.Errorf("%w: JSON %s", ErrInvalid, truncate(string(b), 32))
	}
	v, err := Parse(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// truncate shortens s to at most n bytes (on a rune boundary) for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
