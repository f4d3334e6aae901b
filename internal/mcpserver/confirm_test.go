package mcpserver

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// confirmEnv is a purchasing shop on the fake Bitrefill, served to a client
// that declares elicitation and speaks one protocol revision.
type confirmEnv struct {
	t     *testing.T
	svc   *shop.Service
	fake  *fakebitrefill.Fake
	cs    *mcp.ClientSession
	mu    sync.Mutex
	asked int
}

func newConfirmEnv(t *testing.T, version string) *confirmEnv {
	t.Helper()
	return newConfirmEnvWith(t, version, true)
}

// newConfirmEnvWith: elicit false makes a client that does not declare
// elicitation.
func newConfirmEnvWith(t *testing.T, version string, elicit bool) *confirmEnv {
	t.Helper()
	fake, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	id, secret := fake.Credentials()
	c, err := bitrefill.New(bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	e := &confirmEnv{t: t, fake: fake,
		svc: shop.New(c, store.NewMemory(), shop.Options{Sandbox: true, PurchasesEnabled: true, MaxOrderCents: 50000, DailyLimitCents: 100000})}
	s, err := New(Deps{Shop: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	// The client answers "yes" whenever it is asked. The round trip of
	// 2026-07-28 is driven by hand (MultiRoundTrip disabled) so that a
	// test can send what it likes.
	opts := &mcp.ClientOptions{
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			e.mu.Lock()
			e.asked++
			e.mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
		},
	}
	if !elicit {
		opts.ElicitationHandler = nil
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, opts).Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if got := cs.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated %s, want %s", got, version)
	}
	e.cs = cs
	return e
}

func (e *confirmEnv) invoice() string {
	e.t.Helper()
	v := 10.0
	c, err := e.svc.CreateInvoice(context.Background(), nil, shop.CreateInput{PaymentMethod: "balance",
		Products: []shop.LineInput{{ProductID: "amazon_com-usa", Value: &v}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Invoice.ID
}

func accept() mcp.InputResponseMap {
	return mcp.InputResponseMap{confirmInput: &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}}
}

func decline() mcp.InputResponseMap {
	return mcp.InputResponseMap{confirmInput: &mcp.ElicitResult{Action: "decline"}}
}

// call sends a tools/call as given and returns the result and, for an
// error result, its code.
func (e *confirmEnv) call(name string, args map[string]any, answers mcp.InputResponseMap, state string) (*mcp.CallToolResult, string) {
	e.t.Helper()
	res, err := e.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args, InputResponses: answers, RequestState: state})
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	if !res.IsError {
		return res, ""
	}
	var m struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &m)
	return res, m.Error.Code
}

func (e *confirmEnv) paid(id string) int {
	return e.fake.Requests("POST", "/v2/invoices/"+id+"/pay")
}

func (e *confirmEnv) askedTimes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asked
}

