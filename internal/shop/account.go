package shop

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
)

// Meta is the `meta` object of Bitrefill's v2 envelope, as the original
// server passed it on.
type Meta struct {
	Endpoint string `json:"_endpoint,omitempty" jsonschema:"the Bitrefill API path that answered"`
	ID       string `json:"id,omitempty"`
	Start    *int   `json:"start,omitempty"`
	Limit    *int   `json:"limit,omitempty"`
	Count    *int   `json:"count,omitempty" jsonschema:"items in this page"`
	After    string `json:"after,omitempty"`
	Before   string `json:"before,omitempty"`
	Next     string `json:"_next,omitempty" jsonschema:"Bitrefill's URL of the next page; use next_start instead"`
}

func singleMeta(m bitrefill.Meta) Meta { return Meta{Endpoint: m.Endpoint, ID: m.ID} }

func listMeta(m bitrefill.Meta, p Paging) Meta {
	start, limit, count := m.Start, m.Limit, m.Count
	if start == 0 {
		start = p.Start
	}
	if limit == 0 {
		limit = p.Limit
	}
	return Meta{Endpoint: m.Endpoint, Start: &start, Limit: &limit, Count: &count, After: m.After, Before: m.Before, Next: m.Next}
}

// Balance is the `data` of the balance answer.
type Balance struct {
	Balance  float64 `json:"balance" jsonschema:"account balance, in currency"`
	Currency string  `json:"currency"`
}

// BalanceResult is the account balance in Bitrefill's {data, meta} envelope.
type BalanceResult struct {
	Data    Balance `json:"data"`
	Meta    Meta    `json:"meta"`
	Sandbox bool    `json:"sandbox,omitempty"`
}

// Balance returns the account balance.
func (s *Service) Balance(ctx context.Context) (*BalanceResult, error) {
	b, err := s.c.Balance(ctx)
	if err != nil {
		return nil, mapErr(err, CodeUpstream)
	}
	return &BalanceResult{Data: Balance{Balance: f64v(b.Balance), Currency: b.Currency}, Meta: singleMeta(b.Meta), Sandbox: s.o.Sandbox}, nil
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

// User is the account user of an invoice or order.
type User struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
}

// InvoiceRef links an order to its invoice.
type InvoiceRef struct {
	ID   string `json:"id"`
	Href string `json:"_href,omitempty"`
}

// Order is an order without its redemption secrets (see unseal_order);
// redemption_info is left out too (it may hold redemption details).
type Order struct {
	ID            string       `json:"id"`
	Status        string       `json:"status"`
	Product       OrderProduct `json:"product"`
	CreatedTime   string       `json:"created_time,omitempty"`
	DeliveredTime *string      `json:"delivered_time" jsonschema:"null until delivered"`
	Commission    *float64     `json:"commission,omitempty"`
	User          *User        `json:"user,omitempty"`
	Invoice       *InvoiceRef  `json:"invoice,omitempty"`
	InvoiceID     string       `json:"invoice_id,omitempty" jsonschema:"same as invoice.id"`
	Quantity      int          `json:"quantity,omitempty" jsonschema:"units in this order when Bitrefill groups them in one order (absent: one)"`
}

func user(u *bitrefill.User) *User {
	if u == nil {
		return nil
	}
	return &User{ID: u.ID, Email: u.Email}
}

// Payment is an invoice's payment.
type Payment struct {
	Method           string   `json:"method"`
	Address          string   `json:"address,omitempty"`
	LightningInvoice string   `json:"lightning_invoice,omitempty"`
	PaymentURI       string   `json:"payment_uri,omitempty"`
	Currency         string   `json:"currency"`
	Price            float64  `json:"price"`
	Status           string   `json:"status" jsonschema:"unpaid, processing, payment_confirmed, ..."`
	Commission       *float64 `json:"commission,omitempty"`
}

// Invoice is a v2 invoice.
type Invoice struct {
	ID            string  `json:"id"`
	CreatedTime   string  `json:"created_time,omitempty"`
	CompletedTime string  `json:"completed_time,omitempty"`
	Status        string  `json:"status"`
	User          *User   `json:"user,omitempty"`
	Payment       Payment `json:"payment"`
	Orders        []Order `json:"orders"`
}

func order(o bitrefill.Order) Order {
	out := Order{ID: o.ID, Status: o.Status, CreatedTime: o.CreatedTime, DeliveredTime: o.DeliveredTime,
		Commission: f64(o.Commission), User: user(o.User),
		Product: OrderProduct{ID: o.Product.ID, Name: o.Product.Name, Value: o.Product.Value, Currency: o.Product.Currency,
			Image: o.Product.Image, Href: o.Product.Href}}
	if o.Invoice != nil {
		out.Invoice = &InvoiceRef{ID: o.Invoice.ID, Href: o.Invoice.Href}
		out.InvoiceID = o.Invoice.ID
	}
	if n, ok := orderQuantity(o); ok && o.Quantity != "" {
		out.Quantity = n
	}
	return out
}

// maxOrderQuantity bounds the quantity an order may claim (Bitrefill takes
// at most 100 per product line) so that a price times it cannot overflow.
const maxOrderQuantity = 10_000

// orderQuantity is how many units o holds: its quantity, or one when it
// has none. ok is false when the quantity is not a whole number from 1 to
// maxOrderQuantity: such an order cannot be counted.
func orderQuantity(o bitrefill.Order) (int, bool) {
	if o.Quantity == "" {
		return 1, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(o.Quantity)))
	if err != nil || n < 1 || n > maxOrderQuantity {
		return 0, false
	}
	return n, true
}

