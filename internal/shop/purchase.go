package shop

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Confirmer asks the user to confirm a payment (MCP elicitation). It
// returns true only on an explicit yes. A nil Confirmer means the client
// cannot be asked, and the quote/token flow is used. An error wrapping
// ErrConfirmationPending means the question has to travel to the client
// first (a multi round-trip request): the call ends without moving money
// and the same call is made again with the user's answer. Any other error
// (CONFIRMATION_INVALID from Question.Redeem) ends the call unpaid.
type Confirmer func(ctx context.Context, q Question) (bool, error)

// Question is what a Confirmer asks about. A question that travels to the
// client carries a single-use server nonce bound to the invoice and the
// amount (Issue), and an answer counts only if it brings that nonce back
// (Redeem): an answer nobody asked for, or asked about another invoice or
// amount, or already used, is CONFIRMATION_INVALID.
type Question struct {
	Message   string
	InvoiceID string
	AmountEUR string
	// Issue stores a fresh nonce for this invoice and amount (its hash,
	// salted with the caller's namespace, like a confirmation token) and
	// returns it.
	Issue func(ctx context.Context) (string, error)
	// Redeem consumes nonce: nil only if it was issued to this caller for
	// this invoice and amount, is unexpired and was not used.
	Redeem func(ctx context.Context, nonce string) error
}

// nonceStart begins every elicitation nonce; confirmation tokens begin
// with "cfm_", so neither passes for the other.
const nonceStart = "eln_"

// ErrConfirmationPending: the user's answer is not in yet.
var ErrConfirmationPending = errors.New("shop: waiting for the user's confirmation")

// LineInput is one product of create_invoice.
type LineInput struct {
	ProductID   string
	Quantity    int
	Value       *float64
	PackageID   string
	PhoneNumber string
	SendEmail   bool
	SendSMS     bool
}

// CreateInput are create_invoice's arguments.
type CreateInput struct {
	Products      []LineInput
	PaymentMethod string
	WebhookURL    string
	AutoPay       bool
}

// QuoteItem is one priced product line.
type QuoteItem struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name,omitempty"`
	Value     string `json:"value"`
	Quantity  int    `json:"quantity"`
	EURPrice  string `json:"eur_price" jsonschema:"EUR price of one item, from Bitrefill's catalogue"`
}

// Quote is what a payment would cost.
type Quote struct {
	InvoiceID       string      `json:"invoice_id"`
	AmountEUR       string      `json:"amount_eur" jsonschema:"total in EUR, from Bitrefill's prices; this is what counts against the limits"`
	PaymentMethod   string      `json:"payment_method"`
	PaymentCurrency string      `json:"payment_currency"`
	PaymentPrice    float64     `json:"payment_price" jsonschema:"price in payment_currency as Bitrefill states it"`
	Items           []QuoteItem `json:"items"`
}

// PayResult is the answer of pay_invoice (and of create_invoice's auto_pay).
type PayResult struct {
	Status                string   `json:"status" jsonschema:"paid, or confirmation_required (nothing was paid; show the quote to the user and call pay_invoice again with confirmation_token once they agree)"`
	Paid                  bool     `json:"paid"`
	Quote                 Quote    `json:"quote"`
	ConfirmationToken     string   `json:"confirmation_token,omitempty" jsonschema:"single-use token bound to this invoice and amount; pass it to pay_invoice only after the user explicitly agreed to the quote"`
	ConfirmationExpiresAt string   `json:"confirmation_expires_at,omitempty"`
	Invoice               *Invoice `json:"invoice,omitempty"`
	Limits                Limits   `json:"limits"`
	Instructions          string   `json:"instructions"`
	Sandbox               bool     `json:"sandbox,omitempty"`
}

