package bitrefill_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
)

// newFakeClient starts the fake and returns a client wired to it.
func newFakeClient(t *testing.T, cfg fakebitrefill.Config, mod func(*bitrefill.Options)) (*bitrefill.Client, *fakebitrefill.Fake, *httptest.Server) {
	t.Helper()
	f, err := fakebitrefill.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	id, secret := f.Credentials()
	opts := bitrefill.Options{
		PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret,
		HTTPClient:     srv.Client(),
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond,
		AttemptTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := bitrefill.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, f, srv
}

func TestFakeSearch(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	ctx := context.Background()
	tests := []struct {
		name      string
		p         bitrefill.SearchParams
		wantMin   int
		check     func(t *testing.T, p bitrefill.SearchProduct)
		wantTotal int // -1: don't check
	}{
		{"all", bitrefill.SearchParams{Query: "*", Limit: 100}, 35, nil, -1},
		{"amazon", bitrefill.SearchParams{Query: "amazon"}, 7, func(t *testing.T, p bitrefill.SearchProduct) {
			if p.BaseName != "Amazon" {
				t.Errorf("got %s", p.ID)
			}
		}, 7},
		{"country lower-cased input", bitrefill.SearchParams{Query: "netflix", Country: "de"}, 1, func(t *testing.T, p bitrefill.SearchProduct) {
			if p.ID != "netflix-germany" {
				t.Errorf("got %s", p.ID)
			}
		}, 1},
		{"type as category", bitrefill.SearchParams{Query: "*", Category: "esims"}, 3, func(t *testing.T, p bitrefill.SearchProduct) {
			if p.Type != "esims" {
				t.Errorf("got type %s", p.Type)
			}
		}, -1},
		{"category", bitrefill.SearchParams{Query: "*", Category: "games", Country: "US"}, 2, func(t *testing.T, p bitrefill.SearchProduct) {
			if p.Category == "" {
				t.Errorf("no category on %s", p.ID)
			}
		}, -1},
		{"language", bitrefill.SearchParams{Query: "*", Language: "pt"}, 3, nil, -1},
		{"nothing", bitrefill.SearchParams{Query: "no-such-brand-xyz"}, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Search(ctx, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Products) < tt.wantMin {
				t.Fatalf("got %d products, want >= %d", len(res.Products), tt.wantMin)
			}
			if tt.wantTotal >= 0 && res.Total != tt.wantTotal {
				t.Errorf("Total = %d, want %d", res.Total, tt.wantTotal)
			}
			if !res.TotalExact {
				t.Error("fake sends totalCount, TotalExact should be true")
			}
			for _, p := range res.Products {
				if len(p.Raw) == 0 || p.ID == "" {
					t.Errorf("product without id/raw: %+v", p)
				}
				if tt.check != nil {
					tt.check(t, p)
				}
			}
		})
	}
}

