package mcpserver

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// fakeBitnovoAPI is a Bitnovo client talking to a fake Bitnovo API.
func fakeBitnovoAPI(t *testing.T) *bitnovo.Client {
	t.Helper()
	const device = "5a4d0b0e-0000-4000-8000-000000000001"
	fake := httptest.NewServer(fakebitnovo.New(fakebitnovo.Options{DeviceID: device}))
	t.Cleanup(fake.Close)
	api, err := bitnovo.New(fake.URL, device, bitnovo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.CloseIdleConnections)
	return api
}

// promptSession serves New(deps) to an in-memory client. The payments
// service talks to the fake Bitnovo API.
func promptSession(t *testing.T, sandbox bool, withShop bool) *mcp.ClientSession {
	t.Helper()
	api := fakeBitnovoAPI(t)
	d := Deps{Version: "test", Sandbox: sandbox, Payments: payments.New(api, store.NewMemory(), payments.Options{Sandbox: sandbox})}
	if withShop {
		d.Shop = fullShop(t)
	}
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
	return cs
}

func TestPromptsListAndCapabilities(t *testing.T) {
	cs := promptSession(t, false, false)
	caps := cs.InitializeResult().Capabilities
	if caps.Prompts == nil || caps.Completions == nil {
		t.Errorf("capabilities lack prompts or completions: %+v", caps)
	}
	res, err := cs.ListPrompts(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range res.Prompts {
		names = append(names, p.Name)
		if p.Description == "" || p.Title == "" {
			t.Errorf("%s: no title or description", p.Name)
		}
	}
	if diff := cmp.Diff([]string{PromptAcceptedCurrencies, PromptCheckPayment, PromptRequestPayment}, names); diff != "" {
		t.Errorf("prompts (-want +got):\n%s", diff)
	}
}

func TestGetPrompt(t *testing.T) {
	cs := promptSession(t, true, false)
	for _, tc := range []struct {
		name    string
		args    map[string]string
		want    []string // substrings of the message
		notWant []string
		err     string
	}{
		{name: PromptRequestPayment, args: map[string]string{"amount_eur": "25"},
			want:    []string{"create_payment_link with amount_eur=25", "idempotency_key", "web_url", "Sandbox mode"},
			notWant: []string{"create_payment_onchain"}},
		{name: PromptRequestPayment, args: map[string]string{"amount_eur": " 19.99 ", "currency": "btc", "description": "Invoice 1042", "order_id": "ord-1042"},
			want: []string{`create_payment_onchain with amount_eur=19.99 and input_currency="BTC"`, `notes="Invoice 1042"`, `idempotency_key="ord-1042"`, "expires_at"}},
		{name: PromptRequestPayment, args: map[string]string{}, err: `missing required argument "amount_eur"`},
		{name: PromptRequestPayment, args: map[string]string{"amount_eur": "12.345"}, err: "at most 2 decimals"},
		{name: PromptRequestPayment, args: map[string]string{"amount_eur": "0"}, err: "at least 0.01"},
		{name: PromptRequestPayment, args: map[string]string{"amount_eur": "5", "currency": "BTC; DROP"}, err: "must be a symbol"},
		{name: PromptRequestPayment, args: map[string]string{"amount_eur": "5", "description": strings.Repeat("x", 257)}, err: "longer than 256"},
		{name: PromptCheckPayment, args: map[string]string{"identifier": "abc-123"},
			want: []string{`get_payment_status`, `"abc-123"`, "remaining_amount", "do not create one without asking"}},
		{name: PromptCheckPayment, args: nil, err: `missing required argument "identifier"`},
		{name: PromptCheckPayment, args: map[string]string{"identifier": "a\nb"}, err: "not a payment identifier"},
		{name: PromptAcceptedCurrencies, args: nil, want: []string{"list_currencies_catalog", "requires_memo"}, notWant: []string{"filter_by_amount"}},
		{name: PromptAcceptedCurrencies, args: map[string]string{"amount_eur": "50"}, want: []string{"filter_by_amount=50"}},
		{name: "no_such_prompt", err: "unknown prompt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: tc.name, Arguments: tc.args})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Messages) != 1 || res.Messages[0].Role != "user" {
				t.Fatalf("messages: %+v", res.Messages)
			}
			text := res.Messages[0].Content.(*mcp.TextContent).Text
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("message lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("message has %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	cs := promptSession(t, false, true)
	for _, tc := range []struct {
		name string
		ref  mcp.CompleteReference
		arg  string
		val  string
		ctx  map[string]string
		want []string
		err  string
	}{
		{name: "currency prefix", ref: mcp.CompleteReference{Type: "ref/prompt", Name: PromptRequestPayment}, arg: "currency", val: "btc",
			want: []string{"BTC", "BTC_TEST"}},
		{name: "currency for an amount", ref: mcp.CompleteReference{Type: "ref/prompt", Name: PromptRequestPayment}, arg: "currency", val: "BTC",
			ctx: map[string]string{"amount_eur": "1"}, want: []string{"BTC_TEST"}},
		{name: "currency above a maximum", ref: mcp.CompleteReference{Type: "ref/prompt", Name: PromptRequestPayment}, arg: "currency", val: "usd",
			ctx: map[string]string{"amount_eur": "2000"}, want: []string{"USDC_ERC20", "USDC_POLYGON", "USDT_ERC20", "USDT_TRC20"}},
		{name: "argument without completions", ref: mcp.CompleteReference{Type: "ref/prompt", Name: PromptCheckPayment}, arg: "identifier", val: "a",
			want: []string{}},
		{name: "product type", ref: mcp.CompleteReference{Type: "ref/resource", URI: "bitrefill://product-types/{productType}"}, arg: "productType", val: "g",
			want: []string{"giftcards"}},
		{name: "unknown prompt", ref: mcp.CompleteReference{Type: "ref/prompt", Name: "test_prompt_with_arguments"}, arg: "arg1", val: "x",
			err: "unknown prompt"},
		{name: "unknown template", ref: mcp.CompleteReference{Type: "ref/resource", URI: "test://template/{id}"}, arg: "id", val: "x",
			err: "no completions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &mcp.CompleteParams{Ref: &tc.ref, Argument: mcp.CompleteParamsArgument{Name: tc.arg, Value: tc.val}}
			if tc.ctx != nil {
				p.Context = &mcp.CompleteContext{Arguments: tc.ctx}
			}
			res, err := cs.Complete(context.Background(), p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Completion.Values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if res.Completion.Total != len(tc.want) || res.Completion.HasMore {
				t.Errorf("total %d hasMore %t", res.Completion.Total, res.Completion.HasMore)
			}
		})
	}
}

func TestCompleteCaps(t *testing.T) {
	var many []string
	for i := range 150 {
		many = append(many, strings.Repeat("a", 1+i%3)+string(rune('A'+i%26))+strings.Repeat("z", i/26))
	}
	res := complete("", many)
	if len(res.Completion.Values) != maxCompletionValues || !res.Completion.HasMore || res.Completion.Total <= maxCompletionValues {
		t.Errorf("got %d values, total %d, hasMore %t", len(res.Completion.Values), res.Completion.Total, res.Completion.HasMore)
	}
}
