package payments

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// failingDone is a SQLite store whose one-transaction commit fails, so the
// service must fall back to the two separate writes.
type failingDone struct {
	*store.SQLite
	calls int
}

func (f *failingDone) SavePaymentDone(context.Context, store.Payment, string, time.Time) error {
	f.calls++
	return errors.New("disk on fire")
}

// A keyed create on SQLite commits the payment and its done idempotency
// record together; a replay then finds both, also after a reopen, and when
// the joint commit fails the separate writes still leave a working replay.
func TestKeyedCreateCommitsPaymentWithItsKey(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		failing bool
	}{{"one transaction", false}, {"fallback to two writes", true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			sq, err := store.OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			var st store.Store = sq
			f := &failingDone{SQLite: sq}
			if tc.failing {
				st = f
			}
			api := newStub()
			first, err := New(api, st, Options{}).CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.failing && f.calls != 1 {
				t.Fatalf("SavePaymentDone called %d times, want 1", f.calls)
			}
			if err := sq.Close(); err != nil {
				t.Fatal(err)
			}
			sq, err = store.OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer sq.Close()
			again, err := New(api, sq, Options{}).CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			if !again.IdempotentReplay || again.Identifier != first.Identifier || again.WebURL != first.WebURL {
				t.Fatalf("after reopen: %+v, want a replay of %s", again, first.Identifier)
			}
			if n := api.createCalls.Load(); n != 1 {
				t.Fatalf("%d creates sent, want 1", n)
			}
		})
	}
}