func TestFakeSearchPaging(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	ctx := context.Background()
	seen := map[string]bool{}
	p := bitrefill.SearchParams{Query: "*", Limit: 7}
	pages := 0
	total := 0
	for {
		res, err := c.Search(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		total = res.Total
		for _, pr := range res.Products {
			if seen[pr.ID] {
				t.Fatalf("duplicate %s across pages", pr.ID)
			}
			seen[pr.ID] = true
		}
		pages++
		if !res.HasMore {
			if res.NextSkip != 0 {
				t.Errorf("NextSkip = %d on last page", res.NextSkip)
			}
			break
		}
		if res.NextSkip != p.Skip+len(res.Products) {
			t.Fatalf("NextSkip = %d", res.NextSkip)
		}
		p.Skip = res.NextSkip
		if pages > 20 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != total || total < 30 {
		t.Fatalf("saw %d products, total %d", len(seen), total)
	}
}

func TestFakeSearchOmittedProducts(t *testing.T) {
	c, f, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	f.SetOmitProducts(true)
	res, err := c.Search(context.Background(), bitrefill.SearchParams{Query: "amazon"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Products) != 0 || res.HasMore {
		t.Fatalf("want empty result, got %d products, more=%v", len(res.Products), res.HasMore)
	}
}

func TestFakeProductDetail(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	ctx := context.Background()
	d, err := c.ProductDetail(ctx, "amazon_com-usa")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "amazon_com-usa" || d.Currency != "USD" || len(d.Packages) == 0 {
		t.Fatalf("unexpected detail: %+v", d)
	}
	for _, p := range d.Packages {
		if p.Amount == "" || p.UsdPrice == "" || p.EurPrice == "" || p.Prices["BTC"] == "" || p.Prices["USDC"] == "" {
			t.Errorf("incomplete package %+v", p)
		}
	}
	if d.Ratings == nil || len(d.Ratings.Reviews) == 0 {
		t.Error("no reviews")
	}
	if !strings.Contains(string(d.Raw), `"sandbox":true`) {
		t.Error("Raw should keep unknown fields")
	}

	ranged, err := c.ProductDetail(ctx, "apple-usa")
	if err != nil {
		t.Fatal(err)
	}
	if ranged.Range == nil || ranged.Range.Min != "2" || ranged.Range.Max != "500" {
		t.Errorf("range = %+v", ranged.Range)
	}

	_, err = c.ProductDetail(ctx, "no-such-product")
	if !errors.Is(err, bitrefill.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	_, err = c.ProductDetail(ctx, "../omni")
	if !errors.Is(err, bitrefill.ErrNotFound) {
		t.Fatalf("escaped id: err = %v, want ErrNotFound", err)
	}
}

func TestFakePurchaseFlow(t *testing.T) {
	c, f, _ := newFakeClient(t, fakebitrefill.Config{Balance: "100.00"}, nil)
	ctx := context.Background()

	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	bal, err := c.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bal.Balance.Cmp("100") != 0 || bal.Currency != "USD" {
		t.Fatalf("balance = %s %s", bal.Balance, bal.Currency)
	}

	inv, err := c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
		Products:      []bitrefill.InvoiceProduct{{ProductID: "steam-usa", Value: "20", Quantity: 2}},
		PaymentMethod: bitrefill.PaymentMethodBalance,
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Invoice.Payment.Status != "unpaid" || len(inv.Invoice.Orders) != 2 {
		t.Fatalf("invoice = %+v", inv.Invoice)
	}
	if inv.Invoice.Orders[0].DeliveredTime != nil {
		t.Error("delivered_time should be null before payment")
	}
	if inv.Invoice.Payment.Price.Cmp("40") <= 0 { // 2 × 20 USD (+ price rounding ≥ face value)
		if inv.Invoice.Payment.Price.Cmp("40") != 0 {
			t.Errorf("price = %s", inv.Invoice.Payment.Price)
		}
	}

	got, err := c.GetInvoice(ctx, inv.Invoice.ID)
	if err != nil || got.Invoice.ID != inv.Invoice.ID {
		t.Fatalf("get invoice: %v", err)
	}

	// Unseal before payment is refused.
	if _, err := c.UnsealOrder(ctx, inv.Invoice.Orders[0].ID); !errors.Is(err, bitrefill.ErrBadRequest) {
		t.Fatalf("unseal unpaid: %v", err)
	}

	paid, err := c.PayInvoice(ctx, inv.Invoice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if paid.Invoice.Payment.Status != "payment_confirmed" || paid.Invoice.CompletedTime == "" {
		t.Fatalf("paid invoice = %+v", paid.Invoice)
	}
	if f.Balance() != "60.00" {
		t.Fatalf("fake balance = %s, want 60.00", f.Balance())
	}
	bal, _ = c.Balance(ctx)
	if bal.Balance.Cmp("60") != 0 {
		t.Fatalf("client balance = %s", bal.Balance)
	}
	// Paying twice: 404 (already paid).
	if _, err := c.PayInvoice(ctx, inv.Invoice.ID); !errors.Is(err, bitrefill.ErrNotFound) {
		t.Fatalf("second pay: %v", err)
	}

	ord, err := c.GetOrder(ctx, inv.Invoice.Orders[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if ord.Order.Status != "delivered" || ord.Order.DeliveredTime == nil {
		t.Fatalf("order = %+v", ord.Order)
	}
	un, err := c.UnsealOrder(ctx, ord.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(un.Order.Code, "SANDBOX-") {
		t.Fatalf("code = %q", un.Order.Code)
	}
	if s := un.Order.String(); strings.Contains(s, un.Order.Code) {
		t.Fatalf("String leaks the code: %s", s)
	}

	orders, err := c.ListOrders(ctx, bitrefill.ListParams{})
	if err != nil || len(orders.Orders) != 2 {
		t.Fatalf("orders: %v %d", err, len(orders.Orders))
	}
	invs, err := c.ListInvoices(ctx, bitrefill.ListParams{Limit: 10})
	if err != nil || len(invs.Invoices) != 1 || invs.HasMore {
		t.Fatalf("invoices: %v %+v", err, invs)
	}
}

func TestFakeInsufficientFunds(t *testing.T) {
	c, f, _ := newFakeClient(t, fakebitrefill.Config{Balance: "10"}, nil)
	ctx := context.Background()
	inv, err := c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
		Products:      []bitrefill.InvoiceProduct{{ProductID: "amazon_com-usa", PackageID: bitrefill.PackageID("amazon_com-usa", "50")}},
		PaymentMethod: "balance",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PayInvoice(ctx, inv.Invoice.ID)
	if !errors.Is(err, bitrefill.ErrInsufficientFunds) {
		t.Fatalf("err = %v, want ErrInsufficientFunds", err)
	}
	if errors.Is(err, bitrefill.ErrForbidden) {
		t.Error("insufficient funds must not also match ErrForbidden")
	}
	var apiErr *bitrefill.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Code != "insufficient_funds" || !strings.Contains(apiErr.Message, "Insufficient") {
		t.Fatalf("api error = %#v", apiErr)
	}
	if f.Balance() != "10.00" {
		t.Fatalf("balance changed: %s", f.Balance())
	}
	// auto_pay with too little balance: 403 as well.
	_, err = c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
		Products:      []bitrefill.InvoiceProduct{{ProductID: "steam-usa", Value: "50"}},
		PaymentMethod: "balance", AutoPay: true,
	})
	if !errors.Is(err, bitrefill.ErrInsufficientFunds) {
		t.Fatalf("auto_pay err = %v", err)
	}
}

func TestFakeAuthFailure(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, func(o *bitrefill.Options) { o.APISecret = "wrong" })
	ctx := context.Background()
	_, err := c.Balance(ctx)
	if !errors.Is(err, bitrefill.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatal("error leaks the secret")
	}
	// ping needs no credentials
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// A client without credentials refuses authenticated calls locally.
	c2, _, _ := newFakeClient(t, fakebitrefill.Config{}, func(o *bitrefill.Options) { o.APIID, o.APISecret = "", "" })
	if _, err := c2.ListOrders(ctx, bitrefill.ListParams{}); !errors.Is(err, bitrefill.ErrNoCredentials) {
		t.Fatalf("err = %v, want ErrNoCredentials", err)
	}
}

func TestFakeListPaging(t *testing.T) {
	now := time.Date(2025, 3, 30, 12, 0, 0, 0, time.UTC)
	step := 0
	clock := func() time.Time { step++; return now.Add(time.Duration(step) * time.Minute) }
	c, f, _ := newFakeClient(t, fakebitrefill.Config{Balance: "10000", Now: clock}, nil)
	ctx := context.Background()
	for range 7 {
		if _, err := c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
			Products:      []bitrefill.InvoiceProduct{{ProductID: "netflix-usa", Value: "25"}},
			PaymentMethod: "bitcoin",
		}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	p := bitrefill.ListParams{Limit: 3}
	for pages := 0; ; pages++ {
		l, err := c.ListInvoices(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range l.Invoices {
			if seen[inv.ID] {
				t.Fatalf("duplicate %s", inv.ID)
			}
			seen[inv.ID] = true
			if inv.Payment.Currency != "BTC" || inv.Payment.Address == "" {
				t.Errorf("bitcoin invoice payment = %+v", inv.Payment)
			}
		}
		if !l.HasMore {
			break
		}
		if l.Meta.Next == "" || l.NextParams.Start != p.Start+3 || l.NextParams.Limit != 3 {
			t.Fatalf("page meta = %+v next = %+v", l.Meta, l.NextParams)
		}
		p = l.NextParams
		if pages > 5 {
			t.Fatal("no end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("saw %d invoices", len(seen))
	}
	if n := f.Requests(http.MethodGet, "/v2/invoices"); n != 3 {
		t.Fatalf("requests = %d, want 3 pages", n)
	}
	// Invoices were created at 12:01 … 12:07; after is inclusive, before exclusive.
	for _, tt := range []struct {
		p    bitrefill.ListParams
		want int
	}{
		{bitrefill.ListParams{After: "2025-03-30 12:04:00"}, 4},
		{bitrefill.ListParams{Before: "2025-03-30 12:03:00"}, 2},
		{bitrefill.ListParams{After: "2025-03-30 12:02:00", Before: "2025-03-30 12:05:00"}, 3},
		{bitrefill.ListParams{Before: "2000-01-01 00:00:00"}, 0},
	} {
		l, err := c.ListInvoices(ctx, tt.p)
		if err != nil || len(l.Invoices) != tt.want {
			t.Errorf("ListInvoices(%+v) = %v, %d invoices; want %d", tt.p, err, len(l.Invoices), tt.want)
		}
	}
}

func TestFakeV2Catalogue(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	ctx := context.Background()
	l, err := c.ListProducts(ctx, bitrefill.ListParams{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Products) < 30 {
		t.Fatalf("got %d products", len(l.Products))
	}
	p, err := c.GetProduct(ctx, "spotify-usa")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Product.Packages) == 0 || !strings.Contains(p.Product.Packages[0].ID, "<&>") {
		t.Fatalf("packages = %+v", p.Product.Packages)
	}
	// The package id is usable for an invoice.
	if _, err := c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
		Products:      []bitrefill.InvoiceProduct{{ProductID: "spotify-usa", PackageID: p.Product.Packages[0].ID}},
		PaymentMethod: bitrefill.PaymentMethodLightning,
	}); err != nil {
		t.Fatal(err)
	}
	ph, err := c.CheckPhoneNumber(ctx, "+49 170 1234567", "")
	if err != nil {
		t.Fatal(err)
	}
	if !ph.OperatorFound || ph.Operator.ID != "vodafone-germany" {
		t.Fatalf("phone = %+v", ph)
	}
	ph, err = c.CheckPhoneNumber(ctx, "+999123456", "")
	if err != nil || ph.OperatorFound || ph.Operator != nil {
		t.Fatalf("unknown phone = %+v %v", ph, err)
	}
}

func TestFakeTopUpNeedsPhone(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	_, err := c.CreateInvoice(context.Background(), bitrefill.CreateInvoiceRequest{
		Products:      []bitrefill.InvoiceProduct{{ProductID: "telcel-mexico", Value: "100"}},
		PaymentMethod: "balance",
	})
	var apiErr *bitrefill.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "invalid_phone_number" {
		t.Fatalf("err = %v", err)
	}
}

func TestFakeEscapedIDsStayInPath(t *testing.T) {
	c, f, _ := newFakeClient(t, fakebitrefill.Config{}, nil)
	ctx := context.Background()
	for _, id := range []string{"../invoices", "../accounts/balance", "a/b", "x?y#z", "%2e%2e"} {
		_, err := c.GetInvoice(ctx, id)
		if !errors.Is(err, bitrefill.ErrNotFound) {
			t.Errorf("GetInvoice(%q) err = %v, want ErrNotFound", id, err)
		}
		_, err = c.PayInvoice(ctx, id)
		if !errors.Is(err, bitrefill.ErrNotFound) {
			t.Errorf("PayInvoice(%q) err = %v, want ErrNotFound", id, err)
		}
	}
	if n := f.Requests("", "/v2/accounts"); n != 0 {
		t.Fatalf("escaped id reached /v2/accounts %d times", n)
	}
}
