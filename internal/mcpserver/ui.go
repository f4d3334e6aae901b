package mcpserver

// MCP Apps (the io.modelcontextprotocol/ui extension, stable 2026-01-26):
// interactive cards a host renders in the conversation. A tool names its
// card in _meta.ui.resourceUri; the card is a ui:// resource of MIME type
// text/html;profile=mcp-app; the card talks to the host over postMessage
// JSON-RPC and may call the server's app-only tools
// (_meta.ui.visibility ["app"]) through the host.
//
// Negotiation: only a client that declares the extension (initialize
// capabilities.extensions, or a 2026-07-28 request's _meta client
// capabilities) sees the UI _meta, the ui:// resources and the app-only
// tools; every other client gets exactly the listings and results it got
// before. Deps.UIOff (CRYPTOPAY_UI=off) turns it all off.

import (
	"context"
	"embed"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// UIExtension is the MCP Apps extension identifier.
const UIExtension = "io.modelcontextprotocol/ui"

// UIMIMEType is the MIME type of an MCP Apps view.
const UIMIMEType = "text/html;profile=mcp-app"

// PaymentCardURI is the payment card view.
const PaymentCardURI = "ui://cryptopay/payment-card"

// ShopCardURI is the shop view: search results, a product, an invoice
// with its Pay button, an order with its code.
const ShopCardURI = "ui://cryptopay/shop-card"

// CodeUINotNegotiated: an app-only tool was called by a client that did
// not declare the MCP Apps extension.
const CodeUINotNegotiated = "UI_NOT_NEGOTIATED"

// CodeRevealInCard: unseal_order called by a client that renders the shop
// card, where the codes show instead (so they never reach the model).
const CodeRevealInCard = "REVEAL_IN_CARD"

//go:embed ui/*.html ui/*.js ui/*.css
var uiFiles embed.FS

// view is one ui:// resource: a self-contained HTML document.
type view struct {
	uri, name, title, description string
	html                          string
}

// uiCSP is the views' declared Content Security Policy: no network origin
// at all (connect, images, scripts, frames). Everything a card shows comes
// from tool results (the QR is a data URL) or is drawn by the card.
func uiCSP() map[string]any {
	return map[string]any{"connectDomains": []string{}, "resourceDomains": []string{}, "frameDomains": []string{}}
}

func (v view) meta() mcp.Meta {
	return mcp.Meta{"ui": map[string]any{"csp": uiCSP(), "prefersBorder": true}}
}

// buildView inlines the style sheet and scripts a view names (lines like
// `<script src="bridge.js"></script>`, each an embedded file) into the
// HTML template, so each view is one document that fetches nothing.
func buildView(file string) (string, error) {
	page, err := uiFiles.ReadFile("ui/" + file)
	if err != nil {
		return "", fmt.Errorf("view %s: %w", file, err)
	}
	html := string(page)
	const css = `<link rel="stylesheet" href="cards.css">`
	if strings.Contains(html, css) {
		src, err := uiFiles.ReadFile("ui/cards.css")
		if err != nil {
			return "", fmt.Errorf("view %s: %w", file, err)
		}
		html = strings.Replace(html, css, "<style>\n"+string(src)+"</style>", 1)
	}
	for _, js := range []string{"bridge.js", "cards.js"} {
		tag := `<script src="` + js + `"></script>`
		if !strings.Contains(html, tag) {
			continue
		}
		src, err := uiFiles.ReadFile("ui/" + js)
		if err != nil {
			return "", fmt.Errorf("view %s: %w", file, err)
		}
		html = strings.Replace(html, tag, "<script>\n"+string(src)+"</script>", 1)
	}
	if strings.Contains(html, `<script src=`) || strings.Contains(html, `<link `) {
		return "", fmt.Errorf("view %s: a script or style sheet is not inlined", file)
	}
	return html, nil
}

// views returns the views of the enabled toolsets.
func views(d Deps) ([]view, error) {
	var out []view
	if d.Policy.Enabled(access.Payments) {
		html, err := buildView("payment-card.html")
		if err != nil {
			return nil, err
		}
		out = append(out, view{uri: PaymentCardURI, name: "payment-card", title: "Payment card",
			description: "Live payment card: amount, QR code, address, countdown and status.", html: html})
	}
	if d.Shop != nil && (d.Policy.Enabled(access.Shop) || d.Policy.Enabled(access.ShopPurchase)) {
		html, err := buildView("shop-card.html")
		if err != nil {
			return nil, err
		}
		out = append(out, view{uri: ShopCardURI, name: "shop-card", title: "Shop card",
			description: "Bitrefill products, packages, invoices with a Pay button and orders whose codes show only here.", html: html})
	}
	return out, nil
}

// cardOf returns the view a model-visible tool renders, if any.
func cardOf(tool string) (string, bool) {
	switch tool {
	case "create_payment_onchain", "create_payment_link", "get_payment_status", "wait_for_payment":
		return PaymentCardURI, true
	case "search", "detail", "create_invoice", "get_invoice", "pay_invoice", "get_order":
		return ShopCardURI, true
	}
	return "", false
}

// cardMeta is the _meta a tool that renders uri carries for UI clients:
// the extension's key, the legacy flat key and ChatGPT's.
func cardMeta(uri string) mcp.Meta {
	return mcp.Meta{"ui": map[string]any{"resourceUri": uri}, "ui/resourceUri": uri, "openai/outputTemplate": uri}
}

// appOnlyMeta is the _meta of an app-only tool that serves the card uri.
func appOnlyMeta(uri string) mcp.Meta {
	return mcp.Meta{"ui": map[string]any{"resourceUri": uri, "visibility": []string{"app"}}}
}

// isAppOnly reports whether a tool definition is app-only.
func isAppOnly(m mcp.Meta) bool {
	ui, ok := m["ui"].(map[string]any)
	if !ok {
		return false
	}
	vis, _ := ui["visibility"].([]string)
	return len(vis) > 0 && !slices.Contains(vis, "model")
}

// uiClient reports whether the client that sent req declared the MCP Apps
// extension.
func uiClient(req mcp.Request) bool {
	c := ClientCaps(req)
	if c == nil {
		return false
	}
	_, ok := c.Extensions[UIExtension]
	return ok
}

// appTools returns the app-only tools; Tools lists them last.
func appTools(d Deps) []registrar {
	out := []registrar{cardPaymentStatus(d.Payments)}
	if d.Shop != nil && d.Shop.PurchasesEnabled() {
		out = append(out, cardPayInvoice(d.Shop), cardRevealOrder(d.Shop))
	}
	return out
}

type cardPayArgs struct {
	ID                string `json:"id" jsonschema:"invoice id"`
	ConfirmationToken string `json:"confirmation_token,omitempty" jsonschema:"the token of this tool's quote; with it the call pays"`
	AmountEUR         string `json:"amount_eur,omitempty" jsonschema:"the EUR amount the card showed the user (the quote's amount_eur); required with confirmation_token"`
}

// cardPayInvoice is the invoice card's Pay button. Without a token it
// quotes (nothing is paid; the token goes only to the card); the user's
// click sends the token and the amount shown, and pays once.
func cardPayInvoice(svc *shop.Service) Tool[cardPayArgs, shop.PayResult] {
	return Tool[cardPayArgs, shop.PayResult]{
		Toolset: access.ShopPurchase,
		Def: mcp.Tool{
			Name:  "card_pay_invoice",
			Title: "Invoice card: pay on the user's click",
			Description: "App-only (MCP Apps): the invoice card's Pay button. Without confirmation_token: a quote and a single-use token bound to the " +
				"invoice and its amount, nothing paid. With the token and the amount the card showed: the user's click in the card is the confirmation; " +
				"pays once from the Bitrefill balance within the spending limits. Not offered to the model.",
			Annotations: &mcp.ToolAnnotations{Title: "Invoice card: pay on the user's click", DestructiveHint: ptr(true), OpenWorldHint: ptr(true)},
			Meta:        appOnlyMeta(ShopCardURI),
		},
		Patch: func(s *jsonschema.Schema) {
			patchID(s, "")
			t := prop(s, "confirmation_token")
			t.MaxLength, t.Pattern = ptr(100), `^cfm_[A-Za-z0-9_-]+$`
			prop(s, "amount_eur").Pattern = `^[0-9]{1,9}(\.[0-9]{1,2})?$`
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a cardPayArgs) (Output[shop.PayResult], error) {
			r, err := svc.PayInvoiceInCard(ctx, "card_pay_invoice", a.ID, a.ConfirmationToken, a.AmountEUR)
			if err != nil {
				return Output[shop.PayResult]{}, err
			}
			return Output[shop.PayResult]{Value: *r, Secret: r.ConfirmationToken != ""}, nil
		},
	}
}

// cardRevealOrder shows an order's codes inside the order card only.
func cardRevealOrder(svc *shop.Service) Tool[orderIDArgs, shop.UnsealResult] {
	return Tool[orderIDArgs, shop.UnsealResult]{
		Toolset: access.ShopPurchase,
		Def: mcp.Tool{
			Name:  "card_reveal_order",
			Title: "Order card: reveal the code",
			Description: "App-only (MCP Apps): the order card's Reveal button; the codes and PINs of a delivered order, shown only inside the card, " +
				"never in the model's context. Not offered to the model.",
			Annotations: &mcp.ToolAnnotations{Title: "Order card: reveal the code", ReadOnlyHint: true, OpenWorldHint: ptr(true)},
			Meta:        appOnlyMeta(ShopCardURI),
		},
		Patch: func(s *jsonschema.Schema) { patchID(s, "") },
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, a orderIDArgs) (Output[shop.UnsealResult], error) {
			r, err := svc.UnsealOrderAs(ctx, "card_reveal_order", a.ID)
			if err != nil {
				return Output[shop.UnsealResult]{}, err
			}
			return Output[shop.UnsealResult]{Value: *r, Secret: true}, nil
		},
	}
}

