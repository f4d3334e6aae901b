package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// stubAPI is a scripted provider.
type stubAPI struct {
	mu          sync.Mutex
	currencies  []bitnovo.Currency
	currErr     error
	currCalls   atomic.Int32
	createCalls atomic.Int32
	createErr   error
	createDelay time.Duration
	info        map[string]*bitnovo.OrderInfo
}

func (a *stubAPI) CreateOrder(ctx context.Context, r bitnovo.CreateOrderRequest) (*bitnovo.Order, error) {
	n := a.createCalls.Add(1)
	if a.createDelay > 0 {
		select {
		case <-time.After(a.createDelay):
		case <-ctx.Done():
			return nil, fmt.Errorf("slow: %w", bitnovo.ErrOutcomeUnknown)
		}
	}
	if a.createErr != nil {
		return nil, a.createErr
	}
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	o := &bitnovo.Order{Identifier: id, Fiat: r.Fiat, InputCurrency: r.InputCurrency, ExpiredAt: "2099-01-01T00:00:00Z"}
	if r.InputCurrency == "" {
		o.WebURL = "https://paytest.bitnovo.com/abcd" + fmt.Sprint(n) + "/"
	} else {
		o.Address, o.PaymentURI, o.ExpectedInputAmount = "bc1qexample", "bitcoin:bc1qexample?amount=0.001", "0.001"
	}
	return o, nil
}

func (a *stubAPI) OrderInfo(_ context.Context, id string) (*bitnovo.OrderInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.info[id]; ok {
		return i, nil
	}
	return nil, &bitnovo.APIError{StatusCode: 404, Code: "HTTP_404", Message: "Not found."}
}

func (a *stubAPI) OrderDetails(context.Context, string) (*bitnovo.Order, error) {
	return nil, bitnovo.ErrNotFound
}

func (a *stubAPI) Currencies(context.Context) ([]bitnovo.Currency, error) {
	a.currCalls.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.currErr != nil {
		return nil, a.currErr
	}
	return a.currencies, nil
}

