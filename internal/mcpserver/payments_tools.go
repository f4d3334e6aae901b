package mcpserver

import (
	"context"
	"encoding/json"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
)

func ptr[T any](v T) *T { return &v }

// prop returns the schema of one property, failing loudly at start-up if a
// patch names a property the struct does not have.
func prop(s *jsonschema.Schema, name string) *jsonschema.Schema {
	p, ok := s.Properties[name]
	if !ok {
		panic("schema has no property " + name)
	}
	return p
}

func setDefault(s *jsonschema.Schema, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s.Default = b
}

// Shared argument constraints of both create tools.
func patchCreateCommon(s *jsonschema.Schema) {
	prop(s, "amount_eur").Minimum = ptr(0.01)
	prop(s, "amount_eur").Maximum = ptr(1e9)
	fiat := prop(s, "fiat")
	fiat.Pattern = `^[A-Z]{3}$`
	setDefault(fiat, "EUR")
	prop(s, "notes").MaxLength = ptr(256)
	setDefault(prop(s, "include_qr"), true)
	key := prop(s, "idempotency_key")
	key.MinLength, key.MaxLength = ptr(1), ptr(200)
}

const idempotencyKeyDoc = "unique key of this payment request (e.g. the order number): a retry with the same key and arguments " +
	"returns the same payment, not a second one; other arguments fail with IDEMPOTENCY_CONFLICT"

type createOnchainArgs struct {
	AmountEUR      float64 `json:"amount_eur" jsonschema:"amount to charge, in the fiat currency (EUR by default); at least 0.01, at most 2 decimals"`
	InputCurrency  string  `json:"input_currency" jsonschema:"exact cryptocurrency symbol from list_currencies_catalog, e.g. BTC, ETH, USDC_ERC20, or test coins BTC_TEST, ETH_TEST, USDC_ETH_TEST"`
	Fiat           string  `json:"fiat,omitempty" jsonschema:"ISO 4217 fiat currency of amount_eur"`
	Notes          string  `json:"notes,omitempty" jsonschema:"free-text note stored with the payment"`
	IncludeQR      bool    `json:"include_qr,omitempty" jsonschema:"include QR codes of the address and payment URI"`
	IdempotencyKey string  `json:"idempotency_key,omitempty" jsonschema:"optional: a unique string for this payment request (for example the order number); retrying with the same key and arguments returns the same payment"`
}

func createPaymentOnchain(svc *payments.Service) Tool[createOnchainArgs, payments.OnchainResult] {
	return Tool[createOnchainArgs, payments.OnchainResult]{
		Toolset: access.Payments,
		Def: mcp.Tool{
			Name:  "create_payment_onchain",
			Title: "Create on-chain crypto payment",
			Description: "Create a payment in ONE SPECIFIC cryptocurrency and get its blockchain address, payment URI (address + amount) and QR codes.\n\n" +
				"DECISION RULE: use this tool ONLY when the user explicitly names a cryptocurrency (Bitcoin, BTC, Ethereum, ETH, USDC, ...), " +
				"e.g. \"Create a Bitcoin payment for 50 euros\", \"I need a USDC QR for 25 euros\". " +
				"If no cryptocurrency is mentioned, use create_payment_link instead (the default).\n\n" +
				"The payment expires: its timer starts immediately, so always tell the user expires_at. " +
				"For XRP, XLM and ALGO the customer must include tag_memo. Check amounts and symbols with list_currencies_catalog first if unsure. " +
				"Pass idempotency_key when retrying a request that may have failed, so no second payment is created. " +
				"No money moves until the customer pays. Returns identifier, address, payment_uri, expected_input_amount (the crypto amount, exact decimal text), " +
				"expires_at and the QR codes (also attached as images). Next: get_payment_status or wait_for_payment with the identifier. " +
				"Errors: CURRENCY_NOT_SUPPORTED (details list the supported symbols), AMOUNT_TOO_LOW, AMOUNT_TOO_HIGH, IDEMPOTENCY_CONFLICT, PAYMENT_OUTCOME_UNKNOWN.",
			Annotations: &mcp.ToolAnnotations{
				Title: "Create on-chain crypto payment", DestructiveHint: ptr(false), OpenWorldHint: ptr(true),
			},
		},
		Patch: func(s *jsonschema.Schema) {
			patchCreateCommon(s)
			cur := prop(s, "input_currency")
			cur.Pattern, cur.MaxLength = `^[A-Z0-9_]+$`, ptr(40)
			prop(s, "idempotency_key").Description = idempotencyKeyDoc
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a createOnchainArgs) (Output[payments.OnchainResult], error) {
			r, err := svc.CreateOnchain(ctx, payments.OnchainInput{
				AmountEUR: a.AmountEUR, InputCurrency: a.InputCurrency, Fiat: a.Fiat, Notes: a.Notes,
				IncludeQR: a.IncludeQR, IdempotencyKey: a.IdempotencyKey,
			})
			if err != nil {
				return Output[payments.OnchainResult]{}, err
			}
			return Output[payments.OnchainResult]{Value: *r, Images: r.Images}, nil
		},
	}
}

