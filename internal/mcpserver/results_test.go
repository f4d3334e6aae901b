package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// toolResult is one call of everyToolResult.
type toolResult struct {
	name, label string // tool, and what the call shows
	res         *mcp.CallToolResult
}

// everyToolResult calls every tool of the full server (payments, webhooks,
// shop with purchases) the way an agent typically does, with its defaults,
// plus a few failures, and fails if a tool was left out.
func everyToolResult(t *testing.T) (*compatEnv, []toolResult) {
	t.Helper()
	e := newCompatEnv(t)
	ctx := context.Background()
	var out []toolResult
	call := func(label, name string, args map[string]any) map[string]any {
		t.Helper()
		res, err := e.cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		out = append(out, toolResult{name: name, label: label, res: res})
		var m map[string]any
		if res.IsError {
			_ = json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &m)
			return m
		}
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &m)
		return m
	}
	onchain := call("create_payment_onchain (defaults)", "create_payment_onchain", map[string]any{"amount_eur": 50, "input_currency": "BTC"})
	call("create_payment_onchain (XRP: a URI with &dt=)", "create_payment_onchain", map[string]any{"amount_eur": 50, "input_currency": "XRP"})
	call("create_payment_onchain (include_qr false)", "create_payment_onchain", map[string]any{"amount_eur": 50, "input_currency": "BTC", "include_qr": false})
	link := call("create_payment_link (defaults)", "create_payment_link", map[string]any{"amount_eur": 10})
	id, _ := onchain["identifier"].(string)
	call("get_payment_status", "get_payment_status", map[string]any{"identifier": id})
	call("get_payment_status (not found)", "get_payment_status", map[string]any{"identifier": "00000000-0000-4000-8000-00000000dead"})
	call("generate_payment_qr (defaults)", "generate_payment_qr", map[string]any{"identifier": id})
	call("wait_for_payment (already PE)", "wait_for_payment", map[string]any{"identifier": link["identifier"], "target_statuses": []string{"PE", "NR"}})
	call("list_currencies_catalog (defaults)", "list_currencies_catalog", nil)
	call("get_webhook_events", "get_webhook_events", nil)
	call("get_webhook_url", "get_webhook_url", nil)
	call("get_tunnel_status", "get_tunnel_status", nil)
	call("search (defaults)", "search", map[string]any{"query": "*"})
	call("search (AT&T: <, &)", "search", map[string]any{"query": "AT&T <b>"})
	call("detail", "detail", map[string]any{"id": "steam-usa"})
	call("categories", "categories", nil)
	call("ping", "ping", nil)
	call("get_account_balance", "get_account_balance", nil)
	created := call("create_invoice", "create_invoice", map[string]any{"payment_method": "balance",
		"products": []map[string]any{{"product_id": "amazon_com-usa", "value": 10}}})
	inv, _ := created["invoice"].(map[string]any)
	invID, _ := inv["id"].(string)
	quote := call("pay_invoice (quote)", "pay_invoice", map[string]any{"id": invID})
	call("pay_invoice (confirmed)", "pay_invoice", map[string]any{"id": invID, "confirmation_token": quote["confirmation_token"]})
	call("get_invoices", "get_invoices", nil)
	call("get_invoice", "get_invoice", map[string]any{"id": invID})
	orders := call("get_orders", "get_orders", nil)
	list, _ := orders["data"].([]any)
	if len(list) == 0 {
		t.Fatal("no orders after a purchase")
	}
	orderID, _ := list[0].(map[string]any)["id"].(string)
	call("get_order", "get_order", map[string]any{"id": orderID})
	call("unseal_order", "unseal_order", map[string]any{"id": orderID})

	tools, err := e.cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if !slices.ContainsFunc(out, func(r toolResult) bool { return r.name == tool.Name }) {
			t.Errorf("tool %s is not called: add it to everyToolResult", tool.Name)
		}
	}
	return e, out
}

// wireSize is the size of v as the go-sdk writes it in a JSON-RPC message
// (its encoder does not escape HTML; content blocks marshal themselves).
func wireSize(t *testing.T, v any) int {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Len() - 1
}

