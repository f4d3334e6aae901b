package fakebitnovo

import (
	"fmt"
	"strconv"
	"strings"
)

// Webhook bodies are serialised the way Bitnovo's Python backend does it:
// json.dumps with the default separators (", " and ": "), ensure_ascii, and
// amounts as Python floats (repr: the shortest text that reads back as the
// same IEEE-754 double, "100.0", "0.0", "1e-05"). The signature covers these
// exact bytes, so they are produced here from the exact decimal values.

// pyFloat renders decimal text as Python's repr(float(text)): the text is
// rounded to the nearest double (strconv.ParseFloat rounds correctly, half
// to even, as float() does), then the shortest decimal that reads back as
// that double is chosen (strconv's shortest formatting, the nearest of
// several when they tie, which is repr's rule too), laid out with Python's
// rule by pyLayout. Magnitudes beyond the double range (never money) are an
// error.
func pyFloat(text string) (string, error) {
	d, err := parseAmount(text)
	if err != nil {
		return "", err
	}
	x, err := strconv.ParseFloat(d.String(), 64)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", errBadDecimal, text, err)
	}
	if x == 0 {
		return "0.0", nil // decimal text has no negative zero
	}
	sign := ""
	if x < 0 {
		sign, x = "-", -x
	}
	e := strconv.FormatFloat(x, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	n, err := strconv.Atoi(exp)
	if err != nil {
		return "", fmt.Errorf("fakebitnovo: FormatFloat gave %q: %w", e, err)
	}
	return sign + pyLayout(strings.TrimRight(strings.Replace(mant, ".", "", 1), "0"), n+1), nil
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
