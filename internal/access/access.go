// Package access says who may do what: the toolsets a server offers, the
// OAuth scopes that unlock them, and the caller a request comes from.
//
// A tool belongs to exactly one toolset. Its scope follows from the toolset
// and its readOnlyHint annotation, so read-only mode and per-caller scopes
// are derived from the same declaration and cannot drift apart:
//
//	toolset        read-only tools    other tools
//	payments       payments:read      payments:write
//	webhooks       webhooks:read      (none allowed)
//	shop           shop:read          (none allowed)
//	shop-purchase  shop:purchase      shop:purchase
package access

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

// Toolset is a named group of tools (and the resources and prompts that
// go with them) that an operator switches on or off as a whole.
type Toolset string

// The toolsets, in listing order.
const (
	Payments     Toolset = "payments"      // the payment tools, wait_for_payment, payment resources and prompts
	Webhooks     Toolset = "webhooks"      // get_webhook_events, get_webhook_url, get_tunnel_status
	Shop         Toolset = "shop"          // Bitrefill catalogue and account read tools
	ShopPurchase Toolset = "shop-purchase" // create_invoice, pay_invoice, unseal_order
)

// AllToolsets returns every toolset in listing order.
func AllToolsets() []Toolset { return []Toolset{Payments, Webhooks, Shop, ShopPurchase} }

