package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Limits reported through Deps.Observe (cryptopay_limit_rejections_total).
const (
	LimitSubscriptionsPerSession    = "subscriptions_per_session"
	LimitSubscriptionsPerCaller     = "subscriptions_per_caller"
	LimitSubscriptionUnknownPayment = "subscription_unknown_payment"
)

// codeLimitReached is the JSON-RPC error of a request refused by a cap
// (JSON-RPC leaves -32000 to -32099 to the implementation).
const codeLimitReached = -32011

// SubscriptionLimits cap resource subscriptions per session and per
// caller (all of its sessions); 0: no cap.
type SubscriptionLimits struct {
	PerSession int
	PerCaller  int
}

// subscriptions keeps who subscribed to what, beside the go-sdk's own
// table (which has no caps and no way to count): each session's
// subscriptions and each caller's total. A session's are released when it
// ends; the SDK drops its own entries then too.
type subscriptions struct {
	perSession int
	callers    *quota
	observe    func(limit string)

	mu       sync.Mutex
	sessions map[*mcp.ServerSession]*sessionSubs
}

type sessionSubs struct {
	caller string
	uris   map[string]struct{}
}

func newSubscriptions(l SubscriptionLimits, observe func(string)) *subscriptions {
	if observe == nil {
		observe = func(string) {}
	}
	return &subscriptions{perSession: l.PerSession, callers: newQuota(l.PerCaller), observe: observe,
		sessions: map[*mcp.ServerSession]*sessionSubs{}}
}

type callerCtxKey struct{}

// callerContext is a receiving middleware that puts the caller of every
// request into its context. subscriptions/listen (MCP 2026-07-28)
// subscribes through the SDK's own resources/subscribe handler with a
// request that carries no token, so the SubscribeHandler finds the
// caller here.
func callerContext(e *env) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			return next(context.WithValue(ctx, callerCtxKey{}, e.caller(req)), method, req)
		}
	}
}

// subscriber is the caller of a subscribe request: its token's, or for a
// subscription made by subscriptions/listen, the listen request's.
func subscriber(ctx context.Context, e *env, req *mcp.SubscribeRequest) access.Caller {
	if ex := req.GetExtra(); ex == nil || ex.TokenInfo == nil {
		if c, ok := ctx.Value(callerCtxKey{}).(access.Caller); ok {
			return c
		}
	}
	return e.caller(req)
}

// callerKey names a caller for the per-caller cap: the operator's own
// transports by kind, each OAuth subject, client and tenant apart.
func callerKey(c access.Caller) string { return c.Kind + "\x1f" + c.Namespace() }

// subscribe is the SubscribeHandler: the URI must name a payment that
// exists, and the session and the caller must be under their caps. A
// repeated subscription to the same URI costs nothing.
func (s *subscriptions) subscribe(ctx context.Context, req *mcp.SubscribeRequest, c access.Caller, svc *payments.Service) error {
	uri := req.Params.URI
	id, err := paymentID(uri)
	if err != nil {
		return err
	}
	key := callerKey(c)
	if s.has(req.Session, uri) {
		return nil
	}
	// Refuse over a cap before asking Bitnovo anything.
	if err := s.check(req.Session, key); err != nil {
		return err
	}
	if err := svc.Exists(ctx, id); err != nil {
		pe := toolerr.From(err)
		switch pe.Code {
		case payments.CodePaymentNotFound:
			s.observe(LimitSubscriptionUnknownPayment)
			data, _ := json.Marshal(map[string]string{"uri": uri}) // a string always marshals
			return &jsonrpc.Error{Code: mcp.CodeResourceNotFound, Data: data,
				Message: "payment not found: subscribe only to a payment that exists (as returned by create_payment_link or create_payment_onchain)"}
		case toolerr.CodeInvalidArgument:
			return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: pe.Code + ": " + pe.Message}
		}
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "cannot check that the payment exists: " + pe.Code + ": " + pe.Message}
	}
	return s.add(req.Session, key, uri)
}

// unsubscribe is the UnsubscribeHandler.
func (s *subscriptions) unsubscribe(_ context.Context, req *mcp.UnsubscribeRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.sessions[req.Session]
	if sub == nil {
		return nil
	}
	if _, ok := sub.uris[req.Params.URI]; ok {
		delete(sub.uris, req.Params.URI)
		s.callers.release(sub.caller, 1)
	}
	return nil
}

func (s *subscriptions) has(ss *mcp.ServerSession, uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[ss].urisOrNil()[uri]
	return ok
}

func (sub *sessionSubs) urisOrNil() map[string]struct{} {
	if sub == nil {
		return nil
	}
	return sub.uris
}

func (s *subscriptions) check(ss *mcp.ServerSession, caller string) error {
	s.mu.Lock()
	n := len(s.sessions[ss].urisOrNil())
	s.mu.Unlock()
	if s.perSession > 0 && n >= s.perSession {
		s.observe(LimitSubscriptionsPerSession)
		return &jsonrpc.Error{Code: codeLimitReached, Message: fmt.Sprintf(
			"subscription limit reached: this session holds %d subscriptions (CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION); unsubscribe from payments that are done first", n)}
	}
	if s.callers.full(caller) {
		s.observe(LimitSubscriptionsPerCaller)
		return s.callerError(caller)
	}
	return nil
}

func (s *subscriptions) callerError(caller string) error {
	return &jsonrpc.Error{Code: codeLimitReached, Message: fmt.Sprintf(
		"subscription limit reached: your sessions hold %d subscriptions (CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_CALLER); unsubscribe from payments that are done, or close idle sessions", s.callers.count(caller))}
}

// add records the subscription, checking the caps again under the lock
// (the existence check ran without it).
func (s *subscriptions) add(ss *mcp.ServerSession, caller, uri string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.sessions[ss]
	if _, ok := sub.urisOrNil()[uri]; ok {
		return nil
	}
	if n := len(sub.urisOrNil()); s.perSession > 0 && n >= s.perSession {
		s.observe(LimitSubscriptionsPerSession)
		return &jsonrpc.Error{Code: codeLimitReached, Message: fmt.Sprintf(
			"subscription limit reached: this session holds %d subscriptions (CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION); unsubscribe from payments that are done first", n)}
	}
	if !s.callers.acquire(caller) {
		s.observe(LimitSubscriptionsPerCaller)
		return s.callerError(caller)
	}
	if sub == nil {
		sub = &sessionSubs{caller: caller, uris: map[string]struct{}{}}
		s.sessions[ss] = sub
		if ss != nil {
			go func() {
				_ = ss.Wait()
				s.drop(ss)
			}()
		}
	}
	sub.uris[uri] = struct{}{}
	return nil
}

// drop releases an ended session's subscriptions.
func (s *subscriptions) drop(ss *mcp.ServerSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.sessions[ss]; sub != nil {
		s.callers.release(sub.caller, len(sub.uris))
		delete(s.sessions, ss)
	}
}
