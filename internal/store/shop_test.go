package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestShopSpendContract(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			const cap = 10000 // 100 EUR
			if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "a", Day: "2026-03-01", AmountCents: 6000, CreatedAt: now}, cap); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "a", Day: "2026-03-01", AmountCents: 1, CreatedAt: now}, cap); !errors.Is(err, ErrSpendExists) {
				t.Fatalf("second reservation of one invoice: %v", err)
			}
			used, err := s.ReserveSpend(ctx, Spend{InvoiceID: "b", Day: "2026-03-01", AmountCents: 4001, CreatedAt: now}, cap)
			if !errors.Is(err, ErrDailyLimit) || used != 6000 {
				t.Fatalf("over cap: used=%d err=%v", used, err)
			}
			if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "b", Day: "2026-03-01", AmountCents: 4000, CreatedAt: now}, cap); err != nil {
				t.Fatalf("exactly the cap: %v", err)
			}
			// Another day has its own cap.
			if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "c", Day: "2026-03-02", AmountCents: 9000, CreatedAt: now}, cap); err != nil {
				t.Fatal(err)
			}
			// Released spends stop counting and the invoice may be tried again.
			if err := s.FinishSpend(ctx, "b", SpendReleased, now); err != nil {
				t.Fatal(err)
			}
			if n, _ := s.SpentOn(ctx, "2026-03-01"); n != 6000 {
				t.Fatalf("after release: %d", n)
			}
			if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "b", Day: "2026-03-01", AmountCents: 1000, CreatedAt: now}, cap); err != nil {
				t.Fatalf("re-reserve released: %v", err)
			}
			// Unknown outcomes keep counting.
			if err := s.FinishSpend(ctx, "a", SpendUnknown, now); err != nil {
				t.Fatal(err)
			}
			if n, _ := s.SpentOn(ctx, "2026-03-01"); n != 7000 {
				t.Fatalf("unknown must count: %d", n)
			}
			if sp, err := s.GetSpend(ctx, "a"); err != nil || sp.Status != SpendUnknown || sp.AmountCents != 6000 {
				t.Fatalf("get spend: %+v %v", sp, err)
			}
			if _, err := s.GetSpend(ctx, "zz"); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			if err := s.FinishSpend(ctx, "zz", SpendPaid, now); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		})
	}
}

// TestShopReserveConcurrent: many parallel reservations never overshoot the cap.
func TestShopReserveConcurrent(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			const cap, each, n = 10000, 700, 40
			var ok atomic.Int64
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.ReserveSpend(ctx, Spend{InvoiceID: fmt.Sprint("inv-", i), Day: "2026-03-01", AmountCents: each}, cap)
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrDailyLimit):
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if got := ok.Load(); got != cap/each {
				t.Fatalf("%d reservations succeeded, want %d", got, cap/each)
			}
			if used, _ := s.SpentOn(ctx, "2026-03-01"); used > cap {
				t.Fatalf("cap overshot: %d", used)
			}
		})
	}
}

func TestShopConfirmationContract(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			c := Confirmation{TokenHash: "h1", InvoiceID: "inv-1", AmountCents: 2500, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
			if err := s.SaveConfirmation(ctx, c); err != nil {
				t.Fatal(err)
			}
			reason := func(err error) string {
				var ce *ConfirmationError
				if !errors.As(err, &ce) || !errors.Is(err, ErrConfirmationInvalid) {
					t.Fatalf("want a ConfirmationError, got %v", err)
				}
				return ce.Reason
			}
			if r := reason(s.ConsumeConfirmation(ctx, "nope", "inv-1", 2500, now)); r != "unknown" {
				t.Fatal(r)
			}
			if r := reason(s.ConsumeConfirmation(ctx, "h1", "inv-2", 2500, now)); r != "other_invoice" {
				t.Fatal(r)
			}
			if r := reason(s.ConsumeConfirmation(ctx, "h1", "inv-1", 2501, now)); r != "other_amount" {
				t.Fatal(r)
			}
			if r := reason(s.ConsumeConfirmation(ctx, "h1", "inv-1", 2500, now.Add(5*time.Minute))); r != "expired" {
				t.Fatal(r)
			}
			if err := s.ConsumeConfirmation(ctx, "h1", "inv-1", 2500, now.Add(time.Minute)); err != nil {
				t.Fatalf("valid token: %v", err)
			}
			if r := reason(s.ConsumeConfirmation(ctx, "h1", "inv-1", 2500, now.Add(time.Minute))); r != "used" {
				t.Fatal(r)
			}
		})
	}
}

func TestShopConfirmationConsumedOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			_ = s.SaveConfirmation(ctx, Confirmation{TokenHash: "h", InvoiceID: "i", AmountCents: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
			var ok atomic.Int64
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if s.ConsumeConfirmation(ctx, "h", "i", 1, now) == nil {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("token consumed %d times", ok.Load())
			}
		})
	}
}

func TestShopAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			for i, o := range []string{"created", "quoted", "paid"} {
				if err := s.AppendAudit(ctx, AuditEntry{Tool: "pay_invoice", InvoiceID: "inv", AmountCents: int64(i), Outcome: o,
					Caller: "oauth sub=alice client=c" + fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.ListAudit(ctx)
			if err != nil || len(got) != 3 {
				t.Fatalf("%v %v", got, err)
			}
			for i, e := range got {
				if e.Seq != int64(i+1) || e.AmountCents != int64(i) || e.At.IsZero() || e.Caller != "oauth sub=alice client=c"+fmt.Sprint(i) {
					t.Fatalf("entry %d: %+v", i, e)
				}
			}
			if sq, ok := s.(*SQLite); ok {
				if _, err := sq.DB().ExecContext(ctx, `UPDATE shop_audit SET outcome = 'x'`); err == nil {
					t.Fatal("audit update was allowed")
				}
				if _, err := sq.DB().ExecContext(ctx, `DELETE FROM shop_audit`); err == nil {
					t.Fatal("audit delete was allowed")
				}
			}
		})
	}
}

// TestShopSurvivesReopen: spending and audit persist across a restart.
func TestShopSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "a", Day: "2026-03-01", AmountCents: 9000}, 10000); err != nil {
		t.Fatal(err)
	}
	_ = s.AppendAudit(ctx, AuditEntry{Tool: "pay_invoice", Outcome: "paid"})
	_ = s.Close()
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "b", Day: "2026-03-01", AmountCents: 1001}, 10000); !errors.Is(err, ErrDailyLimit) {
		t.Fatalf("cap reset by reopen: %v", err)
	}
	if a, _ := s.ListAudit(ctx); len(a) != 1 {
		t.Fatalf("audit lost: %v", a)
	}
}
