package payments

import (
	"context"
	"errors"
	"os"
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

// failingSave is a store that answers Ping but cannot save a payment: it
// goes down between the check and the write.
type failingSave struct{ *store.Memory }

func (failingSave) SavePayment(context.Context, store.Payment) error {
	return errors.New("disk on fire")
}

// TestCreateWithTheStoreDown: with the store down a create is refused
// before anything is sent to Bitnovo (fail closed), with or without an
// idempotency key; and when the store fails after Bitnovo created the
// payment, the result says plainly that it was not recorded. On main a
// key-less create with the store down reported success as if it were kept.
func TestCreateWithTheStoreDown(t *testing.T) {
	ctx := context.Background()
	for _, key := range []string{"", "k1"} {
		t.Run("removed file, key "+key, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			sq, err := store.OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer sq.Close()
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			api := newStub()
			svc := New(api, sq, Options{})
			_, err = svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: key})
			if pe := AsError(err); pe.Code != CodeStoreUnavailable {
				t.Fatalf("create link: %v, want %s", err, CodeStoreUnavailable)
			}
			_, err = svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IdempotencyKey: key})
			if pe := AsError(err); pe.Code != CodeStoreUnavailable {
				t.Fatalf("create onchain: %v, want %s", err, CodeStoreUnavailable)
			}
			if n := api.createCalls.Load(); n != 0 {
				t.Fatalf("%d creates reached Bitnovo with the store down", n)
			}
		})
	}
	for _, key := range []string{"", "k2"} {
		t.Run("save fails after the create, key "+key, func(t *testing.T) {
			api := newStub()
			svc := New(api, failingSave{store.NewMemory()}, Options{})
			link, err := svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: key})
			if err != nil {
				t.Fatal(err)
			}
			if link.Identifier == "" || link.WebURL == "" || link.NotRecorded == "" {
				t.Fatalf("link = %+v: want the real payment and not_recorded", link)
			}
			on, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IdempotencyKey: key + "x"})
			if err != nil {
				t.Fatal(err)
			}
			if on.Identifier == "" || on.NotRecorded == "" {
				t.Fatalf("onchain = %+v: want the real payment and not_recorded", on)
			}
		})
	}
	t.Run("healthy store says nothing", func(t *testing.T) {
		link, err := New(newStub(), store.NewMemory(), Options{}).CreateLink(ctx, LinkInput{AmountEUR: 10})
		if err != nil || link.NotRecorded != "" {
			t.Fatalf("link = %+v, %v", link, err)
		}
	})
}
