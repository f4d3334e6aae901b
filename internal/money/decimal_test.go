package money

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Decimal
		wantErr bool
	}{
		{in: "50", want: "50"},
		{in: "50.00", want: "50.00"},
		{in: " 0.00083333 ", want: "0.00083333"},
		{in: "+1.5", want: "1.5"},
		{in: "-1.5", want: "-1.5"},
		{in: "-0", want: "0"},
		{in: "-0.00", want: "0.00"},
		{in: "007.10", want: "7.10"},
		{in: ".5", want: "0.5"},
		{in: "5.", want: "5"},
		{in: "1e-8", want: "0.00000001"},
		{in: "1E-8", want: "0.00000001"},
		{in: "1.5e-8", want: "0.000000015"},
		{in: "2.5e3", want: "2500"},
		{in: "2.50e1", want: "25.0"},
		{in: "1.234e2", want: "123.4"},
		{in: "12e+2", want: "1200"},
		{in: "0e5", want: "0"},
		{in: "123456789012345678901234567890.123456789012345678", want: "123456789012345678901234567890.123456789012345678"},
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "1,5", wantErr: true},
		{in: "1.2.3", wantErr: true},
		{in: ".", wantErr: true},
		{in: "-", wantErr: true},
		{in: "--1", wantErr: true},
		{in: "1e", wantErr: true},
		{in: "1e+", wantErr: true},
		{in: "e5", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "Inf", wantErr: true},
		{in: "0x10", wantErr: true},
		{in: "1_000", wantErr: true},
		{in: "1e1000000000", wantErr: true},
		{in: "1e-200", wantErr: true},
		{in: strings.Repeat("9", 300), wantErr: true},
		{in: "9e127", want: Decimal("9" + strings.Repeat("0", 127))},
		{in: "9e128", wantErr: true},
		{in: "1e-127", want: Decimal("0." + strings.Repeat("0", 126) + "1")},
		{in: "1e-128", wantErr: true}, // 129 digits with the leading 0
		{in: "Infinity", wantErr: true},
		{in: "sNaN", wantErr: true},
		{in: "1.2e3.4", wantErr: true},
		{in: "١٢", wantErr: true},
		{in: strings.Repeat("1", 129), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, want error", tt.in, got)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// Canonical text is a fixed point.
			if again, err := Parse(string(got)); err != nil || again != got {
				t.Errorf("Parse(%q) = %q, %v; want fixed point", got, again, err)
			}
		})
	}
}

func TestDecimalUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    Decimal
		wantErr bool
	}{
		{name: "integer number", json: `50`, want: "50"},
		{name: "number keeps scale", json: `50.00`, want: "50.00"},
		{name: "number beyond float64 precision", json: `0.123456789012345678901234567`, want: "0.123456789012345678901234567"},
		{name: "exponent number", json: `1e-8`, want: "0.00000001"},
		{name: "exponent number upper", json: `8.3333E-4`, want: "0.00083333"},
		{name: "negative number", json: `-2.5`, want: "-2.5"},
		{name: "string", json: `"0.00083333"`, want: "0.00083333"},
		{name: "string padded", json: `" 12.5 "`, want: "12.5"},
		{name: "string exponent", json: `"1e-8"`, want: "0.00000001"},
		{name: "null", json: `null`, want: ""},
		{name: "empty string", json: `""`, want: ""},
		{name: "blank string", json: `"  "`, want: ""},
		{name: "garbage string", json: `"abc"`, wantErr: true},
		{name: "string NaN", json: `"NaN"`, wantErr: true},
		{name: "bool", json: `true`, wantErr: true},
		{name: "object", json: `{}`, wantErr: true},
		{name: "array", json: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s struct {
				A Decimal `json:"a"`
			}
			s.A = "sentinel"
			err := json.Unmarshal([]byte(`{"a":`+tt.json+`}`), &s)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %q, want error", tt.json, s.A)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.json, err)
			}
			if s.A != tt.want {
				t.Errorf("Unmarshal(%s) = %q, want %q", tt.json, s.A, tt.want)
			}
		})
	}
}

func TestDecimalMarshalJSON(t *testing.T) {
	tests := []struct {
		in   Decimal
		want string
	}{
		{"50", `"50"`},
		{"0.00083333", `"0.00083333"`},
		{"", `null`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", tt.in, err)
		}
		if string(b) != tt.want {
			t.Errorf("Marshal(%q) = %s, want %s", tt.in, b, tt.want)
		}
	}
	if _, err := json.Marshal(Decimal("garbage")); err == nil {
		t.Error("Marshal(garbage) succeeded, want error")
	}
	// omitempty drops an absent amount.
	b, err := json.Marshal(struct {
		A Decimal `json:"a,omitempty"`
	}{})
	if err != nil || string(b) != `{}` {
		t.Errorf("omitempty: %s, %v", b, err)
	}
}

