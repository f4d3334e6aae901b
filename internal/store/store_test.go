package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// backends runs the same contract against every implementation.
func backends(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemory() },
		"sqlite": func(t *testing.T) Store {
			s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db", "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": postgresBackend, // skips unless CRYPTOPAY_TEST_DATABASE_URL is set
	}
}

func TestPaymentsContract(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if _, err := s.GetPayment(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing payment: err=%v", err)
			}
			p := Payment{Identifier: "id-1", Kind: "onchain", FiatAmount: "50.00", Fiat: "EUR", InputCurrency: "BTC",
				Address: "bc1q", PaymentURI: "bitcoin:bc1q?amount=0.001", ExpectedInputAmount: "0.001",
				CreatedAt: "2026-01-01T00:00:00Z", ExpiresAt: "2026-01-01T00:15:00Z", StoredAt: time.UnixMilli(1700000000000)}
			if err := s.SavePayment(ctx, p); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetPayment(ctx, "id-1")
			if err != nil {
				t.Fatal(err)
			}
			if got != p {
				t.Fatalf("got %+v\nwant %+v", got, p)
			}
			p.WebURL = "https://x/abcd/"
			if err := s.SavePayment(ctx, p); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.GetPayment(ctx, "id-1"); got.WebURL != p.WebURL {
				t.Fatalf("replace lost: %+v", got)
			}
		})
	}
}

func TestIdempotencyContract(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1700000000000)
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			r, claimed, err := s.ClaimIdempotency(ctx, "k", "oauth sub=alice client=a1", "create_payment_link", "h1", now)
			if err != nil || !claimed || r.State != IdemPending || r.ArgsHash != "h1" || !r.CreatedAt.Equal(now) {
				t.Fatalf("first claim: %+v %v %v", r, claimed, err)
			}
			r, claimed, err = s.ClaimIdempotency(ctx, "k", "stdio", "create_payment_link", "h2", now.Add(time.Second))
			if err != nil || claimed || r.ArgsHash != "h1" || r.Caller != "oauth sub=alice client=a1" {
				t.Fatalf("second claim: %+v %v %v", r, claimed, err)
			}
			if err := s.FinishIdempotency(ctx, "k", IdemDone, "pay-1", now.Add(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			r, _, _ = s.ClaimIdempotency(ctx, "k", "stdio", "create_payment_link", "h1", now)
			if r.State != IdemDone || r.PaymentID != "pay-1" {
				t.Fatalf("after finish: %+v", r)
			}
			// A done record is not released.
			if err := s.ReleaseIdempotency(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if r, claimed, _ := s.ClaimIdempotency(ctx, "k", "stdio", "t", "h", now); claimed || r.State != IdemDone {
				t.Fatalf("release removed a done record: %+v", r)
			}
			// A pending record is released and can be claimed again.
			_, _, _ = s.ClaimIdempotency(ctx, "p", "stdio", "t", "h", now)
			if err := s.ReleaseIdempotency(ctx, "p"); err != nil {
				t.Fatal(err)
			}
			if _, claimed, _ := s.ClaimIdempotency(ctx, "p", "stdio", "t", "h", now); !claimed {
				t.Fatal("released key could not be claimed again")
			}
			if err := s.FinishIdempotency(ctx, "missing", IdemDone, "", now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("finish missing: %v", err)
			}
			n, err := s.PruneIdempotency(ctx, now.Add(time.Millisecond))
			if err != nil || n != 2 {
				t.Fatalf("prune: n=%d err=%v", n, err)
			}
		})
	}
}

func TestClaimIsExclusiveUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, claimed, err := s.ClaimIdempotency(ctx, "race", "stdio", "t", fmt.Sprint(i), time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if claimed {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d callers claimed the same key, want 1", wins)
			}
		})
	}
}

func TestSQLiteSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SavePayment(ctx, Payment{Identifier: "keep", Kind: "link", WebURL: "https://p/abcd1234/"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimIdempotency(ctx, "key", "stdio", "t", "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenSQLite(ctx, path) // migrations must be a no-op the second time
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, err := s.GetPayment(ctx, "keep"); err != nil || p.WebURL != "https://p/abcd1234/" {
		t.Fatalf("after reopen: %+v %v", p, err)
	}
	if _, claimed, _ := s.ClaimIdempotency(ctx, "key", "stdio", "t", "h", time.Now()); claimed {
		t.Fatal("idempotency record lost on reopen")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Fatalf("database file mode %v is readable by others", perm)
	}
}
