package shop

import (
	"context"
	"fmt"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
)

// BalanceResult is the account balance.
type BalanceResult struct {
	Balance  float64 `json:"balance" jsonschema:"account balance"`
	Currency string  `json:"currency"`
	Sandbox  bool    `json:"sandbox,omitempty"`
}

// Balance returns the account balance.
func (s *Service) Balance(ctx context.Context) (*BalanceResult, error) {
	b, err := s.c.Balance(ctx)
	if err != nil {
		return nil, mapErr(err, CodeUpstream)
	}
	return &BalanceResult{Balance: f64v(b.Balance), Currency: b.Currency, Sandbox: s.o.Sandbox}, nil
}

// OrderProduct is the product of an order.
type OrderProduct struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Value    string `json:"value,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// Order is an order without its redemption secrets (see unseal_order).
type Order struct {
	ID            string       `json:"id"`
	Status        string       `json:"status"`
	Product       OrderProduct `json:"product"`
	CreatedTime   string       `json:"created_time,omitempty"`
	DeliveredTime *string      `json:"delivered_time"`
	InvoiceID     string       `json:"invoice_id,omitempty"`
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
	Payment       Payment `json:"payment"`
	Orders        []Order `json:"orders"`
}

func order(o bitrefill.Order) Order {
	out := Order{ID: o.ID, Status: o.Status, CreatedTime: o.CreatedTime, DeliveredTime: o.DeliveredTime,
		Product: OrderProduct{ID: o.Product.ID, Name: o.Product.Name, Value: o.Product.Value, Currency: o.Product.Currency}}
	if o.Invoice != nil {
		out.InvoiceID = o.Invoice.ID
	}
	return out
}

func invoice(i bitrefill.Invoice) Invoice {
	out := Invoice{ID: i.ID, CreatedTime: i.CreatedTime, CompletedTime: i.CompletedTime, Status: i.Status, Orders: []Order{},
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

// InvoiceList is a page of invoices.
type InvoiceList struct {
	Invoices []Invoice `json:"invoices"`
	Paging
	Sandbox bool `json:"sandbox,omitempty"`
}

// ListInvoices lists invoices, newest first.
func (s *Service) ListInvoices(ctx context.Context, in ListInput) (*InvoiceList, error) {
	r, err := s.c.ListInvoices(ctx, in.params())
	if err != nil {
		return nil, mapErr(err, CodeInvoiceNotFound)
	}
	out := &InvoiceList{Invoices: []Invoice{}, Paging: paging(in, r.ListPage, len(r.Invoices)), Sandbox: s.o.Sandbox}
	for _, i := range r.Invoices {
		out.Invoices = append(out.Invoices, invoice(i))
	}
	return out, nil
}

// InvoiceResult is one invoice.
type InvoiceResult struct {
	Invoice Invoice `json:"invoice"`
	Sandbox bool    `json:"sandbox,omitempty"`
}

// GetInvoice returns one invoice.
func (s *Service) GetInvoice(ctx context.Context, id string) (*InvoiceResult, error) {
	r, err := s.c.GetInvoice(ctx, id)
	if err != nil {
		return nil, mapErr(err, CodeInvoiceNotFound)
	}
	return &InvoiceResult{Invoice: invoice(r.Invoice), Sandbox: s.o.Sandbox}, nil
}

// OrderList is a page of orders.
type OrderList struct {
	Orders []Order `json:"orders"`
	Paging
	Sandbox bool `json:"sandbox,omitempty"`
}

// ListOrders lists orders.
func (s *Service) ListOrders(ctx context.Context, in ListInput) (*OrderList, error) {
	r, err := s.c.ListOrders(ctx, in.params())
	if err != nil {
		return nil, mapErr(err, CodeOrderNotFound)
	}
	out := &OrderList{Orders: []Order{}, Paging: paging(in, r.ListPage, len(r.Orders)), Sandbox: s.o.Sandbox}
	for _, o := range r.Orders {
		out.Orders = append(out.Orders, order(o))
	}
	return out, nil
}

// OrderResult is one order.
type OrderResult struct {
	Order   Order  `json:"order"`
	Note    string `json:"note"`
	Sandbox bool   `json:"sandbox,omitempty"`
}

// GetOrder returns one order (without its codes).
func (s *Service) GetOrder(ctx context.Context, id string) (*OrderResult, error) {
	r, err := s.c.GetOrder(ctx, id)
	if err != nil {
		return nil, mapErr(err, CodeOrderNotFound)
	}
	return &OrderResult{Order: order(r.Order), Sandbox: s.o.Sandbox,
		Note: "redemption codes and PINs are not shown here; unseal_order reveals them to the user"}, nil
}
