package fakebitnovo

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestPyFloat(t *testing.T) {
	// Expected values are Python 3's repr(float(in)).
	tests := []struct{ in, want string }{
		{"0", "0.0"},
		{"0.00000000", "0.0"},
		{"100.00", "100.0"},
		{"8.00000000", "8.0"},
		{"1.21461894", "1.21461894"},
		{"12.5", "12.5"},
		{"0.1", "0.1"},
		{"0.0001", "0.0001"},
		{"0.00083333", "0.00083333"},
		{"0.00001", "1e-05"},
		{"0.000012", "1.2e-05"},
		{"0.00009999999999999999", "9.999999999999999e-05"},
		{"5.434783", "5.434783"},
		{"1e16", "1e+16"},
		{"9999999999999998", "9999999999999998.0"},
		{"99999999999999999", "1e+17"},
		{"123456789012345678", "1.2345678901234568e+17"},
		{"1234567890123456.7", "1234567890123456.8"},
		{"9007199254740993", "9007199254740992.0"},
		{"0.016666666666666667", "0.016666666666666666"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"-2.50", "-2.5"},
		{"1e-30", "1e-30"},
	}
	for _, tc := range tests {
		got, err := pyFloat(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("pyFloat(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := pyFloat("abc"); err == nil {
		t.Error("pyFloat(abc): no error")
	}
}

// ratRepr is Python's repr(float(r)) computed in exact rational arithmetic
// (the fake's implementation before it used strconv, kept as an independent
// oracle): r is rounded to 53 bits half to even, then the shortest decimal
// that rounds back to that double is searched digit count by digit count,
// the nearest one winning a tie.
func ratRepr(r *big.Rat) string {
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

func toDouble(v *big.Rat) *big.Float {
	return new(big.Float).SetPrec(53).SetMode(big.ToNearestEven).SetRat(v)
}

func pow10(e int) *big.Rat {
	if e >= 0 {
		return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e)), nil))
	}
	return new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-e)), nil))
}

// shortestDigits returns the digits and decimal point position of the
// shortest decimal that rounds to dbl, whose exact value is v > 0.
func shortestDigits(v *big.Rat, dbl *big.Float) (string, int) {
	exp2 := dbl.MantExp(nil)
	k := exp2 * 30103 / 100000
	for v.Cmp(pow10(k)) >= 0 {
		k++
	}
	for v.Cmp(pow10(k-1)) < 0 {
		k--
	}
	for n := 1; ; n++ {
		scale := pow10(n - k)
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
		if best != nil {
			s := best.String()
			return strings.TrimRight(s, "0"), k + len(s) - n
		}
	}
}

// oracle is ratRepr of text read as an exact rational.
func oracle(t *testing.T, text string) string {
	t.Helper()
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		t.Fatalf("big.Rat cannot read %q", text)
	}
	return ratRepr(r)
}

func TestPyFloatMatchesShortestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for i := 0; i < 3000; i++ {
		var text string
		switch i % 3 {
		case 0: // money-like: up to 18 decimals
			d := rng.IntN(19)
			text = fmt.Sprintf("%d.%0*d", rng.IntN(100000), d, rng.Int64N(1_000_000_000_000_000_000)%pow10Int(d))
			if d == 0 {
				text = strconv.Itoa(rng.IntN(100000))
			}
		case 1: // 17–20 significant digits, any magnitude
			text = fmt.Sprintf("%d%de%d", 1+rng.IntN(9), rng.Int64N(1_000_000_000_000_000_000), rng.IntN(41)-30)
		default: // random doubles
			text = strconv.FormatFloat(rng.Float64()*pow10Float(rng.IntN(40)-20), 'g', 17+rng.IntN(3), 64)
		}
		if len(text) > maxAmountLen {
			continue
		}
		got, err := pyFloat(text)
		if err != nil {
			continue // outside parseAmount's accepted range
		}
		if want := oracle(t, text); got != want {
			t.Errorf("pyFloat(%q) = %s, want %s", text, got, want)
		}
		checked++
	}
	if checked < 2500 {
		t.Errorf("only %d of 3000 random values checked", checked)
	}
}

func pow10Int(d int) int64 {
	p := int64(1)
	for range d {
		p *= 10
	}
	return p
}

func pow10Float(e int) float64 {
	x, _ := strconv.ParseFloat("1e"+strconv.Itoa(e), 64)
	return x
}

func TestPyString(t *testing.T) {
	// Expected values are Python 3's json.dumps(in).
	tests := []struct{ in, want string }{
		{"DASH", `"DASH"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\n\r\t\b\f\x01\x7f", `"\n\r\t\b\f\u0001\u007f"`},
		{"café", `"caf\u00e9"`},
		{"€", `"\u20ac"`},
		{"😀", `"\ud83d\ude00"`},
		{"</script>", `"</script>"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	}
	for _, tc := range tests {
		if got := string(pyString(nil, tc.in)); got != tc.want {
			t.Errorf("pyString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzPyFloat(f *testing.F) {
	for _, seed := range []string{"0", "100.00", "1.21461894", "0.00001", "1e16", "0.016666666666666667", "-2.5", "9007199254740993"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := pyFloat(text)
		if err != nil {
			return
		}
		if want := oracle(t, text); got != want {
			t.Errorf("pyFloat(%q) = %s, want %s", text, got, want)
		}
	})
}