func newStub() *stubAPI {
	return &stubAPI{
		currencies: []bitnovo.Currency{
			{Symbol: "XRP", Name: "Ripple", MinAmount: "1.00", MaxAmount: "5000", Blockchain: "XRP Ledger"},
			{Symbol: "AAA_TEST", Name: "Aaa", MinAmount: "0.10"},
			{Symbol: "BTC", Name: "Bitcoin", MinAmount: "5.00", MaxAmount: "0", Blockchain: "Bitcoin"},
		},
		info: map[string]*bitnovo.OrderInfo{},
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestCatalogCacheAndStaleOnError(t *testing.T) {
	api := newStub()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc := New(api, store.NewMemory(), Options{Now: clk.now})
	ctx := context.Background()

	res, err := svc.Catalog(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheInfo.Cached || res.TotalCount != 3 {
		t.Fatalf("first call: %+v", res)
	}
	// Priority order, then by name; a max of 0 means no limit.
	if got := []string{res.Currencies[0].Symbol, res.Currencies[1].Symbol, res.Currencies[2].Symbol}; fmt.Sprint(got) != "[BTC XRP AAA_TEST]" {
		t.Fatalf("order %v", got)
	}
	if res.Currencies[0].MaxAmount != nil || res.Currencies[1].RequiresMemo != true || res.Currencies[0].Decimals != 8 {
		t.Fatalf("normalisation: %+v", res.Currencies)
	}

	clk.add(4 * time.Minute)
	res, _ = svc.Catalog(ctx, nil)
	if !res.CacheInfo.Cached || api.currCalls.Load() != 1 {
		t.Fatalf("within TTL: %+v calls=%d", res.CacheInfo, api.currCalls.Load())
	}
	clk.add(2 * time.Minute)
	api.currErr = errors.New("down")
	res, err = svc.Catalog(ctx, nil)
	if err != nil || !res.CacheInfo.Stale || api.currCalls.Load() != 2 {
		t.Fatalf("stale: %+v err=%v calls=%d", res, err, api.currCalls.Load())
	}
	api.currErr = nil
	res, _ = svc.Catalog(ctx, nil)
	if res.CacheInfo.Stale || res.CacheInfo.Cached {
		t.Fatalf("recovered: %+v", res.CacheInfo)
	}

	amount := 2.0
	res, _ = svc.Catalog(ctx, &amount)
	if res.FilteredCount != 2 || !res.FilterApplied || res.FilterAmount != "2.00" {
		t.Fatalf("filter: %+v", res)
	}
}

func TestCatalogWithoutCacheFails(t *testing.T) {
	api := newStub()
	api.currErr = &bitnovo.APIError{StatusCode: 503, Code: "HTTP_503", Message: "busy"}
	svc := New(api, store.NewMemory(), Options{})
	_, err := svc.Catalog(context.Background(), nil)
	if pe := AsError(err); pe.Code != CodeUpstream {
		t.Fatalf("code = %v", pe)
	}
}

func TestConcurrentCatalogFetchesOnce(t *testing.T) {
	api := newStub()
	svc := New(api, store.NewMemory(), Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.Catalog(context.Background(), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := api.currCalls.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestIdempotencyStates(t *testing.T) {
	ctx := context.Background()
	t.Run("rejected create frees the key", func(t *testing.T) {
		api := newStub()
		api.createErr = &bitnovo.APIError{StatusCode: 404, Message: "Currency not found"}
		st := store.NewMemory()
		svc := New(api, st, Options{})
		_, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IdempotencyKey: "k"})
		if pe := AsError(err); pe.Code != CodeCurrencyNotSupported {
			t.Fatalf("code %v", pe)
		}
		api.createErr = nil
		res, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IdempotencyKey: "k"})
		if err != nil || res.IdempotentReplay {
			t.Fatalf("retry after a refusal: %+v %v", res, err)
		}
	})
	t.Run("local validation does not claim the key", func(t *testing.T) {
		api := newStub()
		svc := New(api, store.NewMemory(), Options{})
		_, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 1, InputCurrency: "BTC", IdempotencyKey: "k"})
		if pe := AsError(err); pe.Code != CodeAmountTooLow {
			t.Fatalf("code %v", pe)
		}
		if _, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IdempotencyKey: "k"}); err == nil {
			// different arguments after a refusal are allowed: the key was released
		} else {
			t.Fatalf("key not released: %v", err)
		}
		if api.createCalls.Load() != 1 {
			t.Fatalf("%d creates", api.createCalls.Load())
		}
	})
	t.Run("unknown outcome is sticky", func(t *testing.T) {
		api := newStub()
		api.createErr = fmt.Errorf("reset: %w", bitnovo.ErrOutcomeUnknown)
		svc := New(api, store.NewMemory(), Options{})
		for i := range 2 {
			_, err := svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: "u"})
			if pe := AsError(err); pe.Code != CodeOutcomeUnknown {
				t.Fatalf("call %d: %v", i, pe)
			}
		}
		if api.createCalls.Load() != 1 {
			t.Fatalf("%d creates, want 1", api.createCalls.Load())
		}
	})
	t.Run("a pending key left by a dead process becomes unknown", func(t *testing.T) {
		api := newStub()
		st := store.NewMemory()
		clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		svc := New(api, st, Options{Now: clk.now, PendingTimeout: time.Minute})
		hash := argsHash("create_payment_link", map[string]string{"amount": "10.00", "fiat": "EUR", "notes": "", "url_ok": "", "url_ko": ""})
		if _, _, err := st.ClaimIdempotency(ctx, "dead", "stdio", "create_payment_link", hash, clk.now()); err != nil {
			t.Fatal(err)
		}
		clk.add(2 * time.Minute)
		_, err := svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IdempotencyKey: "dead"})
		if pe := AsError(err); pe.Code != CodeOutcomeUnknown {
			t.Fatalf("code %v", pe)
		}
		if api.createCalls.Load() != 0 {
			t.Fatal("a create was sent for a key whose first attempt is unaccounted for")
		}
	})
	t.Run("in-progress key times out with a clear code", func(t *testing.T) {
		api := newStub()
		st := store.NewMemory()
		svc := New(api, st, Options{})
		hash := argsHash("create_payment_link", map[string]string{"amount": "10.00", "fiat": "EUR", "notes": "", "url_ok": "", "url_ko": ""})
		if _, _, err := st.ClaimIdempotency(ctx, "busy", "stdio", "create_payment_link", hash, time.Now()); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := svc.CreateLink(cctx, LinkInput{AmountEUR: 10, IdempotencyKey: "busy"})
		if pe := AsError(err); pe.Code != CodeIdempotencyInProgress {
			t.Fatalf("code %v", pe)
		}
	})
}

