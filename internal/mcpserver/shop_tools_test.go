package mcpserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// fullShop is a shop with every tool listed (credentials and purchases on).
func fullShop(t *testing.T) *shop.Service {
	t.Helper()
	c, err := bitrefill.New(bitrefill.Options{APIID: "id", APISecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return shop.New(c, store.NewMemory(), shop.Options{PurchasesEnabled: true, MaxOrderCents: 5000, DailyLimitCents: 20000})
}

func TestShopToolGating(t *testing.T) {
	names := func(svc *shop.Service) []string {
		var out []string
		for _, r := range shopTools(svc) {
			out = append(out, r.name())
		}
		return out
	}
	noCreds, _ := bitrefill.New(bitrefill.Options{})
	creds, _ := bitrefill.New(bitrefill.Options{APIID: "id", APISecret: "secret"})
	st := store.NewMemory()
	tests := []struct {
		svc  *shop.Service
		want string
	}{
		{nil, ""},
		{shop.New(noCreds, st, shop.Options{PurchasesEnabled: true}), "search detail categories ping"},
		{shop.New(creds, st, shop.Options{}), "search detail categories get_invoices get_invoice get_orders get_order get_account_balance ping"},
		{shop.New(creds, st, shop.Options{PurchasesEnabled: true}), "search detail categories create_invoice get_invoices get_invoice pay_invoice get_orders get_order unseal_order get_account_balance ping"},
	}
	for _, tt := range tests {
		got := ""
		for i, n := range names(tt.svc) {
			if i > 0 {
				got += " "
			}
			got += n
		}
		if got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// TestShopSchemasStrict: no tool accepts an argument that could change a limit.
func TestShopSchemasStrict(t *testing.T) {
	for _, r := range shopTools(fullShop(t)) {
		def, err := r.definition()
		if err != nil {
			t.Fatal(err)
		}
		in := def.InputSchema.(interface{ MarshalJSON() ([]byte, error) })
		b, _ := in.MarshalJSON()
		if !strings.Contains(string(b), `"additionalProperties":false`) {
			t.Errorf("%s: input schema is not strict: %s", def.Name, b)
		}
		for _, bad := range []string{"max_order", "daily_limit", "limit_eur"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s: input schema mentions %s", def.Name, bad)
			}
		}
	}
}

// TestCategoriesPureMap: the result is only the type → categories map; the
// hint travels in _meta.
func TestCategoriesPureMap(t *testing.T) {
	svc := payments.New(nil, store.NewMemory(), payments.Options{})
	cs := connectInMemory(t, Deps{Payments: svc, Shop: fullShop(t)})
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "categories"})
	if err != nil || res.IsError {
		t.Fatalf("%v %v", res, err)
	}
	var m map[string][]string
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a map of string arrays: %s", b)
	}
	want := bitrefill.ProductTypes()
	if len(m) != len(want) {
		t.Fatalf("keys %v, want exactly %v", m, want)
	}
	for _, k := range want {
		if len(m[k]) == 0 {
			t.Errorf("%s: no categories", k)
		}
	}
	var text map[string]any
	if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &text); err != nil || len(text) != len(want) {
		t.Fatalf("text block is not the same pure map: %v", err)
	}
	if res.Meta[metaKeyHint] != shop.CategoriesHint {
		t.Errorf("_meta = %v", res.Meta)
	}
}
