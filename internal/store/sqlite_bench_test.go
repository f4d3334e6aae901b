package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Durable writes of the create path (SQLite, WAL, synchronous=FULL: every
// commit is an fsync of the WAL). Run:
//
//	go test -run '^$' -bench SQLiteCreate -benchtime 2000x -count 6 ./internal/store/
func BenchmarkSQLiteCreate(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	payment := func(i int) Payment {
		return Payment{Identifier: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Kind: "link", FiatAmount: "10.00", Fiat: "EUR",
			WebURL: "https://paytest.bitnovo.com/abcd1234/", CreatedAt: "2026-12-03T12:00:00Z", ExpiresAt: "2026-12-03T12:15:00Z", StoredAt: time.Now()}
	}
	n := 0
	b.Run("SavePayment", func(b *testing.B) {
		for b.Loop() {
			n++
			if err := s.SavePayment(ctx, payment(n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetPayment", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetPayment(ctx, payment(1).Identifier); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Claim+SavePayment+Finish", func(b *testing.B) {
		for b.Loop() {
			n++
			p, key, now := payment(n), fmt.Sprintf("key-%d", n), time.Now()
			if _, claimed, err := s.ClaimIdempotency(ctx, key, "stdio", "create_payment_link", "hash", now); err != nil || !claimed {
				b.Fatal(claimed, err)
			}
			if err := s.SavePayment(ctx, p); err != nil {
				b.Fatal(err)
			}
			if err := s.FinishIdempotency(ctx, key, IdemDone, p.Identifier, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSQLiteCreateOneCommit(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	n := 0
	for b.Loop() {
		n++
		p := Payment{Identifier: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Kind: "link", FiatAmount: "10.00", Fiat: "EUR", StoredAt: time.Now()}
		key, now := fmt.Sprintf("key-%d", n), time.Now()
		if _, claimed, err := s.ClaimIdempotency(ctx, key, "stdio", "create_payment_link", "hash", now); err != nil || !claimed {
			b.Fatal(claimed, err)
		}
		if err := s.SavePaymentDone(ctx, p, key, now); err != nil {
			b.Fatal(err)
		}
	}
}
