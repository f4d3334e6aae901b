package money

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestRoundAndQuo(t *testing.T) {
	tests := []struct {
		name     string
		x, y     Decimal
		scale    int
		halfUp   Decimal
		truncate Decimal
	}{
		{"50 EUR in BTC", "50", "60000", 8, "0.00083333", "0.00083333"},
		{"5 EUR in USDC (half up differs)", "5", "0.92", 6, "5.434783", "5.434782"},
		{"exact half", "5", "1000", 2, "0.01", "0.00"},
		{"just below half", "4999", "1000000", 2, "0.00", "0.00"},
		{"10 EUR in ETH", "10", "3000", 18, "0.003333333333333333", "0.003333333333333333"},
		{"20 EUR in ETH", "20", "3000", 18, "0.006666666666666667", "0.006666666666666666"},
		{"integer", "3", "1", 8, "3.00000000", "3.00000000"},
		{"zero decimals", "7", "2", 0, "4", "3"},
		{"negative half away from zero", "-5", "1000", 2, "-0.01", "0.00"},
		{"half one digit past a long truncation", "1", "3", 40, Decimal("0." + strings.Repeat("3", 40)), Decimal("0." + strings.Repeat("3", 40))},
		{"tie hidden far below the precision", "1", "8", 2, "0.13", "0.12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				mode Rounding
				want Decimal
			}{{HalfUp, tt.halfUp}, {Down, tt.truncate}} {
				got, err := tt.x.Quo(tt.y, tt.scale, c.mode)
				if err != nil || got != c.want {
					t.Errorf("%s.Quo(%s, %d, %d) = %q, %v; want %s", tt.x, tt.y, tt.scale, c.mode, got, err, c.want)
				}
				// Round of the exact quotient agrees with Quo.
				r := ratOf(t, tt.x)
				r.Quo(r, ratOf(t, tt.y))
				if exact, ok := exactDecimal(r); ok {
					if got := exact.Round(tt.scale, c.mode); got != c.want {
						t.Errorf("%s.Round(%d, %d) = %q, want %s", exact, tt.scale, c.mode, got, c.want)
					}
				}
			}
		})
	}
	if _, err := Decimal("1").Quo("0.00", 2, HalfUp); err == nil {
		t.Error("division by zero accepted")
	}
	if _, err := Decimal("").Quo("1", 2, HalfUp); err == nil {
		t.Error("absent dividend accepted")
	}
}

func TestUnits(t *testing.T) {
	tests := []struct {
		amount   Decimal
		decimals int
		want     string
	}{
		{"0.010000000000000000", 18, "10000000000000000"},
		{"1.5", 18, "1500000000000000000"},
		{"0.00083333", 8, "83333"},
		{"0.123456789", 8, "12345678"},
		{"garbage", 8, "0"},
		{"", 8, "0"},
	}
	for _, tt := range tests {
		if got := tt.amount.Units(tt.decimals); got != tt.want {
			t.Errorf("%q.Units(%d) = %s, want %s", tt.amount, tt.decimals, got, tt.want)
		}
	}
}

