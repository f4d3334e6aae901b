package payments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// StatusResult is the output of get_payment_status.
type StatusResult struct {
	Identifier        string        `json:"identifier"`
	Status            string        `json:"status" jsonschema:"NR, PE, AC, IA, OC, CO, CA, EX or FA; unknown codes are passed through"`
	StatusName        string        `json:"status_name"`
	StatusDescription string        `json:"status_description"`
	FiatAmount        string        `json:"fiat_amount,omitempty"`
	FiatCurrency      string        `json:"fiat_currency,omitempty"`
	CryptoAmount      *string       `json:"crypto_amount" jsonschema:"crypto amount the customer must pay, exact decimal text; null until Bitnovo assigned one"`
	ConfirmedAmount   *string       `json:"confirmed_amount" jsonschema:"crypto received and confirmed; null when Bitnovo sent none"`
	UnconfirmedAmount *string       `json:"unconfirmed_amount" jsonschema:"crypto seen but not yet confirmed; null when Bitnovo sent none"`
	RemainingAmount   string        `json:"remaining_amount,omitempty" jsonschema:"crypto still owed when status is IA"`
	CurrencyID        string        `json:"currency_id,omitempty"`
	NetworkFee        *string       `json:"network_fee" jsonschema:"null when Bitnovo sent none"`
	CreatedAt         string        `json:"created_at,omitempty"`
	UpdatedAt         string        `json:"updated_at,omitempty"`
	ExpiredTime       string        `json:"expired_time,omitempty"`
	ExpiresAt         string        `json:"expires_at,omitempty"`
	RequiresAction    bool          `json:"requires_action" jsonschema:"the customer still has to pay (PE or IA, not expired)"`
	IsExpired         bool          `json:"is_expired"`
	IsCompleted       bool          `json:"is_completed"`
	IsFailed          bool          `json:"is_failed" jsonschema:"CA, EX or FA"`
	IsTerminal        bool          `json:"is_terminal" jsonschema:"the status will not change any more"`
	Source            string        `json:"source" jsonschema:"api: read from Bitnovo now; webhook: Bitnovo could not be reached, so this is the latest verified webhook"`
	LastWebhook       *WebhookEvent `json:"last_webhook,omitempty" jsonschema:"the latest verified webhook received for this payment, when webhooks are enabled"`
	Sandbox           bool          `json:"sandbox,omitempty" jsonschema:"true in sandbox mode: no real payment exists"`
}

// Status reads a payment's current status from Bitnovo.
func (s *Service) Status(ctx context.Context, id string) (*StatusResult, error) {
	if err := checkIdentifier(id); err != nil {
		return nil, err
	}
	info, err := s.api.OrderInfo(ctx, id)
	if err != nil {
		pe := mapAPIError(err, "status")
		if isPermanent(pe) || ctx.Err() != nil {
			return nil, pe
		}
		if wh := s.lastWebhook(ctx, id); wh != nil {
			s.log.Warn("status read failed; answering from the latest verified webhook", "error", err)
			return s.statusFromWebhook(id, wh), nil
		}
		return nil, pe
	}
	st, _ := LookupStatus(info.Status)
	f := deriveFlags(info.Status, info.ExpiredTime, s.now())
	res := &StatusResult{
		Identifier:        cmp.Or(info.Identifier, id),
		Status:            info.Status,
		StatusName:        st.Name,
		StatusDescription: st.Description,
		FiatAmount:        string(info.FiatAmount),
		FiatCurrency:      info.Fiat,
		CryptoAmount:      cryptoAmount(string(info.CryptoAmount), info.CurrencyID),
		ConfirmedAmount:   cryptoAmount(string(info.ConfirmedAmount), info.CurrencyID),
		UnconfirmedAmount: cryptoAmount(string(info.UnconfirmedAmount), info.CurrencyID),
		CurrencyID:        info.CurrencyID,
		NetworkFee:        cryptoAmount(string(info.NetworkFee), info.CurrencyID),
		CreatedAt:         providerTime(info.CreatedAt),
		UpdatedAt:         providerTime(info.EditedAt),
		ExpiredTime:       info.ExpiredTime,
		ExpiresAt:         providerTime(info.ExpiredTime),
		RequiresAction:    f.RequiresAction,
		IsExpired:         f.IsExpired,
		IsCompleted:       f.IsCompleted,
		IsFailed:          f.IsFailed,
		IsTerminal:        st.Terminal,
		Source:            "api",
		LastWebhook:       s.lastWebhook(ctx, id),
		Sandbox:           s.sandbox,
	}
	if info.Status == "IA" && info.CryptoAmount != "" {
		if r, ok := remaining(string(info.CryptoAmount), string(info.ConfirmedAmount), string(info.UnconfirmedAmount)); ok {
			res.RemainingAmount = *cryptoAmount(r, info.CurrencyID)
		}
	}
	return res, nil
}

