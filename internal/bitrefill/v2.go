package bitrefill

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// List paging bounds of the v2 API.
const (
	// MaxListLimit is the largest page the v2 list endpoints accept (also
	// their default).
	MaxListLimit = 50
	// DateTimeLayout is the format of ListParams.After/Before.
	DateTimeLayout = "2006-01-02 15:04:05"
	// MaxInvoiceProducts bounds CreateInvoiceRequest.Products.
	MaxInvoiceProducts = 20
)

// Meta is the `meta` object of the v2 envelope. Fields not sent are zero.
type Meta struct {
	Endpoint string `json:"_endpoint,omitempty"`
	ID       string `json:"id,omitempty"`
	Start    int    `json:"start,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	// Count is reported by list endpoints; the fake reports the number of
	// items in this page.
	Count  int    `json:"count,omitempty"`
	After  string `json:"after,omitempty"`
	Before string `json:"before,omitempty"`
	// Next is the absolute URL of the next page (`_next`), empty on the
	// last page. Use ListPage.NextParams rather than fetching it directly.
	Next string `json:"_next,omitempty"`
}

// ListParams filter and page GET /invoices, /orders and /products. Zero
// fields are not sent (the API defaults are start 0, limit 50).
type ListParams struct {
	// Start is the offset, >= 0.
	Start int
	// Limit is 0 (API default) or 1..MaxListLimit.
	Limit int
	// After (inclusive) and Before (exclusive) use DateTimeLayout,
	// "YYYY-MM-DD HH:MM:SS".
	After  string
	Before string
}

func (p ListParams) query(allowDates bool) ([][2]string, error) {
	var q [][2]string
	if p.Start < 0 {
		return nil, invalid("start", "must be >= 0")
	}
	if p.Start > 0 {
		q = append(q, [2]string{"start", strconv.Itoa(p.Start)})
	}
	if p.Limit < 0 || p.Limit > MaxListLimit {
		return nil, invalid("limit", "must be between 1 and %d", MaxListLimit)
	}
	if p.Limit > 0 {
		q = append(q, [2]string{"limit", strconv.Itoa(p.Limit)})
	}
	for _, f := range []struct{ name, v string }{{"after", p.After}, {"before", p.Before}} {
		if f.v == "" {
			continue
		}
		if !allowDates {
			return nil, invalid(f.name, "not supported by this endpoint")
		}
		if _, err := time.Parse(DateTimeLayout, f.v); err != nil {
			return nil, invalid(f.name, "must use the format YYYY-MM-DD HH:MM:SS")
		}
		q = append(q, [2]string{f.name, f.v})
	}
	return q, nil
}

// ListPage is the paging information of a list answer.
type ListPage struct {
	Meta Meta `json:"meta"`
	// HasMore reports whether `_next` was present.
	HasMore bool
	// NextParams are the parameters of the next page, parsed from `_next`
	// (start, limit, after, before); zero when HasMore is false. The URL
	// itself is never followed, so credentials cannot be sent to a host or
	// path named by the response.
	NextParams ListParams
}

func pageFrom(m Meta, cur ListParams) ListPage {
	p := ListPage{Meta: m}
	if m.Next == "" {
		return p
	}
	p.HasMore = true
	next := cur
	next.Start = m.Start + max(m.Count, 0)
	if u, err := url.Parse(m.Next); err == nil {
		q := u.Query()
		if n, err := strconv.Atoi(q.Get("start")); err == nil && n >= 0 {
			next.Start = n
		}
		if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= MaxListLimit {
			next.Limit = n
		}
		if v := q.Get("after"); v != "" {
			next.After = v
		}
		if v := q.Get("before"); v != "" {
			next.Before = v
		}
	}
	p.NextParams = next
	return p
}

// User is the account user of an invoice or order.
type User struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
}

// InvoicePayment is the `payment` object of an invoice.
type InvoicePayment struct {
	// Method is the payment method (balance, bitcoin, lightning, …).
	Method string `json:"method"`
	// Address is the crypto address to pay, for on-chain methods.
	Address string `json:"address,omitempty"`
	// LightningInvoice is the BOLT11 invoice for lightning.
	LightningInvoice string `json:"lightning_invoice,omitempty"`
	// PaymentURI is a wallet URI (bitcoin:…, ethereum:…), when sent.
	PaymentURI string `json:"payment_uri,omitempty"`
	// Currency is the currency of Price.
	Currency string  `json:"currency"`
	Price    Decimal `json:"price"`
	// Status: unpaid, processing, payment_confirmed, …
	Status     string  `json:"status"`
	Commission Decimal `json:"commission,omitempty"`
}

// OrderProduct is the product of an order.
type OrderProduct struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Value    string `json:"value,omitempty"`
	Currency string `json:"currency,omitempty"`
	Image    string `json:"image,omitempty"`
	Href     string `json:"_href,omitempty"`
}

// OrderInvoiceRef links an order to its invoice.
type OrderInvoiceRef struct {
	ID   string `json:"id"`
	Href string `json:"_href,omitempty"`
}

// Order is an order (one purchased item) without its redemption secrets.
type Order struct {
	ID          string       `json:"id"`
	Status      string       `json:"status"`
	Product     OrderProduct `json:"product"`
	CreatedTime string       `json:"created_time,omitempty"`
	// DeliveredTime is null until delivery (nil).
	DeliveredTime *string `json:"delivered_time"`
	// RedemptionInfo is passed through untyped (its type is undocumented).
	RedemptionInfo json.RawMessage  `json:"redemption_info,omitempty"`
	Commission     Decimal          `json:"commission,omitempty"`
	User           *User            `json:"user,omitempty"`
	Invoice        *OrderInvoiceRef `json:"invoice,omitempty"`
	// Quantity is how many units the order holds when Bitrefill groups
	// them in one order; absent means one.
	Quantity Decimal `json:"quantity,omitempty"`
}

// Invoice is a v2 invoice.
type Invoice struct {
	ID            string         `json:"id"`
	CreatedTime   string         `json:"created_time,omitempty"`
	CompletedTime string         `json:"completed_time,omitempty"`
	Status        string         `json:"status"`
	User          *User          `json:"user,omitempty"`
	Payment       InvoicePayment `json:"payment"`
	Orders        []Order        `json:"orders,omitempty"`
}

// InvoiceResult is a single-invoice answer (create, get, pay).
type InvoiceResult struct {
	Meta    Meta `json:"meta"`
	Invoice Invoice
	// Raw is the whole response body.
	Raw json.RawMessage `json:"-"`
}

// InvoiceList is a page of invoices.
type InvoiceList struct {
	ListPage
	Invoices []Invoice
	Raw      json.RawMessage `json:"-"`
}

// OrderResult is a single-order answer.
type OrderResult struct {
	Meta  Meta `json:"meta"`
	Order Order
	Raw   json.RawMessage `json:"-"`
}

// OrderList is a page of orders.
type OrderList struct {
	ListPage
	Orders []Order
	Raw    json.RawMessage `json:"-"`
}

// UnsealedOrder is an order with its redemption secrets. String, GoString
// and LogValue redact the secrets, so printing or logging one is safe; the
// fields and Raw are not redacted.
type UnsealedOrder struct {
	Order
	Code        string `json:"code,omitempty"`
	Pin         string `json:"pin,omitempty"`
	PinCode     string `json:"pin_code,omitempty"`
	Link        string `json:"link,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

// UnsealResult is the GET /orders/{id}/unseal answer. Raw holds the
// secrets too: never log it.
type UnsealResult struct {
	Meta  Meta `json:"meta"`
	Order UnsealedOrder
	Raw   json.RawMessage `json:"-"`
}

// String implements fmt.Stringer without secrets.
func (u UnsealedOrder) String() string {
	return fmt.Sprintf("UnsealedOrder{ID: %s, Status: %s, Product: %s, secrets: %s}",
		u.ID, u.Status, u.Product.ID, redacted(u))
}

// GoString implements fmt.GoStringer without secrets.
func (u UnsealedOrder) GoString() string { return u.String() }

// LogValue implements slog.LogValuer without secrets.
func (u UnsealedOrder) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("status", u.Status),
		slog.String("product", u.Product.ID), slog.String("secrets", redacted(u)))
}