func TestMinor(t *testing.T) {
	tests := []struct {
		amount   Decimal
		decimals int
		mode     Rounding
		want     int64
		ok       bool
	}{
		{"12.34", 2, Up, 1234, true},
		{"12.341", 2, Up, 1235, true},
		{"12.349", 2, Down, 1234, true},
		{"12.345", 2, HalfUp, 1235, true},
		{"0.0000001", 2, Up, 1, true},
		{"-0.001", 2, Up, -1, true},
		{"50", 2, Down, 5000, true},
		{"92233720368547758.07", 2, Down, 9223372036854775807, true},
		{"92233720368547758.08", 2, Down, 0, false},
		{"garbage", 2, Up, 0, false},
		{"", 2, Up, 0, false},
		{"1", -1, Up, 0, false},
	}
	for _, tt := range tests {
		if got, ok := tt.amount.Minor(tt.decimals, tt.mode); got != tt.want || ok != tt.ok {
			t.Errorf("%q.Minor(%d, %d) = %d, %v; want %d, %v", tt.amount, tt.decimals, tt.mode, got, ok, tt.want, tt.ok)
		}
	}
	if got := Decimal("-0.001").Round(2, Up); got != "-0.01" {
		t.Errorf(`"-0.001".Round(2, Up) = %q, want "-0.01"`, got)
	}
	if _, err := Decimal("1").Quo("3", 2, Up); err == nil {
		t.Error("Quo with Up: no error")
	}
	// Up on a positive amount is the ceiling of amount × 100, as the shop's
	// big.Rat code computed it before.
	rng := rand.New(rand.NewPCG(7, 2026))
	hundred := big.NewRat(100, 1)
	for range 2000 {
		d := MustParse(fmt.Sprintf("%d.%0*d", rng.IntN(100000), 1+rng.IntN(6), rng.IntN(1000000)))
		c := new(big.Rat).Mul(ratOf(t, d), hundred)
		q := new(big.Int).Quo(c.Num(), c.Denom())
		if new(big.Rat).SetInt(q).Cmp(c) < 0 {
			q.Add(q, big.NewInt(1))
		}
		if got, ok := d.Minor(2, Up); !ok || got != q.Int64() {
			t.Fatalf("%s.Minor(2, Up) = %d, %v; ceiling is %s", d, got, ok, q)
		}
	}
}

func TestFitsScaleAndMul(t *testing.T) {
	for _, tt := range []struct {
		d    Decimal
		n    int
		want bool
	}{{"1.50", 1, true}, {"1.05", 1, false}, {"100", 0, true}, {"2.500e1", 0, true}, {"x", 2, false}} {
		if got := tt.d.FitsScale(tt.n); got != tt.want {
			t.Errorf("%q.FitsScale(%d) = %v", tt.d, tt.n, got)
		}
	}
	for in, want := range map[Decimal]Decimal{"50.00": "50", "1.50": "1.5", "0.000": "0", "120": "120", "-2.10": "-2.1", "x": ""} {
		if got := in.Reduce(); got != want {
			t.Errorf("%q.Reduce() = %q, want %q", in, got, want)
		}
	}
	if got := Decimal("0.5").Mul("0.25"); got != "0.125" {
		t.Errorf("Mul = %q", got)
	}
	big := Decimal(strings.Repeat("9", 100))
	if got := big.Mul(big); got != "" {
		t.Errorf("Mul beyond MaxDigits = %q, want absent", got)
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in      string
		want    Number
		value   Decimal
		wantErr bool
	}{
		{`12.50`, "12.50", "12.50", false},
		{`"12.50"`, "12.50", "12.50", false},
		{`1e-8`, "1e-8", "0.00000001", false},
		{`-0`, "-0", "0", false},
		{`0.5E+2`, "0.5E+2", "50", false},
		{`null`, "", "", false},
		{`"+5"`, "", "", true},
		{`"0012"`, "", "", true},
		{`".5"`, "", "", true},
		{`"5."`, "", "", true},
		{`"1e"`, "", "", true},
		{`"-"`, "", "", true},
		{`"Infinity"`, "", "", true},
	}
	for _, tt := range tests {
		var n Number
		err := json.Unmarshal([]byte(tt.in), &n)
		if (err != nil) != tt.wantErr || n != tt.want || n.Decimal() != tt.value {
			t.Errorf("Unmarshal(%s) = %q (%q), %v; want %q (%q), err %v", tt.in, n, n.Decimal(), err, tt.want, tt.value, tt.wantErr)
		}
		if err == nil && n != "" {
			if b, err := json.Marshal(n); err != nil || string(b) != string(n) {
				t.Errorf("Marshal(%q) = %s, %v", n, b, err)
			}
		}
	}
	if Number("1e99999").Decimal() != "" || Number("1e99999").Cmp("0") != 0 {
		t.Error("a Number beyond Parse's limits is not zero")
	}
}