// CreateResult is the answer of create_invoice.
type CreateResult struct {
	Invoice      Invoice     `json:"invoice"`
	AmountEUR    string      `json:"amount_eur" jsonschema:"total in EUR from Bitrefill's prices"`
	Items        []QuoteItem `json:"items"`
	Payment      *PayResult  `json:"payment,omitempty" jsonschema:"with auto_pay: the payment result, or the quote and confirmation token"`
	Limits       Limits      `json:"limits"`
	Instructions string      `json:"instructions"`
	Sandbox      bool        `json:"sandbox,omitempty"`
}

func (s *Service) requirePurchases() error {
	if !s.PurchasesEnabled() {
		return toolerr.New(CodePurchasesDisabled, "purchases are turned off; the user can enable them with SHOP_PURCHASES_ENABLED=true (and Bitrefill API credentials)", nil)
	}
	return nil
}

// audit appends one entry per money-moving call, whatever happened.
func (s *Service) audit(ctx context.Context, e *store.AuditEntry, err error) {
	if errors.Is(err, ErrConfirmationPending) {
		return // not a call's end: it is made again with the user's answer
	}
	if err != nil {
		te := toolerr.From(err)
		e.Code = te.Code
		switch te.Code {
		case CodeConfirmationDeclined:
			e.Outcome = "declined"
		case CodeOutcomeUnknown:
			e.Outcome = "outcome_unknown"
		case CodeLimitPerOrder, CodeDailyLimit, CodeConfirmationInvalid, CodeConfirmationRequired, CodePurchasesDisabled,
			toolerr.CodeInvalidArgument, CodePriceUnavailable, CodeInvoiceNotPayable, CodeAlreadyAttempted:
			e.Outcome = "refused"
		default:
			e.Outcome = "failed"
		}
		e.Detail = truncate(oneLine(te.Message), 200)
	}
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	e.At = s.o.Now()
	e.Caller = access.CallerFrom(ctx).String()
	if s.st == nil {
		return
	}
	if aerr := s.st.AppendAudit(context.WithoutCancel(ctx), *e); aerr != nil {
		s.log.Error("shop audit log write failed", "tool", e.Tool, "invoice_id", e.InvoiceID, "outcome", e.Outcome, "error", aerr)
	}
	s.log.Info("shop purchase audit", "tool", e.Tool, "invoice_id", e.InvoiceID, "order_id", e.OrderID,
		"amount_eur", cents(e.AmountCents), "outcome", e.Outcome, "code", e.Code, "caller", e.Caller)
}

// eurCents rounds a positive EUR amount up to whole cents; ok is false when
// the amount is absent, not positive or too large for an int64 of cents.
func eurCents(d money.Decimal) (int64, bool) {
	c, ok := d.Minor(2, money.Up)
	return c, ok && c > 0
}

type priceCache map[string]*bitrefill.ProductDetail

// unitPrice returns the EUR cents of one item of productID at value, from
// the catalogue. Never from the agent.
func (s *Service) unitPrice(ctx context.Context, pc priceCache, productID, value string) (int64, string, error) {
	unavailable := func(why string) error {
		return toolerr.New(CodePriceUnavailable, fmt.Sprintf("cannot price %s at value %q from the catalogue (%s); the purchase is refused", productID, value, why),
			map[string]any{"product_id": productID, "value": value})
	}
	p, ok := pc[productID]
	if !ok {
		d, err := s.c.ProductDetail(ctx, productID)
		if err != nil {
			if errors.Is(err, bitrefill.ErrNotFound) {
				return 0, "", toolerr.Wrap(err, CodeProductNotFound, fmt.Sprintf("product %q not found in the catalogue", productID), map[string]any{"product_id": productID})
			}
			return 0, "", mapErr(err, CodeProductNotFound)
		}
		pc[productID], p = d, d
	}
	want, err := money.Parse(value)
	wantOK := err == nil
	for _, k := range p.Packages {
		match := k.Value == value
		if !match && wantOK {
			if a := k.Amount.Decimal(); a.IsSet() && a.Cmp(want) == 0 {
				match = true
			}
		}
		if match {
			c, ok := eurCents(k.EurPrice.Decimal())
			if !ok {
				return 0, "", unavailable("no EUR price")
			}
			return c, p.Name, nil
		}
	}
	if r := p.Range; r != nil && wantOK {
		lo, hi, rate := r.Min.Decimal(), r.Max.Decimal(), r.CustomerEurPriceRate.Decimal()
		if lo.IsSet() && hi.IsSet() && rate.Sign() > 0 && want.Cmp(lo) >= 0 && want.Cmp(hi) <= 0 {
			// An absent fee adds nothing.
			if c, ok := eurCents(want.Mul(rate).Add(r.PurchaseFeeEur.Decimal())); ok {
				return c, p.Name, nil
			}
		}
	}
	return 0, "", unavailable("no such package")
}

