package bitnovo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// CreateOrderRequest is the body of E1 (POST /api/v1/orders/), sent as
// multipart/form-data like the API's other clients do (reference §19).
type CreateOrderRequest struct {
	ExpectedOutputAmount Decimal // fiat amount, required, > 0 (expected_output_amount)
	InputCurrency        string  // crypto symbol, exact case; "" for a gateway (payment link) order
	Fiat                 string  // ISO 4217 code, upper-cased; "EUR" when ""
	Notes                string
	Reference            string
	Language             string // e.g. "ES", "EN"
	URLOK                string // absolute http(s) URL, sent as merchant_urlok
	URLKO                string // absolute http(s) URL, sent as merchant_urlko
}

// Order is a created order (E1) or the details of one (E3).
type Order struct {
	Identifier    string
	Reference     string
	PaymentURI    string
	WebURL        string
	Address       string
	TagMemo       string
	InputCurrency string
	Notes         string
	Fiat          string
	Language      string
	URLOK         string // merchant_urlok or url_ok, when echoed
	URLKO         string // merchant_urlko or url_ko, when echoed

	ExpectedOutputAmount Decimal // fiat amount, when echoed (expected_output_amount, amount or fiat_amount)
	ExpectedInputAmount  Decimal // crypto amount; "" for a gateway order
	Rate                 Decimal

	CreatedAt string // raw ISO text, may be empty
	ExpiredAt string // raw ISO text (expired_at, else expired_time), may be empty
	Status    string // order status when present, passed through untouched
}

// OrderInfo is the status of an order (E2).
type OrderInfo struct {
	Identifier  string
	Reference   string
	Status      string // passed through untouched, including unknown codes such as RF or DE
	CurrencyID  string // currency_id (else input_currency, else currency)
	Address     string
	TagMemo     string
	Fiat        string
	Notes       string
	PaymentURI  string
	WebURL      string
	URLOK       string // url_ok or merchant_urlok
	URLKO       string // url_ko or merchant_urlko
	CreatedAt   string // raw ISO text
	EditedAt    string // edited_at, else updated_at
	ExpiredTime string // expired_time, else expired_at

	FiatAmount        Decimal
	CryptoAmount      Decimal
	UnconfirmedAmount Decimal
	ConfirmedAmount   Decimal
	ReceivedAmount    Decimal
	ExchangeRate      Decimal
	NetworkFee        Decimal

	Transactions []Transaction
}

// Transaction is one blockchain transaction of an order.
type Transaction struct {
	Confirmed bool
	Currency  string
	Amount    Decimal
	TxHash    string
	Block     int64 // 0 when null or not an integer
	CreatedAt string
}

// Currency is an entry of the currency catalog (E4). MinAmount and MaxAmount
// are passed through as sent; "" (null) means no limit. A MaxAmount of "0"
// is kept as "0": interpreting it is the caller's decision.
type Currency struct {
	Symbol     string
	Name       string
	Image      string
	Blockchain string
	MinAmount  Decimal
	MaxAmount  Decimal
}

// CreateOrder creates an order (E1, POST /api/v1/orders/). The request is
// sent at most once unless the connection could not be established at all.
//
// Errors: ErrInvalidRequest for bad arguments (nothing sent); an *APIError
// for a definite rejection (a 4xx, or a 2xx whose body says
// {"status":"error"}: Code CREATE_PAYMENT_FAILED); an error wrapping
// ErrOutcomeUnknown when the order may exist (never resend it); a plain
// error when no connection could be made.
func (c *Client) CreateOrder(ctx context.Context, r CreateOrderRequest) (*Order, error) {
	body, ctype, err := r.encode()
	if err != nil {
		return nil, err
	}
	res, err := c.post(ctx, pathOrders, body, ctype)
	if err != nil {
		return nil, err
	}
	o, definite, err := parseCreateOrder(res.body)
	if err != nil {
		e := &APIError{
			StatusCode: res.status,
			Code:       CodeCreatePaymentFailed,
			Message:    err.Error(),
			Body:       capBody(res.body),
			Method:     http.MethodPost,
			Path:       pathOrders,
		}
		if definite {
			return nil, e
		}
		e.Code, e.sentinel = CodeCreatePaymentInvalidResponse, ErrMalformedResponse
		return nil, &outcomeUnknownError{http.MethodPost, pathOrders, e}
	}
	return o, nil
}

// OrderInfo returns the status of an order (E2, GET
// /api/v1/orders/info/{id}). A 404 or an empty list matches ErrNotFound.
func (c *Client) OrderInfo(ctx context.Context, id string) (*OrderInfo, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := pathOrderInfo + url.PathEscape(id)
	res, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	info, err := parseOrderInfo(res.body, id)
	if err != nil {
		return nil, fillAPIError(err, res, http.MethodGet, path)
	}
	return info, nil
}