func cardPaymentStatus(svc *payments.Service) Tool[statusArgs, payments.StatusResult] {
	t := getPaymentStatus(svc)
	t.Def = mcp.Tool{
		Name:  "card_payment_status",
		Title: "Payment card: refresh status",
		Description: "App-only (MCP Apps): the payment card's live refresh of one payment's status; the same result as get_payment_status. " +
			"Not offered to the model.",
		Annotations: &mcp.ToolAnnotations{Title: "Payment card: refresh status", ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(true)},
		Meta:        appOnlyMeta(PaymentCardURI),
	}
	return t
}

// uiState is what the UI middleware knows.
type uiState struct {
	off     bool
	appOnly map[string]bool // app-only tool names
	views   map[string]bool // ui:// URIs served
}

// revealInCard reports whether the shop card reveals codes (its app-only
// tool is registered): then a UI client gets no unseal_order.
func (u *uiState) revealInCard() bool { return u.appOnly["card_reveal_order"] && u.views[ShopCardURI] }

// shows reports whether req's client gets the UI.
func (u *uiState) shows(req mcp.Request) bool { return !u.off && uiClient(req) }

// addViews registers the views as resources.
func addViews(s *mcp.Server, vs []view) {
	for _, v := range vs {
		s.AddResource(&mcp.Resource{URI: v.uri, Name: v.name, Title: v.title, Description: v.description,
			MIMEType: UIMIMEType, Size: int64(len(v.html)), Meta: v.meta()},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: v.uri, MIMEType: UIMIMEType, Text: v.html, Meta: v.meta()}}}, nil
			})
	}
}