// TestConfirmationAnswerNeedsTheQuestion: an elicitation answer pays only
// for the question this server asked: bound to the invoice, the amount and
// a single-use nonce carried in requestState. On main a client sending
// inputResponses.confirm_payment=accept on its first pay_invoice call had
// the invoice paid with no question asked. Both protocol revisions.
func TestConfirmationAnswerNeedsTheQuestion(t *testing.T) {
	t.Run("2025-11-25", func(t *testing.T) {
		e := newConfirmEnv(t, "2025-11-25")
		// The answer nobody asked for, on the first call.
		a := e.invoice()
		if _, c := e.call("pay_invoice", map[string]any{"id": a}, accept(), ""); c != shop.CodeConfirmationInvalid {
			t.Fatalf("unasked answer: code %q, want CONFIRMATION_INVALID", c)
		}
		if _, c := e.call("pay_invoice", map[string]any{"id": a}, accept(), "eln_forged."+a); c != shop.CodeConfirmationInvalid {
			t.Fatalf("forged state: code %q", c)
		}
		if e.paid(a) != 0 || e.askedTimes() != 0 {
			t.Fatalf("paid %d, asked %d: want nothing", e.paid(a), e.askedTimes())
		}
		// The real round trip: the server asks (elicitation/create), the
		// SDK calls the tool again with the answer and the state: paid.
		res, c := e.call("pay_invoice", map[string]any{"id": a}, nil, "")
		if c != "" || e.askedTimes() != 1 || e.paid(a) != 1 {
			t.Fatalf("asked round trip: code %q, asked %d, paid %d: %v", c, e.askedTimes(), e.paid(a), res.StructuredContent)
		}
	})

	t.Run("2026-07-28", func(t *testing.T) {
		e := newConfirmEnv(t, "2026-07-28")
		a, b := e.invoice(), e.invoice()
		args := func(id string) map[string]any { return map[string]any{"id": id} }

		if _, c := e.call("pay_invoice", args(a), accept(), ""); c != shop.CodeConfirmationInvalid {
			t.Fatalf("unasked answer: code %q, want CONFIRMATION_INVALID", c)
		}
		// The question: input required, with a state.
		res, c := e.call("pay_invoice", args(a), nil, "")
		if c != "" || !res.NeedsInput() || res.RequestState == "" || res.InputRequests[confirmInput] == nil {
			t.Fatalf("want an input-required result with a state: code %q %+v", c, res)
		}
		stateA := res.RequestState
		if strings.Contains(stateA, "cfm_") {
			t.Fatalf("the state is a confirmation token: %q", stateA)
		}
		tests := []struct {
			name    string
			id      string
			answers mcp.InputResponseMap
			state   string
		}{
			{"another invoice's question", b, accept(), stateA},
			{"forged nonce", a, accept(), "eln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + a},
			{"a token for a nonce", a, accept(), "cfm_AAAA." + a},
		}
		for _, tt := range tests {
			if _, c := e.call("pay_invoice", args(tt.id), tt.answers, tt.state); c != shop.CodeConfirmationInvalid {
				t.Errorf("%s: code %q, want CONFIRMATION_INVALID", tt.name, c)
			}
		}
		if e.paid(a)+e.paid(b) != 0 {
			t.Fatalf("paid without the asked answer")
		}
		// The answer to the question asked: paid, once.
		if _, c := e.call("pay_invoice", args(a), accept(), stateA); c != "" || e.paid(a) != 1 {
			t.Fatalf("asked and answered: code %q, paid %d", c, e.paid(a))
		}

		// A state without an answer spends its nonce and pays nothing.
		res, _ = e.call("pay_invoice", args(b), nil, "")
		if _, c := e.call("pay_invoice", args(b), nil, res.RequestState); c != shop.CodeConfirmationInvalid {
			t.Fatalf("state without an answer: code %q", c)
		}
		if _, c := e.call("pay_invoice", args(b), accept(), res.RequestState); c != shop.CodeConfirmationInvalid {
			t.Fatalf("state reused after no answer: code %q", c)
		}

		// A nonce is single-use, also when the answer was no.
		res, _ = e.call("pay_invoice", args(b), nil, "")
		stateB := res.RequestState
		if _, c := e.call("pay_invoice", args(b), decline(), stateB); c != shop.CodeConfirmationDeclined {
			t.Fatalf("declined: code %q", c)
		}
		if _, c := e.call("pay_invoice", args(b), accept(), stateB); c != shop.CodeConfirmationInvalid {
			t.Fatalf("replayed state: code %q, want CONFIRMATION_INVALID", c)
		}
		if e.paid(b) != 0 {
			t.Fatal("a replayed answer paid")
		}
	})

	t.Run("client without elicitation", func(t *testing.T) {
		e := newConfirmEnvWith(t, "2026-07-28", false)
		a := e.invoice()
		if _, c := e.call("pay_invoice", map[string]any{"id": a}, accept(), ""); c != shop.CodeConfirmationInvalid {
			t.Fatalf("answer from a client that cannot be asked: code %q", c)
		}
		res, c := e.call("pay_invoice", map[string]any{"id": a}, nil, "")
		if c != "" || res.NeedsInput() || e.paid(a) != 0 {
			t.Fatalf("want the quote/token flow: code %q, %+v", c, res)
		}
	})

	t.Run("2026-07-28 create_invoice auto_pay", func(t *testing.T) {
		e := newConfirmEnv(t, "2026-07-28")
		args := map[string]any{"payment_method": "balance", "auto_pay": true,
			"products": []any{map[string]any{"product_id": "amazon_com-usa", "value": 10}}}
		res, c := e.call("create_invoice", args, nil, "")
		if c != "" || !res.NeedsInput() || res.RequestState == "" {
			t.Fatalf("want an input-required result: code %q %+v", c, res)
		}
		created := e.fake.Requests("POST", "/v2/invoices") // and the pays below

		// The retry pays the invoice of the first round; it creates none.
		res, c = e.call("create_invoice", args, accept(), res.RequestState)
		if c != "" {
			t.Fatalf("retry: code %q %v", c, res.Content)
		}
		var out shop.CreateResult
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &out); err != nil || out.Payment == nil || !out.Payment.Paid || out.Invoice.ID == "" {
			t.Fatalf("retry result: %s (%v)", b, err)
		}
		if n := e.fake.Requests("POST", "/v2/invoices") - e.paid(out.Invoice.ID); n != created {
			t.Fatalf("the retry created %d more invoices", n-created)
		}
		if e.paid(out.Invoice.ID) != 1 {
			t.Fatalf("paid %d times", e.paid(out.Invoice.ID))
		}
	})
}

