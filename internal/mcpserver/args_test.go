package mcpserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// allToolsSession serves every tool (payments against the fake Bitnovo
// API, the shop, webhooks) to an in-memory client.
func allToolsSession(t *testing.T) (*mcp.ClientSession, []*mcp.Tool) {
	t.Helper()
	d := Deps{Version: "test", Payments: payments.New(fakeBitnovoAPI(t), store.NewMemory(), payments.Options{}), Shop: fullShop(t), Webhooks: &fakeWebhooks{}}
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	var tools []*mcp.Tool
	for _, r := range Tools(d) {
		def, err := r.definition()
		if err != nil {
			t.Fatal(err)
		}
		tools = append(tools, def)
	}
	return cs, tools
}

// stringArgs lists every string argument of a tool input schema as the
// arguments that carry v in it (nested in lists and objects as needed).
func stringArgs(s *jsonschema.Schema, v string) map[string]map[string]any {
	out := map[string]map[string]any{}
	var walk func(s *jsonschema.Schema, path string, wrap func(any) any)
	walk = func(s *jsonschema.Schema, path string, wrap func(any) any) {
		switch {
		case isType(s, "string"):
			out[path] = wrap(v).(map[string]any)
		case isType(s, "array") && s.Items != nil:
			walk(s.Items, path+"[]", func(x any) any { return wrap([]any{x}) })
		case isType(s, "object"):
			for k, p := range s.Properties {
				walk(p, join(path, k), func(x any) any { return wrap(map[string]any{k: x}) })
			}
		}
	}
	walk(s, "", func(x any) any { return x })
	return out
}

// TestEveryStringArgumentIsBounded: every string argument of every tool
// has a maxLength in its input schema.
func TestEveryStringArgumentIsBounded(t *testing.T) {
	_, tools := allToolsSession(t)
	for _, tool := range tools {
		var check func(s *jsonschema.Schema, path string)
		check = func(s *jsonschema.Schema, path string) {
			if isType(s, "string") && s.MaxLength == nil {
				t.Errorf("%s: %s has no maxLength", tool.Name, path)
			}
			for k, p := range s.Properties {
				check(p, join(path, k))
			}
			if s.Items != nil {
				check(s.Items, path+"[]")
			}
		}
		check(tool.InputSchema.(*jsonschema.Schema), "")
	}
}

// TestHugeArgumentSmallError: a 1 MB string in any argument of any tool
// gets a small error that quotes at most about 100 characters of it.
func TestHugeArgumentSmallError(t *testing.T) {
	cs, tools := allToolsSession(t)
	huge := strings.Repeat("B", 1<<20)
	n := 0
	for _, tool := range tools {
		for path, args := range stringArgs(tool.InputSchema.(*jsonschema.Schema), huge) {
			n++
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool.Name, Arguments: args})
			if err != nil {
				t.Errorf("%s %s: %v", tool.Name, path, err)
				continue
			}
			b, _ := json.Marshal(res)
			if !res.IsError || len(b) > 2000 || strings.Contains(string(b), strings.Repeat("B", 120)) {
				t.Errorf("%s %s: error %t, %d bytes: %.300s", tool.Name, path, res.IsError, len(b), b)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d string arguments found", n)
	}
}

