package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/telemetry"
)

// listToolsOverHTTP serves a traced sandbox server over Streamable HTTP
// (opts as the go-sdk takes them), lists its tools through a client whose
// requests go through rt (nil: the default transport), and returns the
// tools/list span and the client session.
func listToolsOverHTTP(t *testing.T, opts *mcp.StreamableHTTPOptions, rt http.RoundTripper, extra ...attribute.KeyValue) (tracetest.SpanStub, *mcp.ClientSession) {
	t.Helper()
	tel, exp := newTracing(t)
	srv, err := mcpserver.New(mcpserver.Deps{Version: "test", Sandbox: true, ToolTimeout: 5 * time.Second,
		Payments: payments.New(nil, tel.Store(store.NewMemory(), "memory"), payments.Options{Sandbox: true})})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddReceivingMiddleware(tel.MCPMiddleware(extra...))
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, opts))
	t.Cleanup(hs.Close)
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: hs.URL, HTTPClient: &http.Client{Transport: rt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	list, ok := byName(exp.GetSpans())["tools/list"]
	if !ok {
		t.Fatalf("no tools/list span: %v", spanNames(exp.GetSpans()))
	}
	return list, cs
}

// TestMCPOverHTTP checks the Streamable HTTP case: the session id, the
// session's protocol version and the tcp transport are recorded, and a
// traceparent header is the parent when _meta has none.
func TestMCPOverHTTP(t *testing.T) {
	list, cs := listToolsOverHTTP(t, nil, headerTransport{"traceparent": "00-" + remoteTID + "-" + remoteSpan + "-01"},
		telemetry.TenantKey.String("acme"))
	if sid, _ := attr(list, "mcp.session.id"); sid == "" || sid != cs.ID() {
		t.Errorf("mcp.session.id %q, want the session's %q", sid, cs.ID())
	}
	if v, _ := attr(list, "mcp.protocol.version"); v != cs.InitializeResult().ProtocolVersion {
		t.Errorf("mcp.protocol.version %q, want the session's %q", v, cs.InitializeResult().ProtocolVersion)
	}
	if tr, _ := attr(list, "network.transport"); tr != "tcp" {
		t.Errorf("network.transport %q", tr)
	}
	if tn, _ := attr(list, "cryptopay.tenant"); tn != "acme" {
		t.Errorf("cryptopay.tenant %q, want the middleware's acme", tn)
	}
	if list.Parent.TraceID().String() != remoteTID || !list.Parent.IsRemote() {
		t.Errorf("parent %v, want the traceparent header's", list.Parent)
	}
}

// TestMCPProtocolVersionPerRequest: a sessionless 2026-07-28 request
// names its own revision (its _meta), not a session's.
func TestMCPProtocolVersionPerRequest(t *testing.T) {
	list, _ := listToolsOverHTTP(t, &mcp.StreamableHTTPOptions{Stateless: true}, nil)
	if v, _ := attr(list, "mcp.protocol.version"); v != "2026-07-28" {
		t.Errorf("mcp.protocol.version %q, want 2026-07-28 (the request's own)", v)
	}
}

// headerTransport adds fixed headers to every request.
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestShopSpansCarryNoCodes buys a gift card from the fake Bitrefill through
// a traced client and unseals it: neither the card's code nor pin, nor the
// API secret, may appear in a span.
func TestShopSpansCarryNoCodes(t *testing.T) {
	tel, exp := newTracing(t)
	fake, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
	pub, v2 := fakebitrefill.BaseURLs(hs.URL)
	id, secret := fake.Credentials()
	c, err := bitrefill.New(bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret,
		AllowInsecureHTTP: true, HTTPClient: tel.HTTPClient(bitrefill.NewDefaultHTTPClient())})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inv, err := c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
		Products:      []bitrefill.InvoiceProduct{{ProductID: "steam-usa", Value: "5"}},
		PaymentMethod: "balance", AutoPay: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Invoice.Orders) == 0 {
		t.Fatalf("invoice without orders: %s", inv.Raw)
	}
	u, err := c.UnsealOrder(ctx, inv.Invoice.Orders[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Order.Code == "" {
		t.Fatalf("unsealed order without a code: %v", u.Order)
	}
	spans := exp.GetSpans()
	clients := 0
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindClient {
			clients++
		}
	}
	if clients < 2 {
		t.Fatalf("%d client spans for create + unseal: %v", clients, spanNames(spans))
	}
	secrets := []string{u.Order.Code, secret}
	if u.Order.Pin != "" {
		secrets = append(secrets, u.Order.Pin)
	}
	noSecrets(t, spans, secrets...)
}
