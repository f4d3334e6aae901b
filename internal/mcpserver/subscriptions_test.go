package mcpserver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

type limitCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *limitCounts) observe(limit string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[limit]++
}

func (l *limitCounts) get(limit string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[limit]
}

// sessionsOf connects n in-memory clients speaking protocol version to one
// server built from d (every one is the same caller: the stdio user).
func sessionsOf(t *testing.T, d Deps, version string, n int) []*mcp.ClientSession {
	t.Helper()
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	var out []*mcp.ClientSession
	for range n {
		ct, st := mcp.NewInMemoryTransports()
		ss, err := s.Connect(context.Background(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ss.Close() })
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, nil).Connect(context.Background(), ct,
			&mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		out = append(out, cs)
	}
	return out
}

func rpcCode(err error) int64 {
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}

// createLinks creates n payment links through cs and returns their
// resource URIs.
func createLinks(t *testing.T, cs *mcp.ClientSession, n int) []string {
	t.Helper()
	var uris []string
	for range n {
		out, isErr := callJSON(t, cs, "create_payment_link", map[string]any{"amount_eur": 10, "include_qr": false})
		if isErr {
			t.Fatalf("create_payment_link: %v", out)
		}
		uris = append(uris, PaymentResourceURI(out["identifier"].(string)))
	}
	return uris
}

const legacyProtocol = "2025-11-25"

// TestSubscriptionCaps: resources/subscribe accepts only payments that
// exist, at most PerSession per session and PerCaller per caller, counts
// every refusal, and gives the units back on unsubscribe and when a
// session ends. The old handler accepted any well-formed identifier
// without limit (50,000 grew the heap by 136 MB).
func TestSubscriptionCaps(t *testing.T) {
	ctx := context.Background()
	svc := payments.New(fakeBitnovoAPI(t), store.NewMemory(), payments.Options{Sandbox: true})
	lc := &limitCounts{}
	cs := sessionsOf(t, Deps{Payments: svc, Sandbox: true, Subscriptions: SubscriptionLimits{PerSession: 3, PerCaller: 5}, Observe: lc.observe},
		legacyProtocol, 3)
	uris := createLinks(t, cs[0], 7)
	sub := func(c *mcp.ClientSession, uri string) error { return c.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}) }

	// A payment nobody created.
	err := sub(cs[0], PaymentResourceURI("0d3c2b1a-0000-4000-8000-00000000beef"))
	if rpcCode(err) != mcp.CodeResourceNotFound || !strings.Contains(err.Error(), "payment not found") {
		t.Errorf("unknown payment: %v (code %d), want %d payment not found", err, rpcCode(err), mcp.CodeResourceNotFound)
	}
	if err := sub(cs[0], "bitnovo://payments/not-a-uuid"); rpcCode(err) != jsonrpc.CodeInvalidParams {
		t.Errorf("malformed URI: %v", err)
	}

	// Per session: three, and a repeat costs nothing.
	for _, u := range uris[:3] {
		if err := sub(cs[0], u); err != nil {
			t.Fatalf("subscribe %s: %v", u, err)
		}
	}
	if err := sub(cs[0], uris[0]); err != nil {
		t.Errorf("repeated subscription: %v", err)
	}
	if err := sub(cs[0], uris[3]); rpcCode(err) != codeLimitReached || !strings.Contains(err.Error(), "CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION") {
		t.Errorf("fourth in one session: %v, want the per-session limit", err)
	}
	if err := cs[0].Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uris[0]}); err != nil {
		t.Fatal(err)
	}
	if err := sub(cs[0], uris[3]); err != nil {
		t.Errorf("after an unsubscribe: %v", err)
	}

	// Per caller: the same caller's second session has two left.
	for _, u := range uris[4:6] {
		if err := sub(cs[1], u); err != nil {
			t.Fatalf("second session, %s: %v", u, err)
		}
	}
	if err := sub(cs[1], uris[6]); rpcCode(err) != codeLimitReached || !strings.Contains(err.Error(), "CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_CALLER") {
		t.Errorf("sixth for one caller: %v, want the per-caller limit", err)
	}

	// A session that ends gives its subscriptions back.
	_ = cs[0].Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := sub(cs[2], uris[6]); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the closed session's subscriptions still count: %v", err)
		}
	}

	for limit, want := range map[string]int{LimitSubscriptionUnknownPayment: 1, LimitSubscriptionsPerSession: 1} {
		if got := lc.get(limit); got != want {
			t.Errorf("%s counted %d, want %d", limit, got, want)
		}
	}
	if lc.get(LimitSubscriptionsPerCaller) < 1 {
		t.Errorf("%s not counted", LimitSubscriptionsPerCaller)
	}
}