// statusFromWebhook answers get_payment_status from the latest verified
// webhook when Bitnovo cannot be reached.
func (s *Service) statusFromWebhook(id string, wh *WebhookEvent) *StatusResult {
	st, _ := LookupStatus(wh.Status)
	f := deriveFlags(wh.Status, "", s.now())
	return &StatusResult{
		Identifier: id, Status: wh.Status, StatusName: st.Name, StatusDescription: st.Description,
		UpdatedAt: wh.ReceivedAt, RequiresAction: f.RequiresAction, IsExpired: f.IsExpired, IsCompleted: f.IsCompleted,
		IsFailed: f.IsFailed, IsTerminal: st.Terminal, Source: "webhook", LastWebhook: wh, Sandbox: s.sandbox,
	}
}

// CatalogResult is the output of list_currencies_catalog.
type CatalogResult struct {
	Currencies    []Currency `json:"currencies"`
	TotalCount    int        `json:"total_count" jsonschema:"currencies before filtering"`
	FilteredCount int        `json:"filtered_count"`
	FilterApplied bool       `json:"filter_applied"`
	FilterAmount  string     `json:"filter_amount,omitempty"`
	CacheInfo     CacheInfo  `json:"cache_info"`
	Sandbox       bool       `json:"sandbox,omitempty" jsonschema:"true in sandbox mode: no real payment exists"`
}

// Catalog lists the currencies, optionally only those accepting amount EUR.
func (s *Service) Catalog(ctx context.Context, filterByAmount *float64) (*CatalogResult, error) {
	var amount string
	if filterByAmount != nil {
		a, err := fiatAmount("filter_by_amount", *filterByAmount)
		if err != nil {
			return nil, err
		}
		amount = a
	}
	list, info, err := s.catalog.get(ctx)
	if err != nil {
		return nil, mapAPIError(err, "catalog")
	}
	info.Age, info.Valid = int64(info.AgeSeconds)*1000, !info.Stale
	res := &CatalogResult{TotalCount: len(list), CacheInfo: info, Sandbox: s.sandbox, Currencies: []Currency{}}
	for _, c := range list {
		if amount != "" {
			if low, high := c.accepts(amount); low || high {
				continue
			}
		}
		res.Currencies = append(res.Currencies, c)
	}
	res.FilteredCount = len(res.Currencies)
	if amount != "" {
		res.FilterApplied, res.FilterAmount = true, amount
	}
	return res, nil
}

// QR types of generate_payment_qr.
const (
	QRAddress    = "address"
	QRPaymentURI = "payment_uri"
	QRBoth       = "both"
	QRGateway    = "gateway_url"
)

// QRInput are the arguments of generate_payment_qr.
type QRInput struct {
	Identifier         string
	Type               string
	Size               int
	Style              string
	Branding           bool
	GatewayEnvironment string
}