type createLinkArgs struct {
	AmountEUR      float64 `json:"amount_eur" jsonschema:"amount to charge, in the fiat currency (EUR by default); at least 0.01, at most 2 decimals"`
	Fiat           string  `json:"fiat,omitempty" jsonschema:"ISO 4217 fiat currency of amount_eur"`
	URLOK          string  `json:"url_ok,omitempty" jsonschema:"http(s) URL the customer is sent to after paying; only if the user asked for redirects, never invent one"`
	URLKO          string  `json:"url_ko,omitempty" jsonschema:"http(s) URL the customer is sent to if the payment fails; only if the user asked for it"`
	Notes          string  `json:"notes,omitempty" jsonschema:"free-text note stored with the payment"`
	IncludeQR      bool    `json:"include_qr,omitempty" jsonschema:"include a QR code of the payment URL"`
	IdempotencyKey string  `json:"idempotency_key,omitempty" jsonschema:"optional: a unique string for this payment request; retrying with the same key and arguments returns the same payment"`
}

func createPaymentLink(svc *payments.Service) Tool[createLinkArgs, payments.LinkResult] {
	return Tool[createLinkArgs, payments.LinkResult]{
		Toolset: access.Payments,
		Def: mcp.Tool{
			Name:  "create_payment_link",
			Title: "Create crypto payment link",
			Description: "Create a web payment link (web_url) where the customer chooses which cryptocurrency to pay with. THIS IS THE DEFAULT payment tool.\n\n" +
				"DECISION RULE: if the user does NOT explicitly name a cryptocurrency, use this tool, e.g. \"Create a payment for 50 euros\", " +
				"\"dame el qr para un pago de 24 euros\". " +
				"Only when the user names a specific cryptocurrency use create_payment_onchain.\n\n" +
				"Share web_url (or the QR code) with the customer. " +
				"Pass idempotency_key when retrying a request that may have failed, so no second payment is created. " +
				"No money moves until the customer pays; it expires, so tell the user expires_at. " +
				"Returns identifier, web_url, expires_at and qr_web_url (also attached as an image). " +
				"Next: get_payment_status or wait_for_payment with the identifier. " +
				"Errors: INVALID_REDIRECT_URLS, AMOUNT_TOO_LOW, IDEMPOTENCY_CONFLICT, PAYMENT_OUTCOME_UNKNOWN (do not retry without the same idempotency_key).",
			Annotations: &mcp.ToolAnnotations{
				Title: "Create crypto payment link", DestructiveHint: ptr(false), OpenWorldHint: ptr(true),
			},
		},
		Patch: func(s *jsonschema.Schema) {
			patchCreateCommon(s)
			for _, f := range []string{"url_ok", "url_ko"} {
				p := prop(s, f)
				p.Format, p.Pattern, p.MaxLength = "uri", `^https?://`, ptr(2000)
			}
			prop(s, "idempotency_key").Description = idempotencyKeyDoc
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a createLinkArgs) (Output[payments.LinkResult], error) {
			r, err := svc.CreateLink(ctx, payments.LinkInput{
				AmountEUR: a.AmountEUR, Fiat: a.Fiat, URLOK: a.URLOK, URLKO: a.URLKO, Notes: a.Notes,
				IncludeQR: a.IncludeQR, IdempotencyKey: a.IdempotencyKey,
			})
			if err != nil {
				return Output[payments.LinkResult]{}, err
			}
			return Output[payments.LinkResult]{Value: *r, Images: r.Images}, nil
		},
	}
}

type statusArgs struct {
	Identifier string `json:"identifier" jsonschema:"payment identifier (UUID) returned when the payment was created"`
}

func getPaymentStatus(svc *payments.Service) Tool[statusArgs, payments.StatusResult] {
	return Tool[statusArgs, payments.StatusResult]{
		Toolset: access.Payments,
		Def: mcp.Tool{
			Name:  "get_payment_status",
			Title: "Get payment status",
			Description: "Get the current status of a payment from Bitnovo Pay.\n" +
				"Statuses: NR (Not Ready: created, no crypto chosen yet), PE (Pending: waiting for the customer's payment), " +
				"AC (Awaiting Completion: detected in the mempool), IA (Insufficient Amount: underpaid, remaining_amount says how much is missing), " +
				"OC (Out of Condition: paid late or wrong amount), CO (Completed: confirmed on the blockchain), CA (Cancelled), EX (Expired), FA (Failed). " +
				"requires_action means the customer still has to pay; is_terminal means the status will not change any more. Exchange rates are deliberately not shown. " +
				"Read-only; if Bitnovo cannot be reached it answers from the latest verified webhook (source: webhook). " +
				"To wait for a payment use wait_for_payment instead of calling this in a loop. Errors: PAYMENT_NOT_FOUND, INVALID_ARGUMENT, API_TIMEOUT.",
			Annotations: &mcp.ToolAnnotations{Title: "Get payment status", ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(true)},
		},
		Patch: func(s *jsonschema.Schema) {
			id := prop(s, "identifier")
			id.Format, id.Pattern = "uuid", uuidPattern
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a statusArgs) (Output[payments.StatusResult], error) {
			return value(svc.Status(ctx, a.Identifier))
		},
	}
}