// ParseToolsets reads a comma-separated list such as "payments,shop". An
// empty list or "all" selects every toolset. Names are case-insensitive;
// duplicates are dropped; the result is in listing order.
func ParseToolsets(s string) ([]Toolset, error) {
	var picked []Toolset
	all := false
	for _, f := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(f))
		switch {
		case name == "":
		case name == "all":
			all = true
		case slices.Contains(AllToolsets(), Toolset(name)):
			picked = append(picked, Toolset(name))
		default:
			return nil, fmt.Errorf("unknown toolset %q (valid: all, %s)", name, joinToolsets(AllToolsets()))
		}
	}
	if all || len(picked) == 0 {
		return AllToolsets(), nil
	}
	var out []Toolset
	for _, t := range AllToolsets() {
		if slices.Contains(picked, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func joinToolsets(ts []Toolset) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Policy is the server-wide switchboard: which toolsets are on and whether
// only read-only tools may run. The zero Policy allows everything.
type Policy struct {
	Toolsets []Toolset // nil: all
	ReadOnly bool      // only tools annotated readOnlyHint: true
}

// Enabled reports whether toolset t is on.
func (p Policy) Enabled(t Toolset) bool {
	return p.Toolsets == nil || slices.Contains(p.Toolsets, t)
}

// Allows reports whether a tool of toolset t with the given readOnlyHint
// may be listed and called.
func (p Policy) Allows(t Toolset, readOnly bool) bool {
	return p.Enabled(t) && (readOnly || !p.ReadOnly)
}

// String is "payments,webhooks,shop,shop-purchase" or "payments (read-only)".
func (p Policy) String() string {
	ts := p.Toolsets
	if ts == nil {
		ts = AllToolsets()
	}
	s := strings.ReplaceAll(joinToolsets(ts), " ", "")
	if p.ReadOnly {
		s += " (read-only)"
	}
	return s
}

// Scope is an OAuth scope this server understands.
type Scope string

// The scopes, in listing order.
const (
	PaymentsRead  Scope = "payments:read"
	PaymentsWrite Scope = "payments:write"
	WebhooksRead  Scope = "webhooks:read"
	ShopRead      Scope = "shop:read"
	ShopBuy       Scope = "shop:purchase"
	// MetricsRead reads the HTTP transport's /metrics. No tool needs it:
	// the series count every caller's (and every tenant's) calls, so they
	// are for the operator's scraper, not for each agent holding a token.
	MetricsRead Scope = "metrics:read"
)

// AllScopes returns every scope in listing order.
func AllScopes() []Scope {
	return []Scope{PaymentsRead, PaymentsWrite, WebhooksRead, ShopRead, ShopBuy, MetricsRead}
}

// ScopeStrings returns scopes as strings.
func ScopeStrings(sc []Scope) []string {
	s := make([]string, len(sc))
	for i, v := range sc {
		s[i] = string(v)
	}
	return s
}

// ParseScopes reads an operator's list of scopes separated by spaces or
// commas (MCP_HTTP_TOKEN_SCOPES). Unknown scopes are an error when strict;
// otherwise they are dropped. Scopes from tokens go through KnownScopes.
func ParseScopes(s string, strict bool) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		sc := Scope(f)
		if !slices.Contains(AllScopes(), sc) {
			if strict {
				return nil, fmt.Errorf("unknown scope %q (valid: %s)", f, strings.Join(ScopeStrings(AllScopes()), ", "))
			}
			continue
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// KnownScopes keeps the items that are exactly one of this server's
// scopes, in order, without duplicates. It is for scopes from a token: an
// item is one scope-token as issued (RFC 6749 §3.3 allows commas inside
// one), so "x,payments:write" is a foreign scope, not payments:write.
func KnownScopes(items []string) []Scope {
	var out []Scope
	for _, it := range items {
		sc := Scope(it)
		if slices.Contains(AllScopes(), sc) && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// ScopeFor returns the scope a tool of toolset t needs, given its
// readOnlyHint. Webhook and shop catalogue tools must be read-only: a
// state-changing tool there has no scope and is a programming error.
func ScopeFor(t Toolset, readOnly bool) (Scope, error) {
	switch {
	case t == Payments && readOnly:
		return PaymentsRead, nil
	case t == Payments:
		return PaymentsWrite, nil
	case t == Webhooks && readOnly:
		return WebhooksRead, nil
	case t == Shop && readOnly:
		return ShopRead, nil
	case t == ShopPurchase:
		return ShopBuy, nil
	case t == Webhooks || t == Shop:
		return "", fmt.Errorf("toolset %s holds only read-only tools", t)
	}
	return "", fmt.Errorf("unknown toolset %q", t)
}

// Caller kinds.
const (
	KindStdio       = "stdio"        // the local user behind the stdio transport
	KindAnonymous   = "anonymous"    // HTTP on loopback without any token configured
	KindStaticToken = "static-token" // HTTP with MCP_HTTP_TOKEN
	KindOAuth       = "oauth"        // HTTP with a verified OAuth access token
)

// Caller is who a request comes from.
type Caller struct {
	Kind     string // one of the Kind constants
	Subject  string // the token's sub (OAuth only)
	ClientID string // the token's client_id or azp (OAuth only)
	// Tenant is the merchant the caller acts for when the server has
	// several (the value of the tenants file's claim); "" otherwise.
	Tenant string
	// Scopes the caller holds. Callers that are not OAuth hold every scope
	// unless the operator narrowed them (MCP_HTTP_TOKEN_SCOPES).
	Scopes []Scope
}

// Has reports whether the caller holds scope s.
func (c Caller) Has(s Scope) bool { return slices.Contains(c.Scopes, s) }

// String names the caller for audit rows and logs: "stdio",
// "static-token", or "oauth sub=alice client=my-agent" (with
// " tenant=acme" when the server has tenants). It is readable, not
// unambiguous (a subject may contain " client="): sessions are bound to
// userID instead.
func (c Caller) String() string {
	if c.Kind != KindOAuth {
		return c.Kind
	}
	s := "oauth sub=" + c.Subject
	if c.ClientID != "" {
		s += " client=" + c.ClientID
	}
	if c.Tenant != "" {
		s += " tenant=" + c.Tenant
	}
	return s
}

// userID is the session's owner for the go-sdk, which refuses a session
// to any other user id: the kind for the operator's own callers, and for
// OAuth the subject, client and tenant encoded so that no two callers
// share one, so a session never changes hands between callers or tenants.
func (c Caller) userID() string {
	if c.Kind != KindOAuth {
		return c.Kind
	}
	b, _ := json.Marshal([]string{c.Kind, c.Subject, c.ClientID, c.Tenant}) // strings always marshal
	return string(b)
}

// Namespace is the owner of idempotency keys: callers in different
// namespaces never see each other's records. The operator's own transports
// (stdio, the static token, anonymous loopback HTTP) share the empty
// namespace, which is where every record written before callers existed
// lives; each OAuth subject and client pair has its own.
func (c Caller) Namespace() string {
	if c.Kind != KindOAuth {
		return ""
	}
	return "oauth:" + c.Subject + "\x1f" + c.ClientID + "\x1f" + c.Tenant
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored in ctx, or a stdio caller with every
// scope when there is none (code paths outside an MCP request).
func CallerFrom(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{Kind: KindStdio, Scopes: AllScopes()}
}

// Keys of auth.TokenInfo.Extra that carry a Caller through the go-sdk's
// HTTP transport (see TokenInfo and FromTokenInfo).
const (
	extraKind     = "cryptopay.kind"
	extraClientID = "cryptopay.client_id"
	extraTenant   = "cryptopay.tenant"
)

// TokenInfo packs c for auth.RequireBearerToken: the scopes as strings,
// the caller as UserID (the SDK then binds each session to its user),
// and the kind, subject, client id and tenant in Extra.
func TokenInfo(c Caller, exp time.Time) *auth.TokenInfo {
	return &auth.TokenInfo{
		Scopes: ScopeStrings(c.Scopes), Expiration: exp, UserID: c.userID(),
		Extra: map[string]any{extraKind: c.Kind, extraClientID: c.ClientID, extraTenant: c.Tenant, "sub": c.Subject},
	}
}

// FromTokenInfo unpacks what TokenInfo packed. A TokenInfo from elsewhere
// is an OAuth caller holding the known scopes it lists.
func FromTokenInfo(ti *auth.TokenInfo) Caller {
	c := Caller{Kind: KindOAuth}
	if k, ok := ti.Extra[extraKind].(string); ok && k != "" {
		c.Kind = k
	}
	c.ClientID, _ = ti.Extra[extraClientID].(string)
	c.Tenant, _ = ti.Extra[extraTenant].(string)
	c.Subject, _ = ti.Extra["sub"].(string)
	if c.Subject == "" && c.Kind == KindOAuth {
		c.Subject = ti.UserID
	}
	c.Scopes = KnownScopes(ti.Scopes)
	return c
}