// String implements fmt.Stringer without secrets.
func (r UnsealResult) String() string { return "UnsealResult{" + r.Order.String() + "}" }

// GoString implements fmt.GoStringer without secrets.
func (r UnsealResult) GoString() string { return r.String() }

// LogValue implements slog.LogValuer without secrets.
func (r UnsealResult) LogValue() slog.Value { return r.Order.LogValue() }

func redacted(u UnsealedOrder) string {
	var have []string
	for _, f := range []struct{ name, v string }{
		{"code", u.Code}, {"pin", u.Pin}, {"pin_code", u.PinCode}, {"link", u.Link},
	} {
		if f.v != "" {
			have = append(have, f.name)
		}
	}
	if len(have) == 0 {
		return "none"
	}
	return "[REDACTED " + strings.Join(have, ",") + "]"
}

// Balance is the account balance.
type Balance struct {
	Meta     Meta            `json:"meta"`
	Balance  Decimal         `json:"balance"`
	Currency string          `json:"currency"`
	Raw      json.RawMessage `json:"-"`
}

// PingResult is the GET /ping answer.
type PingResult struct {
	Meta    Meta `json:"meta"`
	Message string
	Raw     json.RawMessage `json:"-"`
}

// V2Package is a package of a v2 product, with its canonical id.
type V2Package struct {
	ID    string  `json:"id"`
	Value string  `json:"value"`
	Price Decimal `json:"price,omitempty"`
}

