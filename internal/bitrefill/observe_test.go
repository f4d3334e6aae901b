package bitrefill_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
)

func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var got []string
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, func(o *bitrefill.Options) {
		o.Observe = func(endpoint, outcome string, attempt int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, endpoint+" "+outcome)
		}
	})
	ctx := context.Background()
	if _, err := c.Search(ctx, bitrefill.SearchParams{Query: "amazon"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Balance(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetOrder(ctx, "no-such-order-id")
	_, _ = c.ProductDetail(ctx, "no-such-product")
	for _, want := range []string{
		"GET /api/omni ok",
		"GET /v2/accounts/balance ok",
		"GET /v2/orders/{id} http_4xx",
		"GET /api/product/{id} http_4xx",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing observation %q in %q", want, got)
		}
	}
	for _, g := range got {
		for _, id := range []string{"no-such", "amazon"} {
			if strings.Contains(g, id) {
				t.Errorf("an id leaked into the endpoint label: %q", g)
			}
		}
	}
}