// TestNoHTMLEscapingInResults: the text an agent reads is the text itself,
// in every tool's result: "&" in a payment URI, "<untrusted>" markers, a
// query with "<" and "&".
func TestNoHTMLEscapingInResults(t *testing.T) {
	_, results := everyToolResult(t)
	sawAmp, sawLT := false, false
	for _, r := range results {
		for i, c := range r.res.Content {
			tc, ok := c.(*mcp.TextContent)
			if !ok {
				continue
			}
			for _, esc := range []string{`\u0026`, `\u003c`, `\u003e`} {
				if strings.Contains(tc.Text, esc) {
					t.Errorf("%s: text block %d is HTML-escaped (%s): %.300s", r.label, i, esc, tc.Text)
				}
			}
			if !json.Valid([]byte(tc.Text)) {
				t.Errorf("%s: text block %d is not JSON: %.200s", r.label, i, tc.Text)
			}
			sawAmp = sawAmp || strings.Contains(tc.Text, "&")
			sawLT = sawLT || strings.Contains(tc.Text, "<")
		}
	}
	if !sawAmp || !sawLT {
		t.Errorf("no result carried a literal & (%v) or < (%v): the check proves nothing", sawAmp, sawLT)
	}
}

// TestResultSizes measures what every tool's result costs on the wire, and
// tools/list, against budgets (sizes are not timings: they vary only with
// the fakes' random ids, by tens of bytes). -v prints the README's table.
func TestResultSizes(t *testing.T) {
	e, results := everyToolResult(t)
	tools, err := e.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range results {
		size := wireSize(t, r.res)
		rows = append(rows, fmt.Sprintf("| %s | %d |", r.label, size))
	}
	list := wireSize(t, tools)
	var schemas int
	for _, tool := range tools.Tools {
		if tool.OutputSchema != nil {
			schemas += wireSize(t, tool.OutputSchema)
		}
	}
	rows = append(rows, fmt.Sprintf("| tools/list, purchases enabled (%d tools; output schemas %d) | %d |", len(tools.Tools), schemas, list))

	// The sandbox's default server: shop purchases off (SHOP_PURCHASES_ENABLED).
	c, err := bitrefill.New(bitrefill.Options{APIID: "id", APISecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	cs := connectInMemory(t, Deps{Payments: payments.New(nil, store.NewMemory(), payments.Options{Sandbox: true}), Sandbox: true,
		Shop: shop.New(c, store.NewMemory(), shop.Options{Sandbox: true}), Webhooks: &fakeWebhooks{}})
	defaults, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defaultList := wireSize(t, defaults)
	var defaultSchemas int
	for _, tool := range defaults.Tools {
		if tool.OutputSchema != nil {
			defaultSchemas += wireSize(t, tool.OutputSchema)
		}
	}
	rows = append(rows, fmt.Sprintf("| tools/list, defaults (%d tools; output schemas %d) | %d |", len(defaults.Tools), defaultSchemas, defaultList))
	t.Logf("result sizes in bytes:\n%s", strings.Join(rows, "\n"))

	size := func(label string) int {
		for _, r := range results {
			if r.label == label {
				return wireSize(t, r.res)
			}
		}
		t.Fatalf("no result %q", label)
		return 0
	}
	budgets := []struct {
		what      string
		got, want int
	}{
		{"create_payment_onchain with defaults", size("create_payment_onchain (defaults)"), 20 << 10},
		// 25 products (the original server's default page), each in
		// structuredContent and in the text block: 14.5 KB of JSON twice.
		{"search with defaults", size("search (defaults)"), 32 << 10},
		// Issue 20: 40 KB. Output schemas carry the shape only
		// (compactOutput); descriptions say what the input schema does not.
		{"tools/list with defaults", defaultList, 40 << 10},
	}
	for _, b := range budgets {
		if b.got > b.want {
			t.Errorf("%s: %d bytes, budget %d", b.what, b.got, b.want)
		}
	}
}