func invoice(i bitrefill.Invoice) Invoice {
	out := Invoice{ID: i.ID, CreatedTime: i.CreatedTime, CompletedTime: i.CompletedTime, Status: i.Status, User: user(i.User), Orders: []Order{},
		Payment: Payment{Method: i.Payment.Method, Address: i.Payment.Address, LightningInvoice: i.Payment.LightningInvoice,
			PaymentURI: i.Payment.PaymentURI, Currency: i.Payment.Currency, Price: f64v(i.Payment.Price), Status: i.Payment.Status,
			Commission: f64(i.Payment.Commission)}}
	for _, o := range i.Orders {
		out.Orders = append(out.Orders, order(o))
	}
	return out
}

// ListInput pages and filters the invoice and order lists.
type ListInput struct {
	Start, Limit  int
	After, Before string
}

// Paging is the paging contract of a list.
type Paging struct {
	Start     int    `json:"start"`
	Limit     int    `json:"limit"`
	Returned  int    `json:"returned"`
	HasMore   bool   `json:"has_more"`
	NextStart *int   `json:"next_start,omitempty" jsonschema:"pass as start (same filters) for the next page"`
	NextPage  string `json:"next_page"`
}

func paging(in ListInput, page bitrefill.ListPage, n int) Paging {
	limit := in.Limit
	if limit == 0 {
		limit = bitrefill.MaxListLimit
	}
	p := Paging{Start: in.Start, Limit: limit, Returned: n, HasMore: page.HasMore, NextPage: "this is the last page"}
	if page.HasMore {
		next := page.NextParams.Start
		if next <= in.Start {
			next = in.Start + n
		}
		p.NextStart = &next
		p.NextPage = fmt.Sprintf("call again with the same filters and start=%d", next)
	}
	return p
}

func (in ListInput) params() bitrefill.ListParams {
	return bitrefill.ListParams{Start: in.Start, Limit: in.Limit, After: in.After, Before: in.Before}
}

// InvoiceList is a page of invoices: Bitrefill's {data, meta} envelope
// with the paging contract beside it.
type InvoiceList struct {
	Data []Invoice `json:"data" jsonschema:"the invoices of this page"`
	Meta Meta      `json:"meta"`
	Paging
	Sandbox bool `json:"sandbox,omitempty"`
}

// ListInvoices lists invoices, newest first.
func (s *Service) ListInvoices(ctx context.Context, in ListInput) (*InvoiceList, error) {
	r, err := s.c.ListInvoices(ctx, in.params())
	if err != nil {
		return nil, mapErr(err, CodeInvoiceNotFound)
	}
	pg := paging(in, r.ListPage, len(r.Invoices))
	out := &InvoiceList{Data: []Invoice{}, Meta: listMeta(r.Meta, pg), Paging: pg, Sandbox: s.o.Sandbox}
	for _, i := range r.Invoices {
		out.Data = append(out.Data, invoice(i))
	}
	return out, nil
}

// InvoiceResult is one invoice in Bitrefill's {data, meta} envelope.
type InvoiceResult struct {
	Data    Invoice `json:"data"`
	Meta    Meta    `json:"meta"`
	Sandbox bool    `json:"sandbox,omitempty"`
}

// GetInvoice returns one invoice.
func (s *Service) GetInvoice(ctx context.Context, id string) (*InvoiceResult, error) {
	r, err := s.c.GetInvoice(ctx, id)
	if err != nil {
		return nil, mapErr(err, CodeInvoiceNotFound)
	}
	return &InvoiceResult{Data: invoice(r.Invoice), Meta: singleMeta(r.Meta), Sandbox: s.o.Sandbox}, nil
}

// OrderList is a page of orders: Bitrefill's {data, meta} envelope with
// the paging contract beside it.
type OrderList struct {
	Data []Order `json:"data" jsonschema:"the orders of this page (without codes)"`
	Meta Meta    `json:"meta"`
	Paging
	Sandbox bool `json:"sandbox,omitempty"`
}

// ListOrders lists orders.
func (s *Service) ListOrders(ctx context.Context, in ListInput) (*OrderList, error) {
	r, err := s.c.ListOrders(ctx, in.params())
	if err != nil {
		return nil, mapErr(err, CodeOrderNotFound)
	}
	pg := paging(in, r.ListPage, len(r.Orders))
	out := &OrderList{Data: []Order{}, Meta: listMeta(r.Meta, pg), Paging: pg, Sandbox: s.o.Sandbox}
	for _, o := range r.Orders {
		out.Data = append(out.Data, order(o))
	}
	return out, nil
}

// OrderResult is one order in Bitrefill's {data, meta} envelope.
type OrderResult struct {
	Data    Order  `json:"data"`
	Meta    Meta   `json:"meta"`
	Note    string `json:"note"`
	Sandbox bool   `json:"sandbox,omitempty"`
}

// GetOrder returns one order (without its codes).
func (s *Service) GetOrder(ctx context.Context, id string) (*OrderResult, error) {
	r, err := s.c.GetOrder(ctx, id)
	if err != nil {
		return nil, mapErr(err, CodeOrderNotFound)
	}
	return &OrderResult{Data: order(r.Order), Meta: singleMeta(r.Meta), Sandbox: s.o.Sandbox,
		Note: "redemption codes and PINs are not shown here; unseal_order reveals them to the user"}, nil
}
