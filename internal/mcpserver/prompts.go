package mcpserver

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
)

// Prompts are ready-made requests a user picks in the client's UI (slash
// commands in most clients). Each one turns a few arguments into a user
// message that tells the agent which tools to use and what to show, so the
// common tasks go right the first time. Argument values can be completed
// (completion/complete): currency symbols from the live catalog, and the
// product type of the Bitrefill category template.

// Prompt names.
const (
	PromptRequestPayment      = "request_payment"
	PromptCheckPayment        = "check_payment"
	PromptAcceptedCurrencies  = "accepted_currencies"
	maxCompletionValues       = 100 // the spec's cap per answer
	completionCatalogDeadline = 3 * time.Second
)

var (
	amountRE   = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,2})?$`)
	currencyRE = regexp.MustCompile(`^[A-Z0-9_]+$`) // ≤ 32 bytes, checked with len
)

// promptDefs returns the prompts in listing order.
func promptDefs() []*mcp.Prompt {
	return []*mcp.Prompt{
		{
			Name:  PromptRequestPayment,
			Title: "Request a crypto payment",
			Description: "Create a payment request for an amount in euros: a payment link the customer opens to pick a coin, " +
				"or an on-chain address and QR code when a cryptocurrency is named. Safe to retry: an order id becomes the idempotency key.",
			Arguments: []*mcp.PromptArgument{
				{Name: "amount_eur", Title: "Amount (EUR)", Description: "amount to charge in euros, e.g. 25 or 19.99", Required: true},
				{Name: "currency", Title: "Cryptocurrency", Description: "optional symbol such as BTC, ETH or USDC_ERC20; leave empty for a payment link where the customer chooses"},
				{Name: "description", Title: "What it is for", Description: "optional note stored with the payment, e.g. \"Invoice 1042\""},
				{Name: "order_id", Title: "Order id", Description: "optional unique id of this order; reused as idempotency key so a retry never charges twice"},
			},
		},
		{
			Name:        PromptCheckPayment,
			Title:       "Check a payment",
			Description: "Look up a payment's status and explain it: paid, waiting (and how much is still owed, until when), expired or failed, and what to do next.",
			Arguments: []*mcp.PromptArgument{
				{Name: "identifier", Title: "Payment identifier", Description: "the identifier returned when the payment was created", Required: true},
			},
		},
		{
			Name:        PromptAcceptedCurrencies,
			Title:       "Which cryptocurrencies can pay this?",
			Description: "List the cryptocurrencies accepted for an amount, with their limits and which ones need a memo or tag.",
			Arguments: []*mcp.PromptArgument{
				{Name: "amount_eur", Title: "Amount (EUR)", Description: "optional amount in euros; only coins whose limits allow it are listed"},
			},
		},
	}
}

// addPrompts registers the prompts on s.
func addPrompts(s *mcp.Server, d Deps) {
	handlers := map[string]func(args map[string]string) (string, error){
		PromptRequestPayment:     requestPaymentText,
		PromptCheckPayment:       checkPaymentText,
		PromptAcceptedCurrencies: acceptedCurrenciesText,
	}
	for _, p := range promptDefs() {
		build := handlers[p.Name]
		s.AddPrompt(p, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			text, err := build(req.Params.Arguments)
			if err != nil {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
			}
			if d.Sandbox {
				text += "\n\n(Sandbox mode: the payment is simulated and no real money moves; say so to the user.)"
			}
			return &mcp.GetPromptResult{
				Description: p.Description,
				Messages:    []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}},
			}, nil
		})
	}
}

// argument returns a trimmed argument; a required one must be present.
func argument(args map[string]string, name string, required bool) (string, error) {
	v := strings.TrimSpace(args[name])
	if v == "" && required {
		return "", fmt.Errorf("missing required argument %q", name)
	}
	return v, nil
}

func parseAmount(v string) (string, error) {
	v = strings.TrimSpace(v)
	if !amountRE.MatchString(v) {
		return "", fmt.Errorf("amount_eur %q must be a number of euros with at most 2 decimals, e.g. 25 or 19.99", v)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0.01 {
		return "", fmt.Errorf("amount_eur %q must be at least 0.01", v)
	}
	return v, nil
}

func requestPaymentText(args map[string]string) (string, error) {
	raw, err := argument(args, "amount_eur", true)
	if err != nil {
		return "", err
	}
	amount, err := parseAmount(raw)
	if err != nil {
		return "", err
	}
	currency := strings.ToUpper(strings.TrimSpace(args["currency"]))
	if currency != "" && (len(currency) > 32 || !currencyRE.MatchString(currency)) {
		return "", fmt.Errorf("currency %q must be a symbol such as BTC, ETH or USDC_ERC20", args["currency"])
	}
	desc := strings.TrimSpace(args["description"])
	if len([]rune(desc)) > 256 {
		return "", fmt.Errorf("description is longer than 256 characters")
	}
	orderID := strings.TrimSpace(args["order_id"])
	if len(orderID) > 200 {
		return "", fmt.Errorf("order_id is longer than 200 characters")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Request a payment of %s EUR", amount)
	if desc != "" {
		fmt.Fprintf(&b, " for %q", desc)
	}
	b.WriteString(".\n\n")
	if currency != "" {
		fmt.Fprintf(&b, "Use create_payment_onchain with amount_eur=%s and input_currency=%q. "+
			"If that symbol is not supported or the amount is outside its limits, say so, show the alternatives the error lists, and ask before choosing another coin.\n", amount, currency)
	} else {
		fmt.Fprintf(&b, "Use create_payment_link with amount_eur=%s, so the customer picks the coin on the payment page.\n", amount)
	}
	if desc != "" {
		fmt.Fprintf(&b, "Pass notes=%q.\n", desc)
	}
	if orderID != "" {
		fmt.Fprintf(&b, "Pass idempotency_key=%q, and reuse it unchanged if you have to retry.\n", orderID)
	} else {
		b.WriteString("Pick a unique idempotency_key for this request and reuse it unchanged if you have to retry, so the customer is never charged twice.\n")
	}
	if currency != "" {
		b.WriteString("\nThen show the customer the exact amount to send, the address, the tag/memo if there is one, the QR code, and when the payment expires (expires_at).")
	} else {
		b.WriteString("\nThen show the customer the payment link (web_url), its QR code, and when it expires.")
	}
	b.WriteString(" Offer to check whether it has been paid with get_payment_status.")
	return b.String(), nil
}

func checkPaymentText(args map[string]string) (string, error) {
	id, err := argument(args, "identifier", true)
	if err != nil {
		return "", err
	}
	if len(id) > 100 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("identifier %.20q is not a payment identifier", id)
	}
	return fmt.Sprintf("Check the payment %q with get_payment_status and tell me where it stands, in plain words:\n"+
		"- paid (is_completed): confirm it, with the amount received;\n"+
		"- waiting (requires_action): what the customer still has to send (remaining_amount if partly paid) and by when (expires_at);\n"+
		"- expired or failed (is_expired, is_failed): say so and offer to create a new payment, but do not create one without asking.\n"+
		"Only ask me to check again later if the status can still change (is_terminal is false).", id), nil
}

func acceptedCurrenciesText(args map[string]string) (string, error) {
	raw, _ := argument(args, "amount_eur", false)
	if raw == "" {
		return "List the cryptocurrencies customers can pay with, using list_currencies_catalog. " +
			"Group them by blockchain, give each one's minimum and maximum amount in EUR, and point out the ones that need a memo or tag (requires_memo).", nil
	}
	amount, err := parseAmount(raw)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Which cryptocurrencies can a customer use to pay %s EUR? Use list_currencies_catalog with filter_by_amount=%s. "+
		"Group them by blockchain and point out the ones that need a memo or tag (requires_memo). "+
		"If none qualifies, say which limits the amount falls outside of.", amount, amount), nil
}

// completions returns the completion/complete handler: currency symbols
// for request_payment's currency (from the catalog, narrowed to coins that
// accept amount_eur when it is already filled in), and the product type of
// the Bitrefill category template. Other arguments of known prompts and
// templates complete to nothing; unknown prompts and templates are an
// invalid-params error, as the spec asks.
func completions(d Deps) func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	// Only what New registered: the prompts come with the payments
	// toolset, the category template with the shop toolset.
	prompts := map[string]bool{}
	if d.Policy.Enabled(access.Payments) {
		for _, p := range promptDefs() {
			prompts[p.Name] = true
		}
	}
	shopOn := d.Shop != nil && d.Policy.Enabled(access.Shop)
	const categoryTemplate = "bitrefill://product-types/{productType}"
	return func(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
		ref, arg := req.Params.Ref, req.Params.Argument
		var ctxArgs map[string]string
		if req.Params.Context != nil {
			ctxArgs = req.Params.Context.Arguments
		}
		switch {
		case ref.Type == "ref/prompt" && prompts[ref.Name]:
			if ref.Name == PromptRequestPayment && arg.Name == "currency" {
				return complete(arg.Value, currencySymbols(ctx, d.Payments, ctxArgs["amount_eur"])), nil
			}
			return complete(arg.Value, nil), nil
		case ref.Type == "ref/resource" && shopOn && ref.URI == categoryTemplate:
			if arg.Name == "productType" {
				return complete(arg.Value, bitrefill.ProductTypes()), nil
			}
			return complete(arg.Value, nil), nil
		case ref.Type == "ref/prompt":
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", ref.Name)}
		default:
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("no completions for %s %q", ref.Type, ref.URI)}
		}
	}
}

// currencySymbols lists the catalog's symbols (cached by the payments
// service), only those accepting amount when it parses. Completion is
// best effort: a catalog failure completes to nothing.
func currencySymbols(ctx context.Context, svc *payments.Service, amount string) []string {
	if svc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, completionCatalogDeadline)
	defer cancel()
	var filter *float64
	if a, err := parseAmount(amount); err == nil {
		f, _ := strconv.ParseFloat(a, 64)
		filter = &f
	}
	cat, err := svc.Catalog(ctx, filter)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(cat.Currencies))
	for _, c := range cat.Currencies {
		out = append(out, c.Symbol)
	}
	return out
}

// complete keeps the candidates starting with value (case-insensitive),
// sorted, at most maxCompletionValues of them.
func complete(value string, candidates []string) *mcp.CompleteResult {
	prefix := strings.ToLower(strings.TrimSpace(value))
	values := []string{}
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), prefix) {
			values = append(values, c)
		}
	}
	slices.Sort(values)
	values = slices.Compact(values)
	total := len(values)
	if total > maxCompletionValues {
		values = values[:maxCompletionValues]
	}
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{
		Values: values, Total: total, HasMore: total > maxCompletionValues,
	}}
}