const uuidPattern = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`

type catalogArgs struct {
	FilterByAmount *float64 `json:"filter_by_amount,omitempty" jsonschema:"optional amount in EUR: only list currencies whose minimum and maximum allow it"`
}

func listCurrenciesCatalog(svc *payments.Service) Tool[catalogArgs, payments.CatalogResult] {
	return Tool[catalogArgs, payments.CatalogResult]{
		Toolset: access.Payments,
		Def: mcp.Tool{
			Name:  "list_currencies_catalog",
			Title: "List supported cryptocurrencies",
			Description: "List the cryptocurrencies this merchant can accept, with minimum and maximum amounts (EUR), network and whether a memo/tag is needed. " +
				"Use it to answer \"What cryptocurrencies are available?\" or \"Which coins accept 50 euros?\" (filter_by_amount), and before create_payment_onchain when unsure of a symbol. " +
				"Read-only, cached for 5 minutes (a stale list is served if Bitnovo is down; see cache_info). " +
				"Amounts are exact decimal text; max_amount null means no limit. " +
				"Next: create_payment_onchain with a symbol from this list. Errors: UPSTREAM_API_ERROR, API_TIMEOUT.",
			Annotations: &mcp.ToolAnnotations{Title: "List supported cryptocurrencies", ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(true)},
		},
		Patch: func(s *jsonschema.Schema) {
			p := prop(s, "filter_by_amount")
			p.Minimum, p.Maximum = ptr(0.01), ptr(1e9)
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a catalogArgs) (Output[payments.CatalogResult], error) {
			return value(svc.Catalog(ctx, a.FilterByAmount))
		},
	}
}

type qrArgs struct {
	Identifier         string `json:"identifier" jsonschema:"payment identifier (UUID)"`
	QRType             string `json:"qr_type,omitempty" jsonschema:"address: the bare address (customer types the amount); payment_uri: address and amount (recommended); both: address and payment_uri; gateway_url: the payment page URL"`
	Size               int    `json:"size,omitempty" jsonschema:"image width and height in pixels (1000+ for print)"`
	Style              string `json:"style,omitempty" jsonschema:"basic: plain QR; branded: currency or Bitnovo Pay logo in the centre"`
	Branding           bool   `json:"branding,omitempty" jsonschema:"show the Bitnovo Pay mark below the code"`
	GatewayEnvironment string `json:"gateway_environment,omitempty" jsonschema:"only for gateway_url: build the URL on this environment's host instead of using the payment's own web_url"`
}

func generatePaymentQR(svc *payments.Service) Tool[qrArgs, payments.QRResult] {
	return Tool[qrArgs, payments.QRResult]{
		Toolset: access.Payments,
		Def: mcp.Tool{
			Name:  "generate_payment_qr",
			Title: "Generate payment QR code",
			Description: "Generate QR codes (PNG) for an existing payment: a different size (\"I need a 1000px QR\"), a different style (\"QR without branding\"), " +
				"only the address or only the payment URI, QR codes after include_qr=false, or a QR of the payment page (gateway_url) for payment links. " +
				"Creates and changes nothing; works for payments created before a restart. The images are returned as image content and as data URLs. " +
				"Errors: PAYMENT_EXPIRED (create a new payment), QR_NOT_AVAILABLE (cancelled or failed payment, or no address/URL for the asked qr_type), PAYMENT_NOT_FOUND.",
			Annotations: &mcp.ToolAnnotations{Title: "Generate payment QR code", ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(true)},
		},
		Patch: func(s *jsonschema.Schema) {
			id := prop(s, "identifier")
			id.Format, id.Pattern = "uuid", uuidPattern
			t := prop(s, "qr_type")
			t.Enum = []any{payments.QRAddress, payments.QRPaymentURI, payments.QRBoth, payments.QRGateway}
			setDefault(t, payments.QRBoth)
			size := prop(s, "size")
			size.Minimum, size.Maximum = ptr(float64(qr.MinSize)), ptr(float64(qr.MaxSize))
			setDefault(size, qr.DefaultSize)
			st := prop(s, "style")
			st.Enum = []any{string(qr.StyleBasic), string(qr.StyleBranded)}
			setDefault(st, string(qr.StyleBranded))
			setDefault(prop(s, "branding"), true)
			prop(s, "gateway_environment").Enum = []any{"development", "testing", "production"}
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a qrArgs) (Output[payments.QRResult], error) {
			r, err := svc.QR(ctx, payments.QRInput{
				Identifier: a.Identifier, Type: a.QRType, Size: a.Size, Style: a.Style, Branding: a.Branding,
				GatewayEnvironment: a.GatewayEnvironment,
			})
			if err != nil {
				return Output[payments.QRResult]{}, err
			}
			return Output[payments.QRResult]{Value: *r, Images: r.Images}, nil
		},
	}
}
