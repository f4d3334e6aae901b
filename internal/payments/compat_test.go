package payments

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

func TestCryptoAmount(t *testing.T) {
	tests := []struct {
		text, currency string
		want           any // nil: JSON null
	}{
		{"", "BTC", nil},
		{"0", "BTC", "0.00000000"},
		{"0.0", "BTC_TEST", "0.00000000"},
		{"-0", "USDC_ERC20", "0.000000"},
		{"0e3", "ETH", "0.000000000000000000"},
		{"0", "ZZZ", "0.00000000"}, // unknown coin: the catalog's default of 8
		{"0", "", "0"},             // no currency chosen yet
		{"0.00100000", "BTC", "0.00100000"},
		{"12.5", "", "12.5"},
	}
	for _, tt := range tests {
		got := cryptoAmount(tt.text, tt.currency)
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("cryptoAmount(%q, %q) = %q, want nil", tt.text, tt.currency, *got)
		case tt.want != nil && (got == nil || *got != tt.want):
			t.Errorf("cryptoAmount(%q, %q) = %v, want %q", tt.text, tt.currency, got, tt.want)
		}
	}
}

// TestStatusNullAmounts: amounts Bitnovo sends as null stay in the result
// as null (the original server and the seed show the fields).
func TestStatusNullAmounts(t *testing.T) {
	api := newStub()
	const id = "00000000-0000-4000-8000-000000000042"
	api.info[id] = &bitnovo.OrderInfo{Identifier: id, Status: "NR", FiatAmount: "10.00", Fiat: "EUR", ConfirmedAmount: "0"}
	svc := New(api, store.NewMemory(), Options{})
	res, err := svc.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"crypto_amount", "network_fee", "unconfirmed_amount"} {
		v, ok := m[f]
		if !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", f, v, ok)
		}
	}
	if m["confirmed_amount"] != "0" {
		t.Errorf("confirmed_amount = %v, want \"0\" (no currency chosen yet)", m["confirmed_amount"])
	}
}

// TestReplayHasStatus: an idempotent replay shows the payment's current
// status, like the first answer did.
func TestReplayHasStatus(t *testing.T) {
	api := newStub()
	svc := New(api, store.NewMemory(), Options{})
	ctx := context.Background()
	first, err := svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: "order-1"})
	if err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	api.info[first.Identifier] = &bitnovo.OrderInfo{Identifier: first.Identifier, Status: "PE"}
	api.mu.Unlock()
	again, err := svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: "order-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.IdempotentReplay || again.Identifier != first.Identifier || again.Status != "PE" {
		t.Fatalf("replay = %+v, want the same payment with status PE", again)
	}
}

func TestCacheInfoOriginalNames(t *testing.T) {
	api := newStub()
	clk := &clock{}
	svc := New(api, store.NewMemory(), Options{Now: clk.now})
	ctx := context.Background()
	if _, err := svc.Catalog(ctx, nil); err != nil {
		t.Fatal(err)
	}
	clk.add(90e9)
	res, err := svc.Catalog(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ci := res.CacheInfo; ci.Age != 90000 || ci.AgeSeconds != 90 || !ci.Valid || ci.Stale {
		t.Fatalf("cache_info = %+v, want age 90000 ms, valid", ci)
	}
}