// packageValue extracts the value of a "<product_id><&><value>" package id.
func packageValue(productID, pkg string) (string, bool) {
	prefix := productID + "<&>"
	if !strings.HasPrefix(pkg, prefix) {
		return "", false
	}
	return strings.TrimPrefix(pkg, prefix), true
}

// priceInvoice prices an invoice, from the catalogue, for what it costs
// whatever its shape: each order counts its unit price times its quantity
// (one order per unit, or one order holding several), and when Bitrefill
// states the invoice's own total in EUR the larger of the two counts.
func (s *Service) priceInvoice(ctx context.Context, inv bitrefill.Invoice) (int64, []QuoteItem, error) {
	if len(inv.Orders) == 0 {
		return 0, nil, toolerr.New(CodePriceUnavailable, "the invoice lists no orders, so it cannot be priced; the payment is refused", nil)
	}
	pc := priceCache{}
	var total int64
	var items []QuoteItem
	for _, o := range inv.Orders {
		qty, ok := orderQuantity(o)
		if !ok {
			return 0, nil, toolerr.New(CodePriceUnavailable, fmt.Sprintf("order %s of the invoice has quantity %q, which cannot be counted; the payment is refused", o.ID, truncate(string(o.Quantity), 40)),
				map[string]any{"order_id": o.ID})
		}
		unit, name, err := s.unitPrice(ctx, pc, o.Product.ID, o.Product.Value)
		if err != nil {
			return 0, nil, err
		}
		total += unit * int64(qty)
		items = append(items, QuoteItem{ProductID: o.Product.ID, Name: cmp.Or(o.Product.Name, name), Value: o.Product.Value, Quantity: qty, EURPrice: cents(unit)})
	}
	if strings.EqualFold(inv.Payment.Currency, "EUR") {
		if c, ok := eurCents(inv.Payment.Price.Decimal()); ok && c > total {
			total = c
		}
	}
	return total, items, nil
}

func (s *Service) checkLimits(ctx context.Context, amount int64) (Limits, error) {
	lim, used, err := s.limits(ctx)
	if err != nil {
		return lim, err
	}
	if amount > s.o.MaxOrderCents {
		return lim, toolerr.New(CodeLimitPerOrder, fmt.Sprintf("this order costs %s EUR, more than the per-order limit of %s EUR set by the user; it cannot be bought through this server",
			cents(amount), cents(s.o.MaxOrderCents)), map[string]any{"amount_eur": cents(amount), "max_order_eur": lim.MaxOrderEUR})
	}
	if used+amount > s.o.DailyLimitCents {
		return lim, dailyErr(amount, used, s.o.DailyLimitCents)
	}
	return lim, nil
}

func dailyErr(amount, used, limit int64) error {
	return toolerr.New(CodeDailyLimit, fmt.Sprintf("paying %s EUR would exceed today's limit of %s EUR (%s EUR already counted today, UTC); try again tomorrow",
		cents(amount), cents(limit), cents(used)), map[string]any{"amount_eur": cents(amount), "daily_limit_eur": cents(limit), "spent_today_eur": cents(used)})
}

