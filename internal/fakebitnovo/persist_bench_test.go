package fakebitnovo

import (
	"net/http"
	"path/filepath"
	"testing"
)

const benchOrder = `{"expected_output_amount":"42.50","input_currency":"ETH","notes":"Order #1042"}`

// BenchmarkCreateOrder is E1 over the handler, in memory and with the
// state journal of the sandbox (one appended line per order).
func BenchmarkCreateOrder(b *testing.B) {
	for _, persisted := range []bool{false, true} {
		name := "memory"
		if persisted {
			name = "journal"
		}
		b.Run(name, func(b *testing.B) {
			s := New(Options{DeviceID: testDevice})
			if persisted {
				var err error
				if s, err = Open(Options{DeviceID: testDevice}, filepath.Join(b.TempDir(), "orders.jsonl")); err != nil {
					b.Fatal(err)
				}
			}
			defer s.Close()
			for b.Loop() {
				if rec := call(b, s, http.MethodPost, "/api/v1/orders/", "application/json", benchOrder); rec.Code != http.StatusCreated {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// BenchmarkOpenFull is a restart of a sandbox holding maxOrders orders.
func BenchmarkOpenFull(b *testing.B) {
	path := filepath.Join(b.TempDir(), "orders.jsonl")
	s, err := Open(Options{DeviceID: testDevice}, path)
	if err != nil {
		b.Fatal(err)
	}
	for range maxOrders {
		mustCreate(b, s, benchOrder)
	}
	_ = s.Close()
	for b.Loop() {
		s, err := Open(Options{DeviceID: testDevice}, path)
		if err != nil || s.OrderCount() != maxOrders {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}