func TestStatusFlags(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	future, past := now.Add(time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
	tests := []struct {
		status, expiry                     string
		action, expired, completed, failed bool
	}{
		{"NR", future, false, false, false, false},
		{"PE", future, true, false, false, false},
		{"PE", past, false, true, false, false},
		{"AC", future, false, false, false, false},
		{"IA", future, true, false, false, false},
		{"OC", future, false, false, false, false},
		{"CO", past, false, true, true, false},
		{"CA", future, false, false, false, true},
		{"EX", "", false, true, false, true},
		{"FA", future, false, false, false, true},
		{"ZZ", "garbage", false, false, false, false},
	}
	for _, tt := range tests {
		f := deriveFlags(tt.status, tt.expiry, now)
		if f.RequiresAction != tt.action || f.IsExpired != tt.expired || f.IsCompleted != tt.completed || f.IsFailed != tt.failed {
			t.Errorf("%s %s: %+v", tt.status, tt.expiry, f)
		}
		if _, known := LookupStatus(tt.status); known != (tt.status != "ZZ") {
			t.Errorf("LookupStatus(%s) known=%v", tt.status, known)
		}
	}
}

func TestRemaining(t *testing.T) {
	tests := []struct {
		total string
		paid  []string
		want  string
		ok    bool
	}{
		{"0.00100000", []string{"0.0004", "0.0001"}, "0.00050000", true},
		{"1", []string{"2"}, "0", true},
		{"0.3", []string{"0.1", "0.2"}, "0.0", true},
		{"", nil, "", false},
		{"x", nil, "", false},
	}
	for _, tt := range tests {
		got, ok := remaining(tt.total, tt.paid...)
		if got != tt.want || ok != tt.ok {
			t.Errorf("remaining(%s, %v) = %s %v, want %s %v", tt.total, tt.paid, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFiatAmount(t *testing.T) {
	tests := []struct {
		in   float64
		want string
		ok   bool
	}{
		{50, "50.00", true}, {0.01, "0.01", true}, {10.5, "10.50", true}, {0.009, "", false},
		{10.005, "", false}, {-1, "", false}, {2e9, "", false},
	}
	for _, tt := range tests {
		got, err := fiatAmount("amount_eur", tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("fiatAmount(%v) = %q, %v", tt.in, got, err)
		}
	}
}

func TestRedirectChecks(t *testing.T) {
	for _, bad := range []string{"javascript:alert(1)", "data:text/html,x", "ftp://x/y", "/relative", "https://u:p@x/"} {
		if checkRedirect("url_ok", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"", "https://shop.example/ok", "http://localhost:8080/cb?x=1"} {
		if e := checkRedirect("url_ok", good); e != nil {
			t.Errorf("%q refused: %v", good, e)
		}
	}
}

func TestGatewayURL(t *testing.T) {
	got, err := gatewayURL("https://paytest.bitnovo.com/ab12cd34/", "production")
	if err != nil || got != "https://pay.bitnovo.com/ab12cd34" {
		t.Fatalf("%q %v", got, err)
	}
	got, _ = gatewayURL("http://127.0.0.1:9/xyz12345/", "")
	if got != "http://127.0.0.1:9/xyz12345/" {
		t.Fatalf("own web_url not kept: %q", got)
	}
	if _, err := gatewayURL("https://x/p/", "testing"); AsError(err).Code != CodeQRNotAvailable {
		t.Fatalf("no short id: %v", err)
	}
}

// A payment that can no longer be paid gets no QR code: expired (tested
// end to end), cancelled or failed. Open ones still get theirs.
func TestQRRefusedForClosedPayments(t *testing.T) {
	for _, tc := range []struct {
		status, code string
	}{
		{"PE", ""},
		{"CA", CodeQRNotAvailable},
		{"FA", CodeQRNotAvailable},
		{"EX", CodePaymentExpired},
	} {
		t.Run(tc.status, func(t *testing.T) {
			api := &stubAPI{info: map[string]*bitnovo.OrderInfo{}}
			svc := New(api, store.NewMemory(), Options{})
			link, err := svc.CreateLink(context.Background(), LinkInput{AmountEUR: 10})
			if err != nil {
				t.Fatal(err)
			}
			api.mu.Lock()
			api.info[link.Identifier] = &bitnovo.OrderInfo{Identifier: link.Identifier, Status: tc.status}
			api.mu.Unlock()
			_, err = svc.QR(context.Background(), QRInput{Identifier: link.Identifier, Type: QRGateway, Size: 200, Style: "basic"})
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("status %s: %v", tc.status, err)
			case tc.code != "" && AsError(err).Code != tc.code:
				t.Fatalf("status %s: got %v, want %s", tc.status, err, tc.code)
			}
		})
	}
}
