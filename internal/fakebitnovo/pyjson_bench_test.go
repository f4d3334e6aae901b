package fakebitnovo

import "testing"

// BenchmarkPyFloat is one amount of a webhook body (a delivery has three).
func BenchmarkPyFloat(b *testing.B) {
	for b.Loop() {
		if _, err := pyFloat("0.00083333"); err != nil {
			b.Fatal(err)
		}
	}
}