func TestDecimalCmp(t *testing.T) {
	tests := []struct {
		a, b Decimal
		want int
	}{
		{"50", "50.00", 0},
		{"0.1", "0.10000000000000000001", -1},
		{"2", "10", -1},
		{"-1", "0", -1},
		{"1e-8", "0.00000001", 0}, // non-canonical text still compares by value
		{"", "", 0},
		{"", "0", -1},
		{"0", "", 1},
		{"garbage", "", 0},
		{"garbage", "-5", -1},
	}
	for _, tt := range tests {
		if got := tt.a.Cmp(tt.b); got != tt.want {
			t.Errorf("%q.Cmp(%q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Cmp(tt.a); got != -tt.want {
			t.Errorf("%q.Cmp(%q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestDecimalArithmetic(t *testing.T) {
	tests := []struct {
		a, b     Decimal
		sub, add Decimal
	}{
		{"0.00083333", "0.0005", "0.00033333", "0.00133333"},
		{"10", "2.50", "7.50", "12.50"},
		{"0.1", "0.2", "-0.1", "0.3"},
		{"1", "", "1", "1"},
		{"", "1", "-1", "1"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		if got := tt.a.Sub(tt.b); got != tt.sub {
			t.Errorf("%q.Sub(%q) = %q, want %q", tt.a, tt.b, got, tt.sub)
		}
		if got := tt.a.Add(tt.b); got != tt.add {
			t.Errorf("%q.Add(%q) = %q, want %q", tt.a, tt.b, got, tt.add)
		}
	}
}

func TestDecimalAccessors(t *testing.T) {
	d := MustParse("12.500")
	if !d.IsSet() || d.Scale() != 3 || d.Sign() != 1 {
		t.Errorf("IsSet/Scale/Sign = %v/%d/%d", d.IsSet(), d.Scale(), d.Sign())
	}
	if f, ok := d.Float64(); !ok || f != 12.5 {
		t.Errorf("Float64 = %v, %v", f, ok)
	}
	r, ok := d.Rat()
	if !ok || r.RatString() != "25/2" {
		t.Errorf("Rat = %v, %v", r, ok)
	}
	var absent Decimal
	if absent.IsSet() || absent.Sign() != 0 {
		t.Error("absent decimal reports set or signed")
	}
	if _, ok := absent.Rat(); ok {
		t.Error("absent Rat ok")
	}
	if _, ok := Decimal("x").Float64(); ok {
		t.Error("garbage Float64 ok")
	}
}

func TestFromFloat(t *testing.T) {
	tests := []struct {
		f        float64
		maxScale int
		want     Decimal
		wantErr  bool
	}{
		{f: 50, maxScale: 2, want: "50"},
		{f: 0.1, maxScale: 2, want: "0.1"},
		{f: 12.34, maxScale: 2, want: "12.34"},
		{f: 0.3, maxScale: -1, want: "0.3"},
		{f: 1e-8, maxScale: 8, want: "0.00000001"},
		{f: 1e21, maxScale: 0, want: "1000000000000000000000"},
		{f: math.Copysign(0, -1), maxScale: 2, want: "0"},
		{f: 0, maxScale: 2, want: "0"},
		{f: 12.345, maxScale: 2, wantErr: true},
		{f: 0.30000000000000004, maxScale: 2, wantErr: true},
		{f: -1, maxScale: 2, wantErr: true},
		{f: math.NaN(), maxScale: 2, wantErr: true},
		{f: math.Inf(1), maxScale: 2, wantErr: true},
		{f: math.Inf(-1), maxScale: 2, wantErr: true},
	}
	for _, tt := range tests {
		got, err := FromFloat(tt.f, tt.maxScale)
		if tt.wantErr {
			if err == nil {
				t.Errorf("FromFloat(%v, %d) = %q, want error", tt.f, tt.maxScale, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FromFloat(%v, %d) = %q, %v; want %q", tt.f, tt.maxScale, got, err, tt.want)
		}
	}
}

func FuzzDecimalUnmarshal(f *testing.F) {
	for _, s := range []string{`1`, `50.00`, `"0.00083333"`, `1e-8`, `"1E+3"`, `null`, `""`, `-0`, `"x"`, `{}`, `1e999999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decimal
		if err := d.UnmarshalJSON(b); err != nil {
			return
		}
		if !d.IsSet() {
			return
		}
		if _, ok := d.Rat(); !ok {
			t.Fatalf("%q decoded to %q which has no value", b, d)
		}
		if strings.ContainsAny(string(d), "eE+ ") {
			t.Fatalf("%q decoded to non-canonical %q", b, d)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", d, err)
		}
		var back Decimal
		if err := json.Unmarshal(out, &back); err != nil || back != d {
			t.Fatalf("round trip %q -> %s -> %q, %v", d, out, back, err)
		}
	})
}
