package bitnovo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact decimal amount kept as canonical decimal text, for
// example "50", "50.00" or "0.00083333". The empty Decimal ("") means the
// amount is absent (JSON null, "" or a missing field).
//
// Canonical text is produced by [ParseDecimal]: an optional leading "-", an
// integer part without superfluous leading zeros and an optional fraction.
// There is never an exponent; exponent input ("1e-8", "2.5E3") is expanded
// exactly ("0.00000001", "2500"). The scale (number of fraction digits) is
// kept as given: "50.00" stays "50.00" and compares equal to "50".
//
// In JSON a Decimal unmarshals from a JSON number (using its exact text, never
// a float64), from a JSON string holding a decimal, or from null / "" (absent).
// It marshals as a JSON string, or as null when absent.
//
// A Decimal built by a conversion such as Decimal("abc") rather than by
// ParseDecimal or JSON decoding may hold invalid text; methods never panic on
// it and treat it as absent.
type Decimal string

// Limits that keep hostile input from turning into huge strings.
const (
	maxDecimalInput  = 256 // bytes of input text
	maxDecimalDigits = 128 // digits in the canonical output
)

// ErrInvalidDecimal is wrapped by every decimal parsing error.
var ErrInvalidDecimal = errors.New("bitnovo: invalid decimal")

// ParseDecimal validates s as a decimal number and returns it in canonical
// form. Leading and trailing white space is trimmed. Accepted syntax is
// [+-]digits[.digits][(e|E)[+-]digits], where either the integer or the
// fraction digits may be empty but not both. Negative values are accepted
// here (a Decimal is a general amount); callers that need a positive value
// check [Decimal.Sign]. The empty string is rejected; use "" directly for an
// absent amount.
func ParseDecimal(s string) (Decimal, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidDecimal)
	}
	if len(s) > maxDecimalInput {
		return "", fmt.Errorf("%w: too long (%d bytes)", ErrInvalidDecimal, len(s))
	}
	bad := func() (Decimal, error) { return "", fmt.Errorf("%w: %q", ErrInvalidDecimal, in) }

	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	mant, expText := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
		if expText == "" {
			return bad()
		}
	}
	intPart, fracPart := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, fracPart = mant[:i], mant[i+1:]
	}
	if intPart == "" && fracPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return bad()
	}
	exp := 0
	if expText != "" {
		e, err := strconv.Atoi(expText) // accepts an optional sign
		if err != nil {
			return bad()
		}
		if e > maxDecimalDigits || e < -maxDecimalDigits {
			return "", fmt.Errorf("%w: exponent out of range in %q", ErrInvalidDecimal, in)
		}
		exp = e
	}

	// value = digits × 10^(-scale)
	digits := intPart + fracPart
	scale := len(fracPart) - exp
	if scale < 0 {
		digits += strings.Repeat("0", -scale)
		scale = 0
	}
	if len(digits) < scale+1 {
		digits = strings.Repeat("0", scale+1-len(digits)) + digits
	}
	ip, fp := digits[:len(digits)-scale], digits[len(digits)-scale:]
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	if len(ip)+len(fp) > maxDecimalDigits {
		return "", fmt.Errorf("%w: too many digits in %q", ErrInvalidDecimal, in)
	}
	out := ip
	if fp != "" {
		out += "." + fp
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return Decimal(out), nil
}

// MustParseDecimal is like ParseDecimal but panics on error. It is meant for
// constants in tests and tables.
func MustParseDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DecimalFromFloat converts a float64 tool input to a Decimal using the
// shortest text that round-trips (strconv.FormatFloat(f, 'f', -1, 64)), so
// 0.1 becomes "0.1", not 0.1000000000000000055…. NaN, ±Inf and negative
// values are rejected. When maxScale ≥ 0, a value needing more than maxScale
// fraction digits is rejected rather than rounded (money is never silently
// rounded); a negative maxScale means no limit. -0 becomes "0".
func DecimalFromFloat(f float64, maxScale int) (Decimal, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "", fmt.Errorf("%w: %v is not a finite number", ErrInvalidDecimal, f)
	case f < 0:
		return "", fmt.Errorf("%w: %v is negative", ErrInvalidDecimal, f)
	}
	d, err := ParseDecimal(strconv.FormatFloat(f, 'f', -1, 64))
	if err != nil {
		return "", err
	}
	if maxScale >= 0 && d.Scale() > maxScale {
		return "", fmt.Errorf("%w: %s has more than %d decimal places", ErrInvalidDecimal, d, maxScale)
	}
	return d, nil
}