// uiMiddleware applies the negotiation: for a UI client it adds the card
// _meta to the listed tools that render one and, when the shop card can
// reveal codes, replaces unseal_order by it (REVEAL_IN_CARD: the codes
// never enter the model's context); for any other client it hides
// the app-only tools and the ui:// resources, refuses calls of app-only
// tools (UI_NOT_NEGOTIATED) and reads of ui:// resources (not found). Each
// app-only call is logged with its caller (the purchase ones are also in
// the shop's audit log).
func uiMiddleware(e *env, u *uiState) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			show := u.shows(req)
			switch method {
			case "tools/call":
				p, ok := req.GetParams().(*mcp.CallToolParamsRaw)
				if ok && show && p.Name == "unseal_order" && u.revealInCard() {
					return errorResult(e, toolerr.New(CodeRevealInCard,
						"this client shows gift-card codes in the order card only, so they never enter the conversation: call get_order (or get_invoice) "+
							"and the user reveals the code there", map[string]any{"tool": p.Name})), nil
				}
				if ok && u.appOnly[p.Name] {
					if !show {
						return errorResult(e, toolerr.New(CodeUINotNegotiated,
							"tool "+p.Name+" is app-only: it is called by an MCP Apps card, for clients that declare the "+UIExtension+" extension",
							map[string]any{"tool": p.Name})), nil
					}
					c := e.caller(req)
					e.log.Info("app-only tool call", "tool", p.Name, "caller", c.String())
				}
			case "resources/read":
				if p, ok := req.GetParams().(*mcp.ReadResourceParams); ok && u.views[p.URI] && !show {
					return nil, mcp.ResourceNotFoundError(p.URI)
				}
			}
			res, err := next(ctx, method, req)
			if err != nil {
				return res, err
			}
			switch r := res.(type) {
			case *mcp.ListToolsResult:
				if !show {
					r.Tools = slices.DeleteFunc(slices.Clone(r.Tools), func(t *mcp.Tool) bool { return u.appOnly[t.Name] })
					break
				}
				tools := slices.Clone(r.Tools)
				if u.revealInCard() {
					tools = slices.DeleteFunc(tools, func(t *mcp.Tool) bool { return t.Name == "unseal_order" })
				}
				for i, t := range tools {
					if uri, ok := cardOf(t.Name); ok && u.views[uri] {
						c := *t
						c.Meta = maps.Clone(t.Meta)
						if c.Meta == nil {
							c.Meta = mcp.Meta{}
						}
						maps.Copy(c.Meta, cardMeta(uri))
						tools[i] = &c
					}
				}
				r.Tools = tools
			case *mcp.ListResourcesResult:
				if !show {
					r.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(x *mcp.Resource) bool { return u.views[x.URI] })
				}
			}
			return res, nil
		}
	}
}