// QRResult is the output of generate_payment_qr.
type QRResult struct {
	Identifier   string  `json:"identifier"`
	QRAddress    string  `json:"qr_address,omitempty" jsonschema:"PNG data URL of a QR code of the address"`
	QRPaymentURI string  `json:"qr_payment_uri,omitempty" jsonschema:"PNG data URL of a QR code of the payment URI"`
	QRGatewayURL string  `json:"qr_gateway_url,omitempty" jsonschema:"PNG data URL of a QR code of the payment gateway URL"`
	Address      string  `json:"address,omitempty"`
	PaymentURI   string  `json:"payment_uri,omitempty"`
	GatewayURL   string  `json:"gateway_url,omitempty"`
	Size         int     `json:"size"`
	Style        string  `json:"style"`
	Branding     bool    `json:"branding"`
	Note         string  `json:"note,omitempty"`
	Sandbox      bool    `json:"sandbox,omitempty" jsonschema:"true in sandbox mode: no real payment exists"`
	Images       []Image `json:"-"`
}

var gatewayHosts = map[string]string{
	"development": "dev-paytest.bitnovo.com",
	"testing":     "paytest.bitnovo.com",
	"production":  "pay.bitnovo.com",
}

var shortIDRE = regexp.MustCompile(`^[A-Za-z0-9]{4,20}$`)

