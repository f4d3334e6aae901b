package payments

import (
	"context"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// TestIdempotencyKeyIsScopedToItsCaller: one key, three callers. Each
// OAuth caller gets its own payment; a retry by the same caller replays
// its own; the operator's callers (stdio, static token) share the
// unprefixed key, as every record written before callers existed does.
func TestIdempotencyKeyIsScopedToItsCaller(t *testing.T) {
	api := newStub()
	st := store.NewMemory()
	svc := New(api, st, Options{})
	alice := access.WithCaller(context.Background(), access.Caller{Kind: access.KindOAuth, Subject: "alice", ClientID: "app"})
	bob := access.WithCaller(context.Background(), access.Caller{Kind: access.KindOAuth, Subject: "bob", ClientID: "app"})
	aliceOther := access.WithCaller(context.Background(), access.Caller{Kind: access.KindOAuth, Subject: "alice", ClientID: "other-app"})
	stdio := context.Background()
	static := access.WithCaller(context.Background(), access.Caller{Kind: access.KindStaticToken})

	in := LinkInput{AmountEUR: 10, IdempotencyKey: "order-42"}
	create := func(ctx context.Context) *LinkResult {
		t.Helper()
		r, err := svc.CreateLink(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a1, b1, o1, s1 := create(alice), create(bob), create(aliceOther), create(stdio)
	if a1.Identifier == b1.Identifier || a1.Identifier == o1.Identifier || a1.Identifier == s1.Identifier || b1.Identifier == s1.Identifier {
		t.Fatalf("callers share payments: alice %s bob %s alice/other %s stdio %s", a1.Identifier, b1.Identifier, o1.Identifier, s1.Identifier)
	}
	if a1.IdempotentReplay || b1.IdempotentReplay || s1.IdempotentReplay {
		t.Fatal("a first create reads as a replay")
	}
	a2, s2 := create(alice), create(static)
	if a2.Identifier != a1.Identifier || !a2.IdempotentReplay {
		t.Errorf("alice's retry: %s replay=%t, want %s", a2.Identifier, a2.IdempotentReplay, a1.Identifier)
	}
	if s2.Identifier != s1.Identifier || !s2.IdempotentReplay {
		t.Errorf("static token after stdio: %s, want the operator's %s", s2.Identifier, s1.Identifier)
	}
	if n := api.createCalls.Load(); n != 4 {
		t.Errorf("%d creates at the provider, want 4", n)
	}

	// The records name their callers; the operator's key is stored as is.
	rec, claimed, err := st.ClaimIdempotency(context.Background(), "order-42", "x", "create_payment_link", "", time.Now())
	if err != nil || claimed || rec.Caller != "stdio" || rec.PaymentID != s1.Identifier {
		t.Errorf("operator record: %+v claimed=%t %v", rec, claimed, err)
	}
	rec, claimed, err = st.ClaimIdempotency(context.Background(), scopedKey(access.CallerFrom(bob), "order-42"), "x", "create_payment_link", "", time.Now())
	if err != nil || claimed || rec.Caller != "oauth sub=bob client=app" || rec.PaymentID != b1.Identifier {
		t.Errorf("bob's record: %+v claimed=%t %v", rec, claimed, err)
	}
}