// CreateInvoice creates an invoice (never paying it without confirmation).
func (s *Service) CreateInvoice(ctx context.Context, confirm Confirmer, in CreateInput) (res *CreateResult, err error) {
	a := store.AuditEntry{Tool: "create_invoice"}
	defer func() { s.audit(ctx, &a, err) }()
	if err := s.requirePurchases(); err != nil {
		return nil, err
	}
	if !bitrefill.ValidPaymentMethod(in.PaymentMethod) {
		return nil, toolerr.InvalidArg("payment_method", "must be one of "+strings.Join(bitrefill.PaymentMethods(), ", "))
	}
	if in.AutoPay && in.PaymentMethod != bitrefill.PaymentMethodBalance {
		return nil, toolerr.InvalidArg("auto_pay", "only works with payment_method balance")
	}
	if in.WebhookURL != "" && !strings.HasPrefix(in.WebhookURL, "https://") {
		return nil, toolerr.InvalidArg("webhook_url", "must be an https:// URL the user gave you")
	}
	req := bitrefill.CreateInvoiceRequest{PaymentMethod: in.PaymentMethod, WebhookURL: in.WebhookURL}
	pc := priceCache{}
	var total int64
	var items []QuoteItem
	for i, l := range in.Products {
		field := fmt.Sprintf("products[%d]", i)
		if (l.Value == nil) == (l.PackageID == "") {
			return nil, toolerr.InvalidArg(field, "give either value or package_id (exactly one)")
		}
		qty := max(l.Quantity, 1)
		p := bitrefill.InvoiceProduct{ProductID: l.ProductID, Quantity: l.Quantity, PackageID: l.PackageID,
			PhoneNumber: l.PhoneNumber, SendEmail: l.SendEmail, SendSMS: l.SendSMS}
		value := ""
		if l.Value != nil {
			value = strconv.FormatFloat(*l.Value, 'f', -1, 64)
			p.Value = bitrefill.Decimal(value)
		} else if v, ok := packageValue(l.ProductID, l.PackageID); ok {
			value = v
		} else {
			return nil, toolerr.New(CodePriceUnavailable, field+": package_id must look like <product_id><&><value> so the server can price it; or pass value", nil)
		}
		unit, name, err := s.unitPrice(ctx, pc, l.ProductID, value)
		if err != nil {
			return nil, err
		}
		total += unit * int64(qty)
		items = append(items, QuoteItem{ProductID: l.ProductID, Name: name, Value: value, Quantity: qty, EURPrice: cents(unit)})
		req.Products = append(req.Products, p)
	}
	a.AmountCents = total
	if _, err := s.checkLimits(ctx, total); err != nil {
		// A crypto invoice is paid by the user's own wallet, so only the
		// per-order limit applies to it.
		if te := toolerr.From(err); te.Code != CodeDailyLimit || in.PaymentMethod == bitrefill.PaymentMethodBalance {
			return nil, err
		}
	}
	r, err := s.c.CreateInvoice(ctx, req)
	if err != nil {
		return nil, mapErr(err, CodeProductNotFound)
	}
	a.InvoiceID = r.Invoice.ID
	a.Outcome = "created"
	lim, _, err := s.limits(ctx)
	if err != nil {
		return nil, err
	}
	res = &CreateResult{Invoice: invoice(r.Invoice), AmountEUR: cents(total), Items: items, Limits: lim, Sandbox: s.o.Sandbox}
	switch {
	case in.AutoPay:
		pr, perr := s.pay(ctx, confirm, r.Invoice.ID, "", "", &a)
		if perr != nil {
			te := toolerr.From(perr)
			return nil, toolerr.Wrap(perr, te.Code, fmt.Sprintf("invoice %s was created but not paid: %s", r.Invoice.ID, te.Message),
				mergeDetails(te.Details, map[string]any{"invoice_id": r.Invoice.ID}))
		}
		res.Payment = pr
		res.Limits = pr.Limits
		res.Instructions = pr.Instructions
	case in.PaymentMethod == bitrefill.PaymentMethodBalance:
		res.Instructions = "Invoice created, NOT paid. To pay it from the account balance call pay_invoice with its id; the user must confirm first."
	default:
		res.Instructions = "Invoice created, NOT paid. The user pays it from their own wallet using payment.address / payment.lightning_invoice / payment.payment_uri; then check it with get_invoice."
	}
	return res, nil
}