// gatewayURL returns the payment's gateway URL: web_url itself, or rebuilt
// on the named environment's host when one is asked for.
func gatewayURL(webURL, env string) (string, error) {
	if env == "" {
		return webURL, nil
	}
	host, ok := gatewayHosts[env]
	if !ok {
		return "", invalidArg("gateway_environment", "must be development, testing or production")
	}
	u, err := url.Parse(webURL)
	if err != nil {
		return "", newError(CodeQRNotAvailable, "the payment's web_url cannot be parsed", nil)
	}
	for _, seg := range splitPath(u.Path) {
		if shortIDRE.MatchString(seg) {
			return "https://" + host + "/" + seg, nil
		}
	}
	return "", newError(CodeQRNotAvailable, "no gateway short id found in the payment's web_url", map[string]any{"web_url": webURL})
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if i > start {
				out = append(out, p[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// lookupPayment finds what is needed to draw QR codes: the stored record
// first, then Bitnovo's info and details endpoints.
func (s *Service) lookupPayment(ctx context.Context, id string) (store.Payment, string, error) {
	p, err := s.store.GetPayment(ctx, id)
	if err == nil {
		// Stored data is enough to draw the codes; the live status only
		// guards against drawing a QR for a payment that has expired. If
		// Bitnovo cannot be asked, the stored expiry still applies.
		status := ""
		if info, err := s.api.OrderInfo(ctx, id); err == nil {
			status = info.Status
		} else {
			s.log.Debug("status check before QR failed; using the stored payment", "identifier", id, "error", err)
		}
		return p, status, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Payment{}, "", fmt.Errorf("read payment: %w", err)
	}
	info, err := s.api.OrderInfo(ctx, id)
	if err != nil {
		return store.Payment{}, "", mapAPIError(err, "status")
	}
	p = store.Payment{Identifier: id, Address: info.Address, PaymentURI: info.PaymentURI, WebURL: info.WebURL,
		InputCurrency: info.CurrencyID, TagMemo: info.TagMemo, ExpiresAt: info.ExpiredTime}
	if p.Address == "" || p.PaymentURI == "" || p.WebURL == "" {
		if d, err := s.api.OrderDetails(ctx, id); err == nil {
			p.Address, p.PaymentURI, p.WebURL = cmp.Or(p.Address, d.Address), cmp.Or(p.PaymentURI, d.PaymentURI), cmp.Or(p.WebURL, d.WebURL)
			p.InputCurrency = cmp.Or(p.InputCurrency, d.InputCurrency)
		} else if !errors.Is(err, bitnovo.ErrNotFound) {
			s.log.Debug("order details unavailable", "error", err)
		}
	}
	return p, info.Status, nil
}

// QR renders QR codes for an existing payment.
func (s *Service) QR(ctx context.Context, in QRInput) (*QRResult, error) {
	if err := checkIdentifier(in.Identifier); err != nil {
		return nil, err
	}
	if in.Type == "" {
		in.Type = QRBoth
	}
	if in.Size == 0 {
		in.Size = qr.DefaultSize
	}
	if in.Size < qr.MinSize || in.Size > qr.MaxSize {
		return nil, invalidArg("size", fmt.Sprintf("must be from %d to %d pixels", qr.MinSize, qr.MaxSize))
	}
	style := qr.Style(in.Style)
	if style == "" {
		style = qr.StyleBranded
	}
	if style != qr.StyleBasic && style != qr.StyleBranded {
		return nil, invalidArg("style", "must be basic or branded")
	}
	switch in.Type {
	case QRAddress, QRPaymentURI, QRBoth, QRGateway:
	default:
		return nil, invalidArg("qr_type", "must be address, payment_uri, both or gateway_url")
	}

	p, status, err := s.lookupPayment(ctx, in.Identifier)
	if err != nil {
		return nil, err
	}
	if status == "EX" || s.expired(p.ExpiresAt) {
		return nil, newError(CodePaymentExpired, "this payment has expired; a QR code for it would take money for nothing. Create a new payment",
			map[string]any{"identifier": in.Identifier, "expires_at": providerTime(p.ExpiresAt)})
	}
	if status == "CA" || status == "FA" {
		info, _ := LookupStatus(status)
		return nil, newError(CodeQRNotAvailable, "this payment was "+strings.ToLower(info.Name)+" and can no longer be paid; a QR code for it would take money for nothing. Create a new payment",
			map[string]any{"identifier": in.Identifier, "status": status})
	}

	res := &QRResult{Identifier: in.Identifier, Size: in.Size, Style: string(style), Branding: in.Branding, Sandbox: s.sandbox}
	job := func(field, data, logo string, dst *string) qrJob {
		return qrJob{field: field, data: data, logo: logo, size: in.Size, style: style, branding: in.Branding, dst: dst}
	}
	var jobs []qrJob
	addr := job("qr_address", p.Address, p.InputCurrency, &res.QRAddress)
	uri := job("qr_payment_uri", p.PaymentURI, p.InputCurrency, &res.QRPaymentURI)
	gateway := func() error {
		g, err := gatewayURL(p.WebURL, in.GatewayEnvironment)
		if err != nil {
			return err
		}
		res.GatewayURL = g
		jobs = append(jobs, job("qr_gateway_url", g, "bitnovo", &res.QRGatewayURL))
		return nil
	}
	switch in.Type {
	case QRAddress:
		jobs = append(jobs, addr)
	case QRPaymentURI:
		jobs = append(jobs, uri)
	case QRBoth:
		jobs = append(jobs, addr, uri)
		if p.Address == "" && p.PaymentURI == "" && p.WebURL != "" {
			// A payment link has no address until the customer picks a
			// currency: its gateway URL is the QR that works.
			jobs = nil
			res.Note = "this payment has no crypto address yet (the customer chooses the currency on the payment page), so the QR encodes its gateway URL"
			if err := gateway(); err != nil {
				return nil, err
			}
		}
	case QRGateway:
		if p.WebURL != "" {
			if err := gateway(); err != nil {
				return nil, err
			}
		}
	}
	jobs = slices.DeleteFunc(jobs, func(j qrJob) bool { return j.data == "" })
	for i, d := range s.renderAll(jobs) {
		if d.err != nil {
			return nil, d.err
		}
		if d.degraded {
			res.Note = degradedNote
		}
		*jobs[i].dst = d.img.DataURL
		res.Images = append(res.Images, Image{Field: jobs[i].field, PNG: d.img.PNG})
	}
	if len(res.Images) == 0 {
		return nil, newError(CodeQRNotAvailable, fmt.Sprintf("this payment has no data for a %s QR code", in.Type),
			map[string]any{"identifier": in.Identifier, "has_address": p.Address != "", "has_payment_uri": p.PaymentURI != "", "has_web_url": p.WebURL != ""})
	}
	if res.QRAddress != "" {
		res.Address = p.Address
	}
	if res.QRPaymentURI != "" {
		res.PaymentURI = p.PaymentURI
	}
	return res, nil
}
