package bitrefill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// decimalPattern is the JSON number grammar.
var decimalPattern = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// Decimal is an exact decimal amount kept as the text Bitrefill sent. It
// decodes from a JSON number (via json.Number, never float64) or from a JSON
// string holding a number; null and "" decode to the zero Decimal (""). It
// encodes as a JSON number, or null when empty.
type Decimal string

// ParseDecimal validates s as a decimal number and returns it as a Decimal.
// Leading zeros, "+" signs, thousands separators and NaN/Inf are rejected.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	if !decimalPattern.MatchString(s) {
		return "", fmt.Errorf("bitrefill: invalid decimal %q", truncate(s, 40))
	}
	return Decimal(s), nil
}

// String returns the decimal text.
func (d Decimal) String() string { return string(d) }

// IsZero reports whether d is empty or numerically zero.
func (d Decimal) IsZero() bool {
	r, ok := d.Rat()
	return !ok || r.Sign() == 0
}

// Rat returns d as an exact rational. ok is false when d is empty or invalid.
func (d Decimal) Rat() (r *big.Rat, ok bool) {
	if d == "" || !decimalPattern.MatchString(string(d)) {
		return nil, false
	}
	// Guard against absurd exponents that would make big.Rat allocate
	// enormous numbers.
	if i := strings.IndexAny(string(d), "eE"); i >= 0 && len(d)-i > 4 {
		return nil, false
	}
	r, ok = new(big.Rat).SetString(string(d))
	return r, ok
}

// Cmp compares d and e numerically (-1, 0, +1). Invalid or empty values
// compare as zero.
func (d Decimal) Cmp(e Decimal) int {
	a, ok := d.Rat()
	if !ok {
		a = new(big.Rat)
	}
	b, ok := e.Rat()
	if !ok {
		b = new(big.Rat)
	}
	return a.Cmp(b)
}

// MarshalJSON encodes d as a JSON number, or null when d is empty.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	if !decimalPattern.MatchString(string(d)) {
		return nil, fmt.Errorf("bitrefill: invalid decimal %q", truncate(string(d), 40))
	}
	return []byte(d), nil
}

// UnmarshalJSON accepts a JSON number, a JSON string holding a number, "" or
// null.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*d = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("bitrefill: decimal: %w", err)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*d = ""
			return nil
		}
		v, err := ParseDecimal(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("bitrefill: decimal: %w", err)
	}
	v, err := ParseDecimal(n.String())
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
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