// jsonNumberRE is RFC 8259's number grammar, the oracle for isJSONNumber.
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// ratOf parses d with big.Rat, the independent oracle.
func ratOf(t testing.TB, d Decimal) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(string(d))
	if !ok {
		t.Fatalf("big.Rat cannot read %q", d)
	}
	return r
}

// exactDecimal writes r as a Decimal when its denominator is 2^a·5^b.
func exactDecimal(r *big.Rat) (Decimal, bool) {
	for scale := 0; scale <= MaxDigits; scale++ {
		s := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
		if s.IsInt() {
			d, err := Parse(r.FloatString(scale))
			return d, err == nil
		}
	}
	return "", false
}

// randomDecimal makes decimal text in the forms amounts take, exponents
// included.
func randomDecimal(rng *rand.Rand) string {
	var b strings.Builder
	switch rng.IntN(3) {
	case 0:
		b.WriteByte('-')
	case 1:
		b.WriteByte('+')
	}
	for range rng.IntN(25) {
		b.WriteByte(byte('0' + rng.IntN(10)))
	}
	if rng.IntN(2) == 0 {
		b.WriteByte('.')
		for range rng.IntN(20) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
	}
	if b.Len() == 0 || strings.Trim(b.String(), "+-.") == "" {
		b.WriteByte(byte('0' + rng.IntN(10)))
	}
	if rng.IntN(4) == 0 {
		fmt.Fprintf(&b, "e%d", rng.IntN(61)-30)
	}
	return b.String()
}

// TestProperties checks, on random amounts, that canonical text is a fixed
// point of Parse and keeps the value and the scale, and that Cmp, Add, Sub,
// Mul, Sign and Round agree with big.Rat.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2026))
	for range 3000 {
		as, bs := randomDecimal(rng), randomDecimal(rng)
		a, err := Parse(as)
		if err != nil {
			t.Fatalf("Parse(%q): %v", as, err)
		}
		b := MustParse(bs)
		checkRoundTrip(t, as, a)
		ra, rb := ratOf(t, a), ratOf(t, b)
		if want, _ := new(big.Rat).SetString(strings.TrimPrefix(as, "+")); want.Cmp(ra) != 0 {
			t.Fatalf("Parse(%q) = %s, value %s; want %s", as, a, ra.RatString(), want.RatString())
		}
		if got, want := a.Cmp(b), ra.Cmp(rb); got != want {
			t.Fatalf("%s.Cmp(%s) = %d, big.Rat says %d", a, b, got, want)
		}
		if a.Sign() != ra.Sign() {
			t.Fatalf("%s.Sign() = %d", a, a.Sign())
		}
		for _, op := range []struct {
			name string
			got  Decimal
			want *big.Rat
		}{
			{"+", a.Add(b), new(big.Rat).Add(ra, rb)},
			{"-", a.Sub(b), new(big.Rat).Sub(ra, rb)},
			{"×", a.Mul(b), new(big.Rat).Mul(ra, rb)},
		} {
			if ratOf(t, op.got).Cmp(op.want) != 0 {
				t.Fatalf("%s %s %s = %s, big.Rat says %s", a, op.name, b, op.got, op.want.FloatString(40))
			}
		}
		if got, want := a.Add(b).Scale(), max(a.Scale(), b.Scale()); got != want {
			t.Fatalf("%s + %s has scale %d, want %d", a, b, got, want)
		}
		scale := rng.IntN(12)
		if got, want := a.Round(scale, HalfUp), Decimal(ra.FloatString(scale)); got.Cmp(want) != 0 || got.Scale() != scale {
			t.Fatalf("%s.Round(%d, HalfUp) = %s, big.Rat.FloatString says %s", a, scale, got, want)
		}
		if !b.IsSet() || b.Sign() == 0 {
			continue
		}
		if got, err := a.Quo(b, scale, HalfUp); err != nil || got.Cmp(Decimal(new(big.Rat).Quo(ra, rb).FloatString(scale))) != 0 {
			t.Fatalf("%s.Quo(%s, %d, HalfUp) = %s, %v; big.Rat.FloatString says %s", a, b, scale, got, err, new(big.Rat).Quo(ra, rb).FloatString(scale))
		}
		q, err := a.Quo(b, scale, Down)
		if err != nil {
			t.Fatalf("%s.Quo(%s): %v", a, b, err)
		}
		// Truncation: |q| ≤ |a/b| < |q| + 10^-scale.
		exact := new(big.Rat).Quo(ra, rb)
		ulp := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
		diff := new(big.Rat).Sub(new(big.Rat).Abs(exact), new(big.Rat).Abs(ratOf(t, q)))
		if diff.Sign() < 0 || diff.Cmp(ulp) >= 0 {
			t.Fatalf("%s.Quo(%s, %d, Down) = %s, exact %s", a, b, scale, q, exact.FloatString(scale+5))
		}
	}
}

