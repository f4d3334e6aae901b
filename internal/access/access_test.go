package access

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseToolsets(t *testing.T) {
	tests := []struct {
		in      string
		want    []Toolset
		wantErr string
	}{
		{"", AllToolsets(), ""},
		{"all", AllToolsets(), ""},
		{" ALL ", AllToolsets(), ""},
		{"shop,payments", []Toolset{Payments, Shop}, ""},
		{"payments,payments,", []Toolset{Payments}, ""},
		{"shop-purchase", []Toolset{ShopPurchase}, ""},
		{"payments,all", AllToolsets(), ""},
		{"payment", nil, `unknown toolset "payment" (valid: all, payments, webhooks, shop, shop-purchase)`},
	}
	for _, tt := range tests {
		got, err := ParseToolsets(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: err = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	var all Policy
	ro := Policy{Toolsets: []Toolset{Payments}, ReadOnly: true}
	tests := []struct {
		p        Policy
		t        Toolset
		readOnly bool
		want     bool
	}{
		{all, Payments, false, true},
		{all, ShopPurchase, false, true},
		{ro, Payments, true, true},
		{ro, Payments, false, false},
		{ro, Shop, true, false},
		{Policy{ReadOnly: true}, ShopPurchase, false, false},
		{Policy{ReadOnly: true}, ShopPurchase, true, true},
	}
	for _, tt := range tests {
		if got := tt.p.Allows(tt.t, tt.readOnly); got != tt.want {
			t.Errorf("%v.Allows(%s, %t) = %t", tt.p, tt.t, tt.readOnly, got)
		}
	}
	if s := ro.String(); s != "payments (read-only)" {
		t.Errorf("String = %q", s)
	}
	if s := all.String(); s != "payments,webhooks,shop,shop-purchase" {
		t.Errorf("String = %q", s)
	}
}

func TestScopeFor(t *testing.T) {
	tests := []struct {
		t        Toolset
		readOnly bool
		want     Scope
		err      bool
	}{
		{Payments, true, PaymentsRead, false},
		{Payments, false, PaymentsWrite, false},
		{Webhooks, true, WebhooksRead, false},
		{Webhooks, false, "", true},
		{Shop, true, ShopRead, false},
		{Shop, false, "", true},
		{ShopPurchase, false, ShopBuy, false},
		{ShopPurchase, true, ShopBuy, false},
		{"", true, "", true},
	}
	for _, tt := range tests {
		got, err := ScopeFor(tt.t, tt.readOnly)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ScopeFor(%q, %t) = %q, %v", tt.t, tt.readOnly, got, err)
		}
	}
}

func TestParseScopes(t *testing.T) {
	got, err := ParseScopes("payments:read,shop:read  payments:read openid", false)
	if err != nil || !slices.Equal(got, []Scope{PaymentsRead, ShopRead}) {
		t.Errorf("lenient = %v, %v", got, err)
	}
	if _, err := ParseScopes("payments:read openid", true); err == nil || !strings.Contains(err.Error(), `unknown scope "openid"`) {
		t.Errorf("strict err = %v", err)
	}
}

func TestCallerRoundTrip(t *testing.T) {
	c := Caller{Kind: KindOAuth, Subject: "alice", ClientID: "agent-1", Scopes: []Scope{PaymentsRead}}
	exp := time.Now().Add(time.Hour)
	ti := TokenInfo(c, exp)
	if ti.UserID == "" || !ti.Expiration.Equal(exp) {
		t.Errorf("TokenInfo = %+v", ti)
	}
	back := FromTokenInfo(ti)
	if back.Kind != c.Kind || back.Subject != c.Subject || back.ClientID != c.ClientID || !slices.Equal(back.Scopes, c.Scopes) {
		t.Errorf("round trip = %+v", back)
	}
	st := FromTokenInfo(TokenInfo(Caller{Kind: KindStaticToken, Scopes: AllScopes()}, exp))
	if st.String() != "static-token" || st.Namespace() != "" || len(st.Scopes) != len(AllScopes()) {
		t.Errorf("static = %+v", st)
	}
	if c.Namespace() == "" || c.Namespace() == (Caller{Kind: KindOAuth, Subject: "alice"}).Namespace() {
		t.Error("OAuth namespaces must differ per subject and client")
	}
	if got := CallerFrom(context.Background()); got.Kind != KindStdio || len(got.Scopes) != len(AllScopes()) {
		t.Errorf("default caller = %+v", got)
	}
	if got := CallerFrom(WithCaller(context.Background(), c)); got.Subject != "alice" {
		t.Errorf("CallerFrom = %+v", got)
	}
}

// The go-sdk binds a session to TokenInfo.UserID: two different callers
// must never share one, whatever their claims contain.
func TestSessionUserIDsAreDistinct(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		a, b Caller
	}{
		{"client in the subject", Caller{Kind: KindOAuth, Subject: "alice", ClientID: "agent"},
			Caller{Kind: KindOAuth, Subject: "alice client=agent"}},
		{"tenant in the client", Caller{Kind: KindOAuth, Subject: "alice", ClientID: "agent", Tenant: "acme"},
			Caller{Kind: KindOAuth, Subject: "alice", ClientID: "agent tenant=acme"}},
		{"everything in the subject", Caller{Kind: KindOAuth, Subject: "alice", ClientID: "agent", Tenant: "acme"},
			Caller{Kind: KindOAuth, Subject: "alice client=agent tenant=acme", Tenant: "globex"}},
		{"tenant or not", Caller{Kind: KindOAuth, Subject: "alice", Tenant: "acme"},
			Caller{Kind: KindOAuth, Subject: "alice tenant=acme"}},
		{"static token and anonymous", Caller{Kind: KindStaticToken}, Caller{Kind: KindAnonymous}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := TokenInfo(tt.a, exp).UserID, TokenInfo(tt.b, exp).UserID; a == b {
				t.Errorf("%#v and %#v share the session user id %q", tt.a, tt.b, a)
			}
		})
	}
}