// TestFriendlyArguments: every argument with a closed set of values takes
// its unambiguous forms, and refuses the rest in plain words with the value
// meant suggested; numbers sent as text are taken.
func TestFriendlyArguments(t *testing.T) {
	cs, _ := allToolsSession(t)
	link, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "create_payment_onchain", Arguments: map[string]any{"amount_eur": 20, "input_currency": "LTC", "include_qr": false}})
	if err != nil || link.IsError {
		t.Fatalf("create: %v %+v", err, link)
	}
	var created struct{ Identifier string }
	b, _ := json.Marshal(link.StructuredContent)
	_ = json.Unmarshal(b, &created)
	id := created.Identifier

	tests := []struct {
		tool string
		args map[string]any
		want string // "" succeeds; else a part of the INVALID_ARGUMENT (or other code's) message
		code string
	}{
		{"create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "btc", "include_qr": false}, "", ""},
		{"create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "Bitcoin", "include_qr": false}, "", ""},
		{"create_payment_onchain", map[string]any{"amount_eur": "20", "input_currency": "ltc", "fiat": "eur", "include_qr": false}, "", ""},
		{"create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "USDC", "include_qr": false}, "did you mean USDC_ERC20 or USDC_POLYGON?", "CURRENCY_NOT_SUPPORTED"},
		{"create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "Etherium", "include_qr": false}, "did you mean ETH?", "CURRENCY_NOT_SUPPORTED"},
		{"create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "bitcoin!", "include_qr": false}, "input_currency: not in the expected form: exact cryptocurrency symbol", "INVALID_ARGUMENT"},
		{"create_payment_link", map[string]any{"amount_eur": 20, "fiat": "usd", "include_qr": false}, "", ""},
		{"create_payment_link", map[string]any{"amount_eur": 20, "fiat": "U$D", "include_qr": false}, "fiat: not in the expected form: ISO 4217", "INVALID_ARGUMENT"},
		{"create_payment_link", map[string]any{"amount_eur": "twelve"}, "amount_eur: must be a number, such as 12.5 (got text)", "INVALID_ARGUMENT"},
		{"create_payment_link", map[string]any{"amount_eur": "12.5", "include_qr": "false"}, "", ""},
		{"generate_payment_qr", map[string]any{"identifier": id, "qr_type": "Payment-URI", "style": "BASIC", "size": "200"}, "", ""},
		{"generate_payment_qr", map[string]any{"identifier": id, "qr_type": "uri"}, "qr_type: \"uri\" is not one of address, payment_uri, both, gateway_url", "INVALID_ARGUMENT"},
		{"generate_payment_qr", map[string]any{"identifier": id, "qr_type": "paymnt_uri"}, "did you mean payment_uri?", "INVALID_ARGUMENT"},
		{"generate_payment_qr", map[string]any{"identifier": id, "qr_type": "gateway_url", "gateway_environment": "prod"}, "did you mean production?", "INVALID_ARGUMENT"},
		{"generate_payment_qr", map[string]any{"identifier": id, "qr_type": "gateway_url", "gateway_environment": "Testing"}, "", ""},
		{"wait_for_payment", map[string]any{"identifier": id, "timeout_seconds": "1", "target_statuses": []any{"pe"}}, "", ""},
		{"wait_for_payment", map[string]any{"identifier": id, "target_statuses": []any{"complete"}}, "target_statuses[]: \"complete\" is not one of", "INVALID_ARGUMENT"},
		{"create_invoice", map[string]any{"products": []any{map[string]any{"product_id": "x", "value": 5}}, "payment_method": "Lightning!"}, "did you mean lightning?", "INVALID_ARGUMENT"},
		{"get_webhook_events", map[string]any{"validated_only": "yes"}, "validated_only: must be true or false", "INVALID_ARGUMENT"},
		{"search", map[string]any{"query": "x", "country": "us", "limit": 2.5}, "must be a whole number", "INVALID_ARGUMENT"},
	}
	for _, tt := range tests {
		m, isErr := callJSON(t, cs, tt.tool, tt.args)
		e, _ := m["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if tt.want == "" {
			if isErr {
				t.Errorf("%s %v: %v", tt.tool, tt.args, m)
			}
			continue
		}
		if !isErr || e["code"] != tt.code || !strings.Contains(msg, tt.want) {
			t.Errorf("%s %v: %v; want %s containing %q", tt.tool, tt.args, m, tt.code, tt.want)
		}
		if strings.Contains(msg, "regular expression") || strings.Contains(msg, "^") {
			t.Errorf("%s %v: a regular expression in %q", tt.tool, tt.args, msg)
		}
	}
}