// V2Range is the open-value range of a v2 product.
type V2Range struct {
	Min  Decimal `json:"min"`
	Max  Decimal `json:"max"`
	Step Decimal `json:"step,omitempty"`
}

// V2Product is a product of the B2B catalogue (GET /products), which gives
// the canonical package ids for CreateInvoice.
type V2Product struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	CountryCode   string      `json:"country_code,omitempty"`
	CountryName   string      `json:"country_name,omitempty"`
	Currency      string      `json:"currency,omitempty"`
	CreatedTime   string      `json:"created_time,omitempty"`
	RecipientType string      `json:"recipient_type,omitempty"`
	Image         string      `json:"image,omitempty"`
	InStock       *bool       `json:"in_stock,omitempty"`
	Packages      []V2Package `json:"packages,omitempty"`
	Range         *V2Range    `json:"range,omitempty"`
}

// ProductList is a page of the B2B catalogue.
type ProductList struct {
	ListPage
	Products []V2Product
	Raw      json.RawMessage `json:"-"`
}

// ProductResult is a single B2B product.
type ProductResult struct {
	Meta    Meta `json:"meta"`
	Product V2Product
	Raw     json.RawMessage `json:"-"`
}

// PhoneNumberOperator is the operator found by CheckPhoneNumber.
type PhoneNumberOperator struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	CountryCode   string `json:"country_code"`
	CountryName   string `json:"country_name"`
	Currency      string `json:"currency"`
	CreatedTime   string `json:"created_time,omitempty"`
	RecipientType string `json:"recipient_type,omitempty"`
	Image         string `json:"image,omitempty"`
	InStock       bool   `json:"in_stock"`
}

// PhoneNumberResult is the GET /check_phone_number answer.
type PhoneNumberResult struct {
	Meta          Meta `json:"meta"`
	OperatorFound bool
	// Operator is nil when no operator matched.
	Operator *PhoneNumberOperator
	Raw      json.RawMessage `json:"-"`
}

// envelope is the generic v2 body.
type envelope struct {
	Meta    Meta            `json:"meta"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message,omitempty"`
}

// DecodeEnvelope decodes a v2 `{meta, data}` body; data must be present
// (not null) unless allowNoData.
func decodeEnvelope(body []byte, allowNoData bool) (*envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if !allowNoData && (len(env.Data) == 0 || string(env.Data) == "null") {
		return nil, fmt.Errorf("envelope has no data")
	}
	return &env, nil
}

// DecodeInvoiceResult decodes a single-invoice v2 body.
func DecodeInvoiceResult(body []byte) (*InvoiceResult, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &InvoiceResult{Meta: env.Meta, Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Invoice); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if res.Invoice.ID == "" {
		return nil, fmt.Errorf("data: invoice without id")
	}
	return res, nil
}

