package money

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// Number is an exact amount kept as the JSON number text a peer sent (for
// example Bitrefill's "12.50" or "1e-8"), so that it encodes back byte for
// byte. It decodes from a JSON number (never through float64) or from a JSON
// string holding a number; null and "" decode to the zero Number (""). It
// encodes as a JSON number, or null when empty.
//
// Its text follows the JSON number grammar strictly: no "+", no leading
// zeros, no bare "." and no NaN/Inf. Its value is that of [Number.Decimal].
type Number string

// ParseNumber validates s (trimmed) as a JSON number and returns it verbatim.
func ParseNumber(s string) (Number, error) {
	s = strings.TrimSpace(s)
	if !isJSONNumber(s) {
		return "", fmt.Errorf("%w: %q", ErrInvalid, truncate(s, 40))
	}
	return Number(s), nil
}

// isJSONNumber reports whether s is exactly one JSON number token,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: encoding/json's grammar
// check, with the surrounding white space and the other value kinds it would
// also accept ruled out.
func isJSONNumber(s string) bool {
	if s == "" || s != strings.TrimSpace(s) || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	return json.Valid([]byte(s))
}

// String returns the number text.
func (n Number) String() string { return string(n) }

// Decimal returns the canonical amount; it is absent when n is empty,
// invalid, or beyond the limits of [Parse] (such as "1e99999").
func (n Number) Decimal() Decimal {
	if !isJSONNumber(string(n)) {
		return ""
	}
	d, err := Parse(string(n))
	if err != nil {
		return ""
	}
	return d
}

// IsZero reports whether n is empty, invalid or numerically zero.
func (n Number) IsZero() bool { return n.Decimal().Sign() == 0 }

// Rat returns n as an exact rational. ok is false when n is empty or invalid.
func (n Number) Rat() (r *big.Rat, ok bool) { return n.Decimal().Rat() }

// Cmp compares n and m numerically (-1, 0, +1). Invalid or empty values
// compare as zero.
func (n Number) Cmp(m Number) int {
	a, b := n.Decimal(), m.Decimal()
	if a == "" {
		a = "0"
	}
	if b == "" {
		b = "0"
	}
	return a.Cmp(b)
}

// MarshalJSON encodes n as a JSON number, or null when n is empty.
func (n Number) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("null"), nil
	}
	if !isJSONNumber(string(n)) {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, truncate(string(n), 40))
	}
	return []byte(n), nil
}

// UnmarshalJSON accepts a JSON number, a JSON string holding a number, "" or
// null.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*n = ""
		return nil
	}
	var text string
	if b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if strings.TrimSpace(text) == "" {
			*n = ""
			return nil
		}
	} else {
		var num json.Number
		if err := json.Unmarshal(b, &num); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		text = num.String()
	}
	v, err := ParseNumber(text)
	if err != nil {
		return err
	}
	*n = v
	return nil
}