// ResumeCreate finishes a create_invoice with auto_pay whose confirmation
// travelled to the client (a multi round-trip request): the invoice was
// created by the first round, so the retry pays that invoice (once the
// answer is checked against the question asked about it) instead of
// creating another.
func (s *Service) ResumeCreate(ctx context.Context, confirm Confirmer, invoiceID string) (res *CreateResult, err error) {
	a := store.AuditEntry{Tool: "create_invoice", InvoiceID: invoiceID}
	defer func() { s.audit(ctx, &a, err) }()
	if err := s.requirePurchases(); err != nil {
		return nil, err
	}
	if confirm == nil {
		return nil, toolerr.New(CodeConfirmationInvalid, "this call carries an answer but the client cannot be asked; nothing was paid", map[string]any{"reason": "not_asked"})
	}
	pr, err := s.pay(ctx, confirm, invoiceID, "", "", &a)
	if err != nil {
		te := toolerr.From(err)
		if errors.Is(err, ErrConfirmationPending) {
			return nil, err
		}
		return nil, toolerr.Wrap(err, te.Code, fmt.Sprintf("invoice %s was created but not paid: %s", invoiceID, te.Message),
			mergeDetails(te.Details, map[string]any{"invoice_id": invoiceID}))
	}
	res = &CreateResult{AmountEUR: pr.Quote.AmountEUR, Items: pr.Quote.Items, Payment: pr, Limits: pr.Limits,
		Instructions: pr.Instructions, Sandbox: s.o.Sandbox}
	if pr.Invoice != nil {
		res.Invoice = *pr.Invoice
	}
	return res, nil
}