// DecodeInvoiceList decodes a GET /invoices body. Paging is relative to p.
func DecodeInvoiceList(body []byte, p ListParams) (*InvoiceList, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &InvoiceList{Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Invoices); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if env.Meta.Count == 0 {
		env.Meta.Count = len(res.Invoices)
	}
	res.ListPage = pageFrom(env.Meta, p)
	return res, nil
}

// DecodeOrderResult decodes a single-order v2 body.
func DecodeOrderResult(body []byte) (*OrderResult, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &OrderResult{Meta: env.Meta, Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Order); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if res.Order.ID == "" {
		return nil, fmt.Errorf("data: order without id")
	}
	return res, nil
}

// DecodeOrderList decodes a GET /orders body. Paging is relative to p.
func DecodeOrderList(body []byte, p ListParams) (*OrderList, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &OrderList{Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Orders); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if env.Meta.Count == 0 {
		env.Meta.Count = len(res.Orders)
	}
	res.ListPage = pageFrom(env.Meta, p)
	return res, nil
}

// DecodeUnsealResult decodes a GET /orders/{id}/unseal body.
func DecodeUnsealResult(body []byte) (*UnsealResult, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &UnsealResult{Meta: env.Meta, Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Order); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if res.Order.ID == "" {
		return nil, fmt.Errorf("data: order without id")
	}
	return res, nil
}

// DecodeBalance decodes a GET /accounts/balance body.
func DecodeBalance(body []byte) (*Balance, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &Balance{Meta: env.Meta, Raw: json.RawMessage(body)}
	var d struct {
		Balance  Decimal `json:"balance"`
		Currency string  `json:"currency"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	res.Balance, res.Currency = d.Balance, d.Currency
	return res, nil
}

// DecodePing decodes a GET /ping body: `{meta, message}` (a `data.message`
// is accepted too).
func DecodePing(body []byte) (*PingResult, error) {
	env, err := decodeEnvelope(body, true)
	if err != nil {
		return nil, err
	}
	res := &PingResult{Meta: env.Meta, Message: env.Message, Raw: json.RawMessage(body)}
	if res.Message == "" && len(env.Data) > 0 {
		var d struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(env.Data, &d) == nil {
			res.Message = d.Message
		}
	}
	return res, nil
}

// DecodeProductList decodes a GET /products body. Paging is relative to p.
func DecodeProductList(body []byte, p ListParams) (*ProductList, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &ProductList{Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Products); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if env.Meta.Count == 0 {
		env.Meta.Count = len(res.Products)
	}
	res.ListPage = pageFrom(env.Meta, p)
	return res, nil
}

// DecodeProductResult decodes a GET /products/{id} body.
func DecodeProductResult(body []byte) (*ProductResult, error) {
	env, err := decodeEnvelope(body, false)
	if err != nil {
		return nil, err
	}
	res := &ProductResult{Meta: env.Meta, Raw: json.RawMessage(body)}
	if err := json.Unmarshal(env.Data, &res.Product); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return res, nil
}

// DecodePhoneNumberResult decodes a GET /check_phone_number body.
func DecodePhoneNumberResult(body []byte) (*PhoneNumberResult, error) {
	var doc struct {
		Meta          Meta                 `json:"meta"`
		Data          *PhoneNumberOperator `json:"data"`
		OperatorFound *bool                `json:"operator_found"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	res := &PhoneNumberResult{Meta: doc.Meta, Operator: doc.Data, Raw: json.RawMessage(body)}
	if doc.OperatorFound != nil {
		res.OperatorFound = *doc.OperatorFound
	} else {
		res.OperatorFound = doc.Data != nil && doc.Data.ID != ""
	}
	if !res.OperatorFound {
		res.Operator = nil
	}
	return res, nil
}

// invalidResponse wraps a decode failure.
func invalidResponse(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalidResponse, what, err)
}