// callWithCaps is call with the client capabilities the request declares
// in its own _meta (the go-sdk client fills in its own only where the
// request names none).
func (e *confirmEnv) callWithCaps(name string, args map[string]any, caps map[string]any, answers mcp.InputResponseMap, state string) (*mcp.CallToolResult, string) {
	e.t.Helper()
	p := &mcp.CallToolParams{Name: name, Arguments: args, InputResponses: answers, RequestState: state}
	p.SetMeta(map[string]any{mcp.MetaKeyClientCapabilities: caps})
	res, err := e.cs.CallTool(context.Background(), p)
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	if !res.IsError {
		return res, ""
	}
	var m struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &m)
	return res, m.Error.Code
}

// TestConfirmationAsksWhoDeclaresElicitation: on 2026-07-28 whether the
// user is asked depends on the capabilities the pay_invoice request itself
// declares, not on those of the connection's first request (which the
// go-sdk keeps as the session's InitializeParams, and which main read). On
// 2025-11-25 a request's _meta changes nothing: initialize decides.
func TestConfirmationAsksWhoDeclaresElicitation(t *testing.T) {
	withElicitation := map[string]any{"elicitation": map[string]any{"form": map[string]any{}}}
	without := map[string]any{}
	tests := []struct {
		name      string
		revision  string
		clientAsk bool           // the client declares elicitation at connect
		caps      map[string]any // what the pay_invoice request declares
		wantAsked bool
	}{
		{"2026-07-28 request declares it, client did not", Revision2026, false, withElicitation, true},
		{"2026-07-28 request does not, client did", Revision2026, true, without, false},
		{"2026-07-28 request and client declare it", Revision2026, true, withElicitation, true},
		{"2025-11-25 initialize decides: declared", "2025-11-25", true, without, true},
		{"2025-11-25 initialize decides: not declared", "2025-11-25", false, withElicitation, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newConfirmEnvWith(t, tt.revision, tt.clientAsk)
			a := e.invoice()
			res, c := e.callWithCaps("pay_invoice", map[string]any{"id": a}, tt.caps, nil, "")
			if c != "" {
				t.Fatalf("code %q: %v", c, res.Content)
			}
			asked := res.NeedsInput() || e.askedTimes() > 0
			if asked != tt.wantAsked {
				t.Fatalf("asked = %v (input required %v, elicitations %d), want %v", asked, res.NeedsInput(), e.askedTimes(), tt.wantAsked)
			}
			if !tt.wantAsked {
				// The quote/token flow: nothing paid, a token to confirm.
				if e.paid(a) != 0 {
					t.Fatalf("paid %d without a question", e.paid(a))
				}
				return
			}
			if tt.revision == Revision2026 {
				if res.RequestState == "" || res.InputRequests[confirmInput] == nil || e.paid(a) != 0 {
					t.Fatalf("want the question with a state, nothing paid: %+v, paid %d", res, e.paid(a))
				}
				// An answer from a request that does not declare
				// elicitation is not one to the question asked.
				if _, c := e.callWithCaps("pay_invoice", map[string]any{"id": a}, without, accept(), res.RequestState); c != shop.CodeConfirmationInvalid || e.paid(a) != 0 {
					t.Fatalf("answer without the capability: code %q, paid %d", c, e.paid(a))
				}
				// The answer to the question asked, from a request that
				// declares elicitation too, pays, once.
				if _, c := e.callWithCaps("pay_invoice", map[string]any{"id": a}, tt.caps, accept(), res.RequestState); c != "" || e.paid(a) != 1 {
					t.Fatalf("answered: code %q, paid %d", c, e.paid(a))
				}
				return
			}
			// 2025-11-25: the SDK asked through elicitation/create and the
			// answer paid.
			if e.askedTimes() != 1 || e.paid(a) != 1 {
				t.Fatalf("asked %d, paid %d", e.askedTimes(), e.paid(a))
			}
		})
	}
}