func mergeDetails(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// PayInvoice pays a balance invoice once the user has confirmed it.
func (s *Service) PayInvoice(ctx context.Context, confirm Confirmer, id, token string) (res *PayResult, err error) {
	a := store.AuditEntry{Tool: "pay_invoice", InvoiceID: id}
	defer func() { s.audit(ctx, &a, err) }()
	if err := s.requirePurchases(); err != nil {
		return nil, err
	}
	return s.pay(ctx, confirm, id, token, "", &a)
}

// PayInvoiceInCard is PayInvoice for an MCP Apps invoice card, audited as
// tool: without a token it quotes (a single-use confirmation token bound
// to the invoice and its amount, which only the card sees); with one, the
// user's click in the card is the confirmation, and it pays only if
// shownEUR is the amount the quote showed and the server prices now, under
// the same limits, spend reservation and audit as pay_invoice.
func (s *Service) PayInvoiceInCard(ctx context.Context, tool, id, token, shownEUR string) (res *PayResult, err error) {
	a := store.AuditEntry{Tool: tool, InvoiceID: id}
	defer func() { s.audit(ctx, &a, err) }()
	if err := s.requirePurchases(); err != nil {
		return nil, err
	}
	if token != "" && shownEUR == "" {
		return nil, toolerr.InvalidArg("amount_eur", "the amount the card showed is required with a confirmation token")
	}
	return s.pay(ctx, nil, id, token, shownEUR, &a)
}

// hashToken is what the store keeps of a confirmation token: its SHA-256,
// salted with the caller's namespace, so a token quoted to one OAuth caller
// is unknown to every other even if it leaks. The operator's own transports
// share the empty namespace, whose hash is the token's plain SHA-256, as
// for tokens issued before callers were told apart.
func hashToken(ctx context.Context, t string) string {
	if ns := access.CallerFrom(ctx).Namespace(); ns != "" {
		t = ns + "\x00" + t
	}
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "cfm_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// pay pays invoice id once confirmed: by token, or by confirm. shownEUR,
// when set, is the amount the user was shown; a different price now
// refuses the payment.
func (s *Service) pay(ctx context.Context, confirm Confirmer, id, token, shownEUR string, a *store.AuditEntry) (*PayResult, error) {
	r, err := s.c.GetInvoice(ctx, id)
	if err != nil {
		return nil, mapErr(err, CodeInvoiceNotFound)
	}
	inv := r.Invoice
	if inv.Payment.Status != "unpaid" {
		return nil, toolerr.New(CodeInvoiceNotPayable, fmt.Sprintf("invoice %s is not unpaid (payment status %q); nothing was paid", inv.ID, inv.Payment.Status), nil)
	}
	if inv.Payment.Method != bitrefill.PaymentMethodBalance {
		return nil, toolerr.New(CodeInvoiceNotPayable, fmt.Sprintf("invoice %s uses payment method %q; only balance invoices can be paid by the server (the user pays the others from their wallet)", inv.ID, inv.Payment.Method), nil)
	}
	amount, items, err := s.priceInvoice(ctx, inv)
	if err != nil {
		return nil, err
	}
	a.AmountCents = amount
	quote := Quote{InvoiceID: inv.ID, AmountEUR: cents(amount), PaymentMethod: inv.Payment.Method,
		PaymentCurrency: inv.Payment.Currency, PaymentPrice: f64v(inv.Payment.Price), Items: items}
	lim, err := s.checkLimits(ctx, amount)
	if err != nil {
		return nil, err
	}
	if token != "" && shownEUR != "" && eurCentsText(shownEUR) != amount {
		return nil, toolerr.New(CodeConfirmationInvalid, confirmationMsg("other_amount"),
			map[string]any{"reason": "other_amount", "shown_eur": shownEUR, "amount_eur": quote.AmountEUR})
	}
	now := s.o.Now()

	switch {
	case token != "":
		if !strings.HasPrefix(token, "cfm_") {
			return nil, toolerr.New(CodeConfirmationInvalid, confirmationMsg("unknown"), map[string]any{"reason": "unknown"})
		}
		if err := s.st.ConsumeConfirmation(ctx, hashToken(ctx, token), inv.ID, amount, now); err != nil {
			var ce *store.ConfirmationError
			if errors.As(err, &ce) {
				return nil, toolerr.New(CodeConfirmationInvalid, confirmationMsg(ce.Reason), map[string]any{"reason": ce.Reason})
			}
			return nil, err
		}
	case confirm != nil:
		ok, cerr := confirm(ctx, s.question(quote, amount, lim))
		if errors.Is(cerr, ErrConfirmationPending) {
			return nil, cerr
		}
		if _, ok := errors.AsType[*toolerr.Error](cerr); ok {
			return nil, cerr // CONFIRMATION_INVALID: an answer nobody asked for
		}
		if cerr != nil {
			s.log.Warn("elicitation failed; falling back to a confirmation token", "invoice_id", inv.ID, "error", cerr)
			return s.quote(ctx, quote, lim, a)
		}
		if !ok {
			return nil, toolerr.New(CodeConfirmationDeclined, "the user did not confirm the payment; nothing was paid. Do not retry unless the user asks.", nil)
		}
	default:
		return s.quote(ctx, quote, lim, a)
	}

	// Confirmed: reserve against the daily cap, atomically, then pay once.
	day := now.UTC().Format("2006-01-02")
	used, err := s.st.ReserveSpend(ctx, store.Spend{InvoiceID: inv.ID, Day: day, AmountCents: amount, CreatedAt: now}, s.o.DailyLimitCents)
	switch {
	case errors.Is(err, store.ErrDailyLimit):
		return nil, dailyErr(amount, used, s.o.DailyLimitCents)
	case errors.Is(err, store.ErrSpendExists):
		return nil, toolerr.New(CodeAlreadyAttempted, fmt.Sprintf("a payment of invoice %s was already attempted through this server; it is never repeated. Check it with get_invoice.", inv.ID), nil)
	case err != nil:
		return nil, err
	}
	paid, err := s.c.PayInvoice(ctx, inv.ID)
	fin := func(status string) {
		if ferr := s.st.FinishSpend(context.WithoutCancel(ctx), inv.ID, status, s.o.Now()); ferr != nil {
			s.log.Error("shop spend record update failed", "invoice_id", inv.ID, "status", status, "error", ferr)
		}
	}
	if err != nil {
		var ae *bitrefill.APIError
		switch {
		case errors.Is(err, bitrefill.ErrOutcomeUnknown):
			fin(store.SpendUnknown) // still counts against the cap
		case errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500:
			fin(store.SpendReleased) // definitely refused: nothing was paid
		default:
			fin(store.SpendUnknown)
			err = fmt.Errorf("%w: %w", bitrefill.ErrOutcomeUnknown, err)
		}
		return nil, mapErr(err, CodeInvoiceNotFound)
	}
	fin(store.SpendPaid)
	a.Outcome = "paid"
	lim, _, _ = s.limits(ctx)
	pi := invoice(paid.Invoice)
	return &PayResult{Status: "paid", Paid: true, Quote: quote, Invoice: &pi, Limits: lim, Sandbox: s.o.Sandbox,
		Instructions: "Paid. The orders are listed in invoice.orders; when the user wants the gift-card codes, call unseal_order with an order id."}, nil
}

func confirmationMsg(reason string) string {
	switch reason {
	case "used":
		return "this confirmation token was already used; a token pays once. Call pay_invoice without a token for a new quote."
	case "expired":
		return "this confirmation token has expired. Call pay_invoice without a token for a new quote and ask the user again."
	case "other_invoice":
		return "this confirmation token belongs to another invoice."
	case "other_amount":
		return "the invoice's price changed since the quote; call pay_invoice without a token for a new quote and ask the user again."
	}
	return "unknown confirmation token. Call pay_invoice without a token to get a quote."
}

func confirmationMessage(q Quote, l Limits) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Pay Bitrefill invoice %s from the account balance: %s EUR (%g %s).\n", q.InvoiceID, q.AmountEUR, q.PaymentPrice, q.PaymentCurrency)
	for _, it := range q.Items {
		fmt.Fprintf(&b, "- %s, value %s: %s EUR\n", truncate(it.Name, 80), truncate(it.Value, 40), it.EURPrice)
	}
	fmt.Fprintf(&b, "Today: %s of %s EUR used; per-order limit %s EUR. Confirm to pay now.", l.SpentTodayEUR, l.DailyLimitEUR, l.MaxOrderEUR)
	return b.String()
}

// quote issues a confirmation token and moves nothing.
// question is what the Confirmer asks for quote q of amount cents.
func (s *Service) question(q Quote, amount int64, lim Limits) Question {
	return Question{
		Message: confirmationMessage(q, lim), InvoiceID: q.InvoiceID, AmountEUR: q.AmountEUR,
		Issue: func(ctx context.Context) (string, error) {
			tok, err := newToken()
			if err != nil {
				return "", err
			}
			nonce := nonceStart + strings.TrimPrefix(tok, "cfm_")
			now := s.o.Now()
			if err := s.st.SaveConfirmation(ctx, store.Confirmation{TokenHash: hashToken(ctx, nonce), InvoiceID: q.InvoiceID,
				AmountCents: amount, CreatedAt: now, ExpiresAt: now.Add(s.o.ConfirmationTTL)}); err != nil {
				return "", fmt.Errorf("store the confirmation question: %w", err)
			}
			return nonce, nil
		},
		Redeem: func(ctx context.Context, nonce string) error {
			invalid := func(reason, msg string) error {
				return toolerr.New(CodeConfirmationInvalid, msg, map[string]any{"reason": reason})
			}
			if !strings.HasPrefix(nonce, nonceStart) {
				return invalid("not_asked", "this answer does not belong to a question this server asked; nothing was paid. Call pay_invoice again without an answer so that the user is asked.")
			}
			err := s.st.ConsumeConfirmation(ctx, hashToken(ctx, nonce), q.InvoiceID, amount, s.o.Now())
			var ce *store.ConfirmationError
			switch {
			case errors.As(err, &ce) && ce.Reason == "other_amount":
				return invalid(ce.Reason, "the invoice's price changed since the user was asked; nothing was paid. Call pay_invoice again so that the user is asked about the new price.")
			case errors.As(err, &ce):
				return invalid(ce.Reason, "this answer does not belong to a question this server asked about this invoice (or it was already used or has expired); nothing was paid. Call pay_invoice again so that the user is asked.")
			case err != nil:
				return err
			}
			return nil
		},
	}
}

func (s *Service) quote(ctx context.Context, q Quote, lim Limits, a *store.AuditEntry) (*PayResult, error) {
	tok, err := newToken()
	if err != nil {
		return nil, err
	}
	now := s.o.Now()
	exp := now.Add(s.o.ConfirmationTTL)
	if err := s.st.SaveConfirmation(ctx, store.Confirmation{TokenHash: hashToken(ctx, tok), InvoiceID: q.InvoiceID,
		AmountCents: eurCentsText(q.AmountEUR), CreatedAt: now, ExpiresAt: exp}); err != nil {
		return nil, err
	}
	if a.Outcome == "" || a.Outcome == "created" {
		a.Outcome = strings.TrimPrefix(a.Outcome+"_quoted", "_")
	}
	return &PayResult{Status: "confirmation_required", Quote: q, ConfirmationToken: tok, Limits: lim, Sandbox: s.o.Sandbox,
		ConfirmationExpiresAt: exp.UTC().Format(time.RFC3339),
		Instructions: fmt.Sprintf("NOTHING WAS PAID. Show the user this quote (%s EUR for invoice %s) and ask for explicit confirmation. "+
			"Only if they agree, call pay_invoice with id=%s and confirmation_token. The token works once, only for this invoice and amount, and expires at %s.",
			q.AmountEUR, q.InvoiceID, q.InvoiceID, exp.UTC().Format(time.RFC3339))}, nil
}

func eurCentsText(s string) int64 {
	c, _ := eurCents(money.Decimal(s))
	return c
}

// UnsealResult holds an order's redemption secrets.
type UnsealResult struct {
	Secret      bool   `json:"secret" jsonschema:"always true: this result holds redemption codes, which are worth money"`
	Warning     string `json:"warning"`
	Order       Order  `json:"order"`
	Code        string `json:"code,omitempty"`
	Pin         string `json:"pin,omitempty"`
	PinCode     string `json:"pin_code,omitempty"`
	Link        string `json:"link,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	Sandbox     bool   `json:"sandbox,omitempty"`
}

// SecretWarning goes with every unsealed order.
const SecretWarning = "SECRET: gift-card codes and PINs are bearer value, like cash. Show them to the user once; do not repeat, summarise, " +
	"store or send them anywhere else (no other tools, messages, files or logs) unless the user explicitly asks."

// UnsealOrder reveals an order's codes.
func (s *Service) UnsealOrder(ctx context.Context, id string) (res *UnsealResult, err error) {
	return s.UnsealOrderAs(ctx, "unseal_order", id)
}

// UnsealOrderAs is UnsealOrder audited as tool (the order card's reveal).
func (s *Service) UnsealOrderAs(ctx context.Context, tool, id string) (res *UnsealResult, err error) {
	a := store.AuditEntry{Tool: tool, OrderID: id}
	defer func() { s.audit(ctx, &a, err) }()
	if err := s.requirePurchases(); err != nil {
		return nil, err
	}
	r, err := s.c.UnsealOrder(ctx, id)
	if err != nil {
		return nil, mapErr(err, CodeOrderNotFound)
	}
	o := r.Order
	if o.Invoice != nil {
		a.InvoiceID = o.Invoice.ID
	}
	a.Outcome = "unsealed"
	return &UnsealResult{Secret: true, Warning: SecretWarning, Order: order(o.Order), Code: o.Code, Pin: o.Pin, PinCode: o.PinCode,
		Link: o.Link, PhoneNumber: o.PhoneNumber, Sandbox: s.o.Sandbox}, nil
}