// OrderDetails returns the details of an order (E3, GET
// /api/v1/orders/{id}). 404 and 405 match ErrNotFound, so the caller can fall
// back to OrderInfo.
func (c *Client) OrderDetails(ctx context.Context, id string) (*Order, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := pathOrder + url.PathEscape(id)
	res, err := c.get(ctx, path)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusMethodNotAllowed {
			apiErr.sentinel = ErrNotFound
		}
		return nil, err
	}
	o, err := parseOrderDetails(res.body, id)
	if err != nil {
		return nil, fillAPIError(err, res, http.MethodGet, path)
	}
	return o, nil
}

// Currencies returns the currency catalog (E4, GET /api/v1/currencies).
// Entries without a symbol or with unreadable amounts are skipped and logged.
func (c *Client) Currencies(ctx context.Context) ([]Currency, error) {
	res, err := c.get(ctx, pathCurrencies)
	if err != nil {
		return nil, err
	}
	list, skipped, err := parseCurrencies(res.body)
	if err != nil {
		return nil, fillAPIError(err, res, http.MethodGet, pathCurrencies)
	}
	if skipped > 0 {
		c.log.WarnContext(ctx, "bitnovo: skipped unreadable currencies", "skipped", skipped, "kept", len(list))
	}
	return list, nil
}

// fillAPIError completes the *APIError a parser returned with the request
// and response details.
func fillAPIError(err error, res *response, method, path string) error {
	var e *APIError
	if errors.As(err, &e) {
		e.StatusCode, e.Method, e.Path = res.status, method, path
		if e.Body == nil {
			e.Body = capBody(res.body)
		}
	}
	return err
}

const maxIDLen = 256

func checkID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty identifier", ErrInvalidRequest)
	case id == "." || id == "..":
		return fmt.Errorf("%w: identifier %q", ErrInvalidRequest, id)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w: identifier longer than %d bytes", ErrInvalidRequest, maxIDLen)
	case hasCtl(id):
		return fmt.Errorf("%w: identifier contains control characters", ErrInvalidRequest)
	}
	return nil
}

// encode validates the request and renders the multipart body. Empty
// optional fields are omitted.
func (r CreateOrderRequest) encode() (body []byte, contentType string, err error) {
	amount, err := ParseDecimal(string(r.ExpectedOutputAmount))
	if err != nil {
		return nil, "", fmt.Errorf("%w: expected_output_amount: %w", ErrInvalidRequest, err)
	}
	if amount.Sign() <= 0 {
		return nil, "", fmt.Errorf("%w: expected_output_amount must be greater than 0, got %s", ErrInvalidRequest, amount)
	}
	fiat := strings.ToUpper(strings.TrimSpace(r.Fiat))
	if fiat == "" {
		fiat = "EUR"
	}
	if !isUpperAlpha(fiat, 3, 3) {
		return nil, "", fmt.Errorf("%w: fiat must be a 3-letter currency code, got %q", ErrInvalidRequest, r.Fiat)
	}
	if r.InputCurrency != "" && !isSymbol(r.InputCurrency) {
		return nil, "", fmt.Errorf("%w: input_currency %q is not a currency symbol", ErrInvalidRequest, r.InputCurrency)
	}
	for _, f := range []struct{ name, v string }{{"merchant_urlok", r.URLOK}, {"merchant_urlko", r.URLKO}} {
		if f.v != "" && !isHTTPURL(f.v) {
			return nil, "", fmt.Errorf("%w: %s must be an absolute http or https URL", ErrInvalidRequest, f.name)
		}
	}
	fields := []struct{ name, v string }{
		{"expected_output_amount", string(amount)},
		{"input_currency", r.InputCurrency},
		{"fiat", fiat},
		{"notes", r.Notes},
		{"reference", r.Reference},
		{"language", r.Language},
		{"merchant_urlok", r.URLOK},
		{"merchant_urlko", r.URLKO},
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if f.v == "" {
			continue
		}
		if err := w.WriteField(f.name, f.v); err != nil {
			return nil, "", fmt.Errorf("bitnovo: encoding %s: %w", f.name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("bitnovo: encoding form: %w", err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

func isUpperAlpha(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// isSymbol accepts currency symbols such as BTC, BTC_TEST, USDC_ETH_TEST.
func isSymbol(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '_', b == '-', b == '.':
		default:
			return false
		}
	}
	return true
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !hasCtl(s)
}
