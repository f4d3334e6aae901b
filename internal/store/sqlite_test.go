package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSQLiteSavePaymentDone(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_000)
	p := Payment{Identifier: "00000000-0000-4000-8000-000000000001", Kind: "link", FiatAmount: "10.00", Fiat: "EUR", WebURL: "https://paytest.bitnovo.com/abcd/", StoredAt: now}

	// No record for the key: nothing is written, not even the payment.
	if err := s.SavePaymentDone(ctx, p, "missing", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}
	if _, err := s.GetPayment(ctx, p.Identifier); !errors.Is(err, ErrNotFound) {
		t.Fatalf("payment stored although its key was unknown: %v", err)
	}

	if _, claimed, err := s.ClaimIdempotency(ctx, "k1", "stdio", "create_payment_link", "h", now); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	if err := s.SavePaymentDone(ctx, p, "k1", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Both survive a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = OpenSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetPayment(ctx, p.Identifier)
	if err != nil || got.WebURL != p.WebURL || got.FiatAmount != "10.00" {
		t.Fatalf("payment after reopen = %+v, %v", got, err)
	}
	rec, claimed, err := s.ClaimIdempotency(ctx, "k1", "stdio", "create_payment_link", "h", now)
	if err != nil || claimed || rec.State != IdemDone || rec.PaymentID != p.Identifier || !rec.UpdatedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("record after reopen = %+v, claimed %v, %v", rec, claimed, err)
	}
}

// Prepared statements are shared by concurrent callers and closed with the
// store.
func TestSQLitePreparedStatementsConcurrent(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := Payment{Identifier: "00000000-0000-4000-8000-000000000002", Kind: "onchain", StoredAt: time.Now()}
	if err := s.SavePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for range 50 {
				if _, err = s.GetPayment(ctx, p.Identifier); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPayment(ctx, p.Identifier); err == nil {
		t.Fatal("GetPayment after Close succeeded")
	}
}