// InvoiceProduct is one item of CreateInvoiceRequest.Products. Exactly one
// of Value and PackageID must be set.
type InvoiceProduct struct {
	// ProductID is the product slug/id, e.g. "steam-usa".
	ProductID string `json:"product_id"`
	// Quantity defaults (upstream) to 1 when 0.
	Quantity int `json:"quantity,omitempty"`
	// Value is the face value; use the exact packages[].amount of the
	// product detail, or a value inside its range.
	Value Decimal `json:"value,omitempty"`
	// PackageID is the alternative to Value (see GetProduct / PackageID).
	PackageID string `json:"package_id,omitempty"`
	// PhoneNumber is required for mobile top-ups.
	PhoneNumber string `json:"phone_number,omitempty"`
	SendEmail   bool   `json:"send_email,omitempty"`
	SendSMS     bool   `json:"send_sms,omitempty"`
}

// CreateInvoiceRequest is the body of POST /invoices.
type CreateInvoiceRequest struct {
	Products []InvoiceProduct `json:"products"`
	// PaymentMethod is one of PaymentMethods (or legacy "ethereum").
	PaymentMethod string `json:"payment_method"`
	// WebhookURL is an optional absolute http(s) URL notified by Bitrefill.
	WebhookURL string `json:"webhook_url,omitempty"`
	// AutoPay pays the invoice from the account balance at once.
	AutoPay bool `json:"auto_pay,omitempty"`
}

var phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{4,24}$`)

// Validate checks the request client-side; errors are *ValidationError.
func (r *CreateInvoiceRequest) Validate() error {
	if len(r.Products) == 0 {
		return invalid("products", "at least one product is required")
	}
	if len(r.Products) > MaxInvoiceProducts {
		return invalid("products", "at most %d products per invoice", MaxInvoiceProducts)
	}
	for i, p := range r.Products {
		f := func(name string) string { return fmt.Sprintf("products[%d].%s", i, name) }
		if strings.TrimSpace(p.ProductID) == "" {
			return invalid(f("product_id"), "is required")
		}
		if p.Quantity < 0 || p.Quantity > 100 {
			return invalid(f("quantity"), "must be between 1 and 100")
		}
		hasValue, hasPkg := p.Value != "", strings.TrimSpace(p.PackageID) != ""
		switch {
		case hasValue && hasPkg:
			return invalid(f("value"), "set either value or package_id, not both")
		case !hasValue && !hasPkg:
			return invalid(f("value"), "either value or package_id is required (value: use packages[].amount from the product detail)")
		case hasValue:
			v, ok := p.Value.Rat()
			if !ok {
				return invalid(f("value"), "must be a decimal number")
			}
			if v.Sign() <= 0 {
				return invalid(f("value"), "must be greater than 0")
			}
		}
		if p.PhoneNumber != "" && !phonePattern.MatchString(p.PhoneNumber) {
			return invalid(f("phone_number"), "must be a phone number such as +14155550100")
		}
	}
	if r.PaymentMethod == "" {
		return invalid("payment_method", "is required (one of %s)", strings.Join(PaymentMethods(), ", "))
	}
	if !ValidPaymentMethod(r.PaymentMethod) {
		return invalid("payment_method", "must be one of %s", strings.Join(PaymentMethods(), ", "))
	}
	if r.AutoPay && r.PaymentMethod != PaymentMethodBalance {
		return invalid("auto_pay", "only works with payment_method %q", PaymentMethodBalance)
	}
	if r.WebhookURL != "" {
		u, err := url.Parse(r.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return invalid("webhook_url", "must be an absolute http(s) URL without credentials")
		}
	}
	return nil
}

// CreateInvoice calls POST /invoices. The request is validated first and
// sent at most once: a failure after it may have reached Bitrefill matches
// ErrOutcomeUnknown. With AutoPay, a 403 matches ErrInsufficientFunds.
func (c *Client) CreateInvoice(ctx context.Context, in CreateInvoiceRequest) (*InvoiceResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodPost, segments: []string{"invoices"},
		body: in, auth: true, fundsOn403: in.AutoPay}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeInvoiceResult(resp.body)
	if err != nil {
		return nil, invalidResponse("create invoice", err)
	}
	return res, nil
}

// ListInvoices calls GET /invoices.
func (c *Client) ListInvoices(ctx context.Context, p ListParams) (*InvoiceList, error) {
	q, err := p.query(true)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"invoices"}, query: q, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeInvoiceList(resp.body, p)
	if err != nil {
		return nil, invalidResponse("list invoices", err)
	}
	return res, nil
}

// GetInvoice calls GET /invoices/{id}.
func (c *Client) GetInvoice(ctx context.Context, id string) (*InvoiceResult, error) {
	id, err := pathSegment("id", id)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"invoices", id}, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeInvoiceResult(resp.body)
	if err != nil {
		return nil, invalidResponse("get invoice", err)
	}
	return res, nil
}

// PayInvoice calls POST /invoices/{id}/pay (balance invoices only). It is
// sent at most once; a 403 matches ErrInsufficientFunds, a 404 ErrNotFound
// (unknown or already paid), an ambiguous failure ErrOutcomeUnknown.
func (c *Client) PayInvoice(ctx context.Context, id string) (*InvoiceResult, error) {
	id, err := pathSegment("id", id)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodPost, segments: []string{"invoices", id, "pay"},
		auth: true, fundsOn403: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeInvoiceResult(resp.body)
	if err != nil {
		return nil, invalidResponse("pay invoice", err)
	}
	return res, nil
}

// ListOrders calls GET /orders.
func (c *Client) ListOrders(ctx context.Context, p ListParams) (*OrderList, error) {
	q, err := p.query(true)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"orders"}, query: q, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeOrderList(resp.body, p)
	if err != nil {
		return nil, invalidResponse("list orders", err)
	}
	return res, nil
}

// GetOrder calls GET /orders/{id}.
func (c *Client) GetOrder(ctx context.Context, id string) (*OrderResult, error) {
	id, err := pathSegment("id", id)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"orders", id}, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeOrderResult(resp.body)
	if err != nil {
		return nil, invalidResponse("get order", err)
	}
	return res, nil
}

// UnsealOrder calls GET /orders/{id}/unseal and returns the redemption
// secrets (code, PIN, link). They are never logged by this package.
func (c *Client) UnsealOrder(ctx context.Context, id string) (*UnsealResult, error) {
	id, err := pathSegment("id", id)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"orders", id, "unseal"}, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeUnsealResult(resp.body)
	if err != nil {
		return nil, invalidResponse("unseal order", err)
	}
	return res, nil
}

// Balance calls GET /accounts/balance.
func (c *Client) Balance(ctx context.Context) (*Balance, error) {
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"accounts", "balance"}, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeBalance(resp.body)
	if err != nil {
		return nil, invalidResponse("balance", err)
	}
	return res, nil
}

// Ping calls GET /ping, without credentials.
func (c *Client) Ping(ctx context.Context) (*PingResult, error) {
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"ping"}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodePing(resp.body)
	if err != nil {
		return nil, invalidResponse("ping", err)
	}
	return res, nil
}

// ListProducts calls GET /products (the B2B catalogue). After/Before are
// not supported there.
func (c *Client) ListProducts(ctx context.Context, p ListParams) (*ProductList, error) {
	q, err := p.query(false)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"products"}, query: q, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeProductList(resp.body, p)
	if err != nil {
		return nil, invalidResponse("list products", err)
	}
	return res, nil
}

// GetProduct calls GET /products/{id}.
func (c *Client) GetProduct(ctx context.Context, id string) (*ProductResult, error) {
	id, err := pathSegment("id", id)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"products", id}, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeProductResult(resp.body)
	if err != nil {
		return nil, invalidResponse("get product", err)
	}
	return res, nil
}

// CheckPhoneNumber calls GET /check_phone_number to find the operator of a
// phone number (for top-ups). operator is an optional operator slug hint.
func (c *Client) CheckPhoneNumber(ctx context.Context, phoneNumber, operator string) (*PhoneNumberResult, error) {
	phoneNumber = strings.TrimSpace(phoneNumber)
	if !phonePattern.MatchString(phoneNumber) {
		return nil, invalid("phone_number", "must be a phone number such as +14155550100")
	}
	q := [][2]string{{"phone_number", phoneNumber}}
	if operator = strings.TrimSpace(operator); operator != "" {
		q = append(q, [2]string{"operator", operator})
	}
	r := &request{api: apiV2, method: http.MethodGet, segments: []string{"check_phone_number"}, query: q, auth: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodePhoneNumberResult(resp.body)
	if err != nil {
		return nil, invalidResponse("check phone number", err)
	}
	return res, nil
}