// String returns the decimal text ("" when absent).
func (d Decimal) String() string { return string(d) }

// IsSet reports whether the amount is present.
func (d Decimal) IsSet() bool { return d != "" }

// Rat returns the exact value. ok is false when d is absent or invalid.
func (d Decimal) Rat() (r *big.Rat, ok bool) {
	if d == "" || len(d) > maxDecimalInput {
		return nil, false
	}
	c, err := ParseDecimal(string(d))
	if err != nil {
		return nil, false
	}
	r, ok = new(big.Rat).SetString(string(c))
	return r, ok
}

// Float64 returns the nearest float64, for display and for JSON outputs that
// must be numbers. ok is false when d is absent or invalid.
func (d Decimal) Float64() (f float64, ok bool) {
	r, ok := d.Rat()
	if !ok {
		return 0, false
	}
	f, _ = r.Float64()
	return f, true
}

// Scale returns the number of fraction digits of the canonical text (0 when
// absent or invalid).
func (d Decimal) Scale() int {
	c, err := ParseDecimal(string(d))
	if err != nil {
		return 0
	}
	if i := strings.IndexByte(string(c), '.'); i >= 0 {
		return len(c) - i - 1
	}
	return 0
}

// Sign returns -1, 0 or +1. An absent or invalid amount has sign 0.
func (d Decimal) Sign() int {
	r, ok := d.Rat()
	if !ok {
		return 0
	}
	return r.Sign()
}

// Cmp compares two amounts by value ("50" == "50.00"). An absent (or
// invalid) amount sorts before every present amount, and two absent amounts
// are equal. Cmp never panics.
func (d Decimal) Cmp(o Decimal) int {
	a, aok := d.Rat()
	b, bok := o.Rat()
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
// invalid operand counts as zero; the result is absent only when both are.
func (d Decimal) Add(o Decimal) Decimal { return d.arith(o, false) }

// Sub returns d − o exactly, with the larger of the two scales. An absent or
// invalid operand counts as zero (as for the remaining amount of a partially
// paid order); the result is absent only when both are.
func (d Decimal) Sub(o Decimal) Decimal { return d.arith(o, true) }

func (d Decimal) arith(o Decimal, sub bool) Decimal {
	a, aok := d.Rat()
	b, bok := o.Rat()
	if !aok && !bok {
		return ""
	}
	if !aok {
		a = new(big.Rat)
	}
	if !bok {
		b = new(big.Rat)
	}
	r := new(big.Rat)
	if sub {
		r.Sub(a, b)
	} else {
		r.Add(a, b)
	}
	out, err := ParseDecimal(r.FloatString(max(d.Scale(), o.Scale())))
	if err != nil { // only when the result exceeds the digit limit
		return ""
	}
	return out
}

// MarshalJSON encodes the amount as a JSON string, or null when absent.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	c, err := ParseDecimal(string(d))
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
		return fmt.Errorf("%w: empty JSON value", ErrInvalidDecimal)
	}
	var text string
	switch b[0] {
	case 'n':
		if string(b) != "null" {
			return fmt.Errorf("%w: JSON %s", ErrInvalidDecimal, truncate(b, 32))
		}
		*d = ""
		return nil
	case '"':
		if err := json.Unmarshal(b, &text); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidDecimal, err)
		}
		if strings.TrimSpace(text) == "" {
			*d = ""
			return nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		text = string(b)
	default:
		return fmt.Errorf("%w: JSON %s", ErrInvalidDecimal, truncate(b, 32))
	}
	v, err := ParseDecimal(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