func TestQuota(t *testing.T) {
	q := newQuota(2)
	if !q.acquire("a") || !q.acquire("a") || q.acquire("a") || !q.full("a") {
		t.Fatal("cap of 2 not kept")
	}
	if !q.acquire("b") {
		t.Fatal("keys are not apart")
	}
	q.release("a", 2)
	if q.count("a") != 0 || q.full("a") || !q.acquire("a") {
		t.Fatal("release did not free")
	}
	unlimited := newQuota(0)
	for range 1000 {
		if !unlimited.acquire("x") {
			t.Fatal("0 means no cap")
		}
	}
}

// TestSubscriptionCapsListen: under MCP 2026-07-28 a client subscribes
// with subscriptions/listen, which the SDK turns into resources/subscribe
// calls: the same checks apply. (The Go client's Subscribe does not wait
// for the listen request's answer, so the refusals are read on the
// server.) Of three concurrent subscriptions with a cap of one per
// session, exactly one is held and two are refused.
func TestSubscriptionCapsListen(t *testing.T) {
	svc := payments.New(fakeBitnovoAPI(t), store.NewMemory(), payments.Options{Sandbox: true})
	lc := &limitCounts{}
	s, err := New(Deps{Payments: svc, Sandbox: true, Subscriptions: SubscriptionLimits{PerSession: 1}, Observe: lc.observe})
	if err != nil {
		t.Fatal(err)
	}
	listenErrs := make(chan error, 10)
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if method == "subscriptions/listen" && err != nil {
				listenErrs <- err
			}
			return res, err
		}
	})
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if v := cs.InitializeResult().ProtocolVersion; v < "2026-07-28" {
		t.Fatalf("negotiated %s, want 2026-07-28 or later", v)
	}
	uris := createLinks(t, cs, 3)
	next := func() error {
		select {
		case err := <-listenErrs:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("no refusal")
			return nil
		}
	}

	_ = cs.Subscribe(ctx, &mcp.SubscribeParams{URI: PaymentResourceURI("0d3c2b1a-0000-4000-8000-00000000beef")})
	if err := next(); rpcCode(err) != mcp.CodeResourceNotFound {
		t.Errorf("unknown payment: %v, want code %d", err, mcp.CodeResourceNotFound)
	}
	for _, u := range uris {
		go func() { _ = cs.Subscribe(ctx, &mcp.SubscribeParams{URI: u}) }()
	}
	for range 2 {
		if err := next(); rpcCode(err) != codeLimitReached {
			t.Errorf("over the cap: %v, want code %d", err, codeLimitReached)
		}
	}
	select {
	case err := <-listenErrs:
		t.Errorf("the third subscription was refused too: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if got := lc.get(LimitSubscriptionsPerSession); got != 2 {
		t.Errorf("%s counted %d, want 2", LimitSubscriptionsPerSession, got)
	}
}

// TestSubscriberFromListen: a subscription made by subscriptions/listen
// (no token on the inner request) counts against the listen request's
// caller, not the anonymous one.
func TestSubscriberFromListen(t *testing.T) {
	e := &env{anonymous: access.Caller{Kind: access.KindAnonymous}}
	alice := access.Caller{Kind: access.KindOAuth, Subject: "alice"}
	ctx := context.WithValue(context.Background(), callerCtxKey{}, alice)
	if got := subscriber(ctx, e, &mcp.SubscribeRequest{Params: &mcp.SubscribeParams{}}); got.Subject != "alice" {
		t.Errorf("listen's subscription counted for %v, want alice", got)
	}
	if got := subscriber(context.Background(), e, &mcp.SubscribeRequest{Params: &mcp.SubscribeParams{}}); got.Kind != access.KindAnonymous {
		t.Errorf("without a caller in the context: %v, want anonymous", got)
	}
}
