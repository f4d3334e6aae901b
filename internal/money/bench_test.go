package money

import "testing"

// The operations the clients and the fake do per request: decode an amount,
// compare it with a limit, add received amounts, convert fiat to crypto.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse("0.00083333"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCmp(b *testing.B) {
	x, y := Decimal("50.00"), Decimal("0.01")
	for b.Loop() {
		if x.Cmp(y) != 1 {
			b.Fatal("Cmp")
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	x, y := Decimal("0.00083333"), Decimal("0.0005")
	for b.Loop() {
		if x.Add(y) == "" {
			b.Fatal("Add")
		}
	}
}

func BenchmarkQuo(b *testing.B) {
	x, y := Decimal("50"), Decimal("60000")
	for b.Loop() {
		if _, err := x.Quo(y, 8, HalfUp); err != nil {
			b.Fatal(err)
		}
	}
}