func checkRoundTrip(t *testing.T, in string, d Decimal) {
	t.Helper()
	again, err := Parse(string(d))
	if err != nil || again != d {
		t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", in, d, d, again, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("Marshal(%q): %v", d, err)
	}
	var back Decimal
	if err := json.Unmarshal(b, &back); err != nil || back != d {
		t.Fatalf("JSON round trip of %q: %s → %q, %v", d, b, back, err)
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is a fixed
// point with big.Rat's value, that Number agrees with Parse on JSON numbers,
// and that comparison matches big.Rat.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"-0", "0.5E+2", "01", "1.", "-", "1e", " 1", "1 ", "50", "50.00", "-0.00", "1e-8", "2.5E3", ".5", "5.", "+1", "007.10", "1e128", "NaN", "1/3", "0x10", " 1 ", "9" + strings.Repeat("0", 127)} {
		f.Add(s, "0.1")
	}
	f.Fuzz(func(t *testing.T, s, o string) {
		if got, want := isJSONNumber(s), jsonNumberRE.MatchString(s); got != want {
			t.Fatalf("isJSONNumber(%q) = %v, the JSON number grammar says %v", s, got, want)
		}
		d, err := Parse(s)
		if isJSONNumber(strings.TrimSpace(s)) && Number(strings.TrimSpace(s)).Decimal() != d {
			t.Fatalf("Number(%q).Decimal() = %q, Parse = %q", s, Number(s).Decimal(), d)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		checkRoundTrip(t, s, d)
		want, ok := new(big.Rat).SetString(strings.TrimPrefix(strings.TrimSpace(s), "+"))
		if !ok || ratOf(t, d).Cmp(want) != 0 {
			t.Fatalf("Parse(%q) = %q, big.Rat reads %v", s, d, want)
		}
		// Minor(2, Up) is the ceiling of |d| × 100, with d's sign, when it
		// fits an int64.
		c := new(big.Rat).Mul(new(big.Rat).Abs(want), big.NewRat(100, 1))
		q := new(big.Int).Quo(c.Num(), c.Denom())
		if new(big.Rat).SetInt(q).Cmp(c) < 0 {
			q.Add(q, big.NewInt(1))
		}
		if want.Sign() < 0 {
			q.Neg(q)
		}
		if got, ok := d.Minor(2, Up); ok != q.IsInt64() || (ok && got != q.Int64()) {
			t.Fatalf("%s.Minor(2, Up) = %d, %v; big.Rat says %s", d, got, ok, q)
		}
		if e, err := Parse(o); err == nil {
			if got, want := d.Cmp(e), ratOf(t, d).Cmp(ratOf(t, e)); got != want {
				t.Fatalf("%s.Cmp(%s) = %d, big.Rat says %d", d, e, got, want)
			}
			if e.Sign() != 0 {
				want := new(big.Rat).Quo(ratOf(t, d), ratOf(t, e))
				if got, err := d.Quo(e, 6, HalfUp); err == nil && ratOf(t, got).Cmp(ratOf(t, Decimal(want.FloatString(6)))) != 0 {
					t.Fatalf("%s.Quo(%s, 6, HalfUp) = %s, big.Rat.FloatString says %s", d, e, got, want.FloatString(6))
				}
			}
		}
	})
}
