package mcpserver

// The drop-in compatibility suite (issue 13). Every tool is called through
// MCP against the fakes of both providers, and its result is compared with
// what the TypeScript server returns for the same call:
//
//   - bitrefill-mcp-server 0.3.0 passes Bitrefill's bodies through unchanged
//     for detail and every v2 tool, so its transcript is the fake's raw body
//     for the same request; search and categories are rebuilt here by the
//     original's code path (reference bitrefill.md §4.3, §6.1).
//   - @bitnovopay/mcp-bitnovo-pay 1.1.0 builds its results: get_payment_status
//     is rebuilt from the fake's raw E2 body by its code path (bitnovo.md
//     §4, §6.5); the other tools are written as the shapes of §6.
//
// The rule checked: every field the original returns is present in ours
// with the same JSON type, except where compatDeviations lists it as a
// deliberate difference (the README's "Migrating from the TypeScript
// servers" table has one row per reason).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// Reasons of the deliberate differences; each is one row of the README's
// migration table.
const (
	reasonStringAmounts = "amounts are exact decimal strings (the seed's examples), not JSON numbers"
	reasonQRStrings     = "QR codes are PNG data-URL strings (the seed's examples) and image content, not {data, format, style, dimensions} objects"
	reasonErrorEnvelope = "one error envelope for every tool: {\"error\": {\"code\", \"message\", \"details\"}} (the seed's format)"
	reasonPurchases     = "purchase tools run behind SHOP_PURCHASES_ENABLED, spending limits and the user's confirmation"
	reasonSecrets       = "order bodies never carry redemption_info outside unseal_order"
)

// deviation lets one field of the original differ in ours.
type deviation struct {
	tool string // tool name, or "*"
	path string // "a.b[].c"; "*" matches one key; a trailing ".**" matches everything below
	// want is the JSON type ours has instead ("string", "object", …), or
	// "absent" when ours does not return the field.
	want   string
	reason string
}

var compatDeviations = []deviation{
	// Bitnovo: the seed shows string amounts and data-URL QR codes.
	{"create_payment_onchain", "expected_input_amount", "string", reasonStringAmounts},
	{"get_payment_status", "*_amount", "string", reasonStringAmounts},
	{"get_payment_status", "network_fee", "string", reasonStringAmounts},
	{"list_currencies_catalog", "currencies[].min_amount", "string", reasonStringAmounts},
	{"list_currencies_catalog", "currencies[].max_amount", "string", reasonStringAmounts},
	{"list_currencies_catalog", "filter_amount", "string", reasonStringAmounts},
	{"*", "qr_*", "string", reasonQRStrings},
	// Errors.
	{"*", "error", "object", reasonErrorEnvelope},
	{"*", "error.statusCode", "absent", reasonErrorEnvelope},
	{"*", "error.timestamp", "absent", reasonErrorEnvelope},
	// Bitrefill purchases: a quote/confirmation step instead of the raw body.
	{"create_invoice", "meta.**", "absent", reasonPurchases},
	{"create_invoice", "data.**", "absent", reasonPurchases},
	{"pay_invoice", "meta.**", "absent", reasonPurchases},
	{"pay_invoice", "data.**", "absent", reasonPurchases},
	{"unseal_order", "meta.**", "absent", reasonPurchases},
	{"unseal_order", "data.**", "absent", reasonPurchases},
	{"*", "data.redemption_info", "absent", reasonSecrets},
	{"*", "data[].redemption_info", "absent", reasonSecrets},
	{"*", "data.orders[].redemption_info", "absent", reasonSecrets},
	{"*", "data[].orders[].redemption_info", "absent", reasonSecrets},
}

// shapeCheck collects the differences found and the deviations used.
type shapeCheck struct {
	problems []string
	used     map[int]bool
}

// allowed reports whether a deviation covers (tool, path, got).
func (c *shapeCheck) allowed(tool, p, got string) bool {
	for i, d := range compatDeviations {
		if (d.tool == "*" || d.tool == tool) && d.want == got && pathMatch(d.path, p) {
			if c.used == nil {
				c.used = map[int]bool{}
			}
			c.used[i] = true
			return true
		}
	}
	return false
}

func pathMatch(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, ".**"); ok {
		return p == prefix || strings.HasPrefix(p, prefix+".") || strings.HasPrefix(p, prefix+"[]")
	}
	pp, ps := strings.Split(pattern, "."), strings.Split(p, ".")
	if len(pp) != len(ps) {
		return false
	}
	for i := range pp {
		// "[]" marks an array in both; path.Match must not read it as a class.
		pat := strings.ReplaceAll(pp[i], "[]", `\[\]`)
		if ok, _ := path.Match(pat, ps[i]); !ok {
			return false
		}
	}
	return true
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// spec turns an original transcript into a shape: every leaf replaced by
// its JSON type name. Hand-written shapes use the same form, with "a|b"
// for a field whose type varies.
func spec(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = spec(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = spec(e)
		}
		return out
	}
	return jsonType(v)
}

// compareShape reports every field of want missing from got or of another
// JSON type, unless a deviation allows it. Object keys are walked in
// order, arrays index by index.
func (c *shapeCheck) compare(tool, p string, want, got any) {
	gotType := jsonType(got)
	report := func(what string) {
		if !c.allowed(tool, strings.TrimPrefix(p, "."), what) {
			c.problems = append(c.problems, fmt.Sprintf("%s: %s: original %s, ours %s", tool, strings.TrimPrefix(p, "."), describe(want), what))
		}
	}
	switch w := want.(type) {
	case string:
		for _, t := range strings.Split(w, "|") {
			if t == gotType {
				return
			}
		}
		report(gotType)
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			report(gotType)
			return
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := p + "." + k
			gv, present := g[k]
			if !present {
				if !c.allowed(tool, strings.TrimPrefix(child, "."), "absent") {
					c.problems = append(c.problems, fmt.Sprintf("%s: %s: missing (original %s)", tool, strings.TrimPrefix(child, "."), describe(w[k])))
				}
				continue
			}
			c.compare(tool, child, w[k], gv)
		}
	case eachOf:
		g, ok := got.([]any)
		if !ok || len(g) == 0 {
			report(gotType + " (empty or not an array)")
			return
		}
		for _, ge := range g {
			c.compare(tool, p+"[]", w.elem, ge)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			report(gotType)
			return
		}
		for i, we := range w {
			if i >= len(g) {
				c.problems = append(c.problems, fmt.Sprintf("%s: %s[%d]: missing (original has %d elements, ours %d)", tool, strings.TrimPrefix(p, "."), i, len(w), len(g)))
				return
			}
			c.compare(tool, p+"[]", we, g[i])
		}
	}
}

// eachOf, in a hand-written shape, is an array whose every element has
// the shape elem (and which is not empty).
type eachOf struct{ elem any }

func describe(w any) string {
	switch w.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprint(w)
}

// compatEnv is both providers' fakes, the services on them and an MCP
// session with every tool.
type compatEnv struct {
	t        *testing.T
	cs       *mcp.ClientSession
	bitnovo  string // fake Bitnovo base URL
	deviceID string
	pub, v2  string // fake Bitrefill base URLs
	apiID    string
	secret   string
	events   store.Events
	shapeCheck
}

func newCompatEnv(t *testing.T) *compatEnv {
	t.Helper()
	const deviceID = "5a4d0b0e-0000-4000-8000-000000000000"
	bn := httptest.NewServer(fakebitnovo.New(fakebitnovo.Options{DeviceID: deviceID}))
	t.Cleanup(bn.Close)
	client, err := bitnovo.New(bn.URL, deviceID, bitnovo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	svc := payments.New(client, st, payments.Options{Events: st})

	fake, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	br := httptest.NewServer(fake)
	t.Cleanup(br.Close)
	pub, v2 := fakebitrefill.BaseURLs(br.URL)
	id, secret := fake.Credentials()
	rc, err := bitrefill.New(bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	// Sandbox, as the fake is only ever used in sandbox mode (its documents
	// say "sandbox": true at the top, like ours).
	shopSvc := shop.New(rc, st, shop.Options{Sandbox: true, PurchasesEnabled: true, MaxOrderCents: 50000, DailyLimitCents: 100000})

	pubURL, connected := "https://bitnovo-dev.ngrok-free.app", "2025-09-30T10:30:00.000Z"
	wh := &fakeWebhooks{events: st, url: pubURL + "/webhook/bitnovo", provider: "ngrok", status: TunnelStatus{
		Enabled: true, Provider: "ngrok", Status: "connected", PublicURL: &pubURL, ConnectedAt: &connected,
		HealthCheckEnabled: true, ContextDetected: &DetectedContext{ExecutionContext: "local", Confidence: 0.7,
			SuggestedProvider: "ngrok", Indicators: []string{"Local development environment detected"}},
	}}
	cs := connectInMemory(t, Deps{Payments: svc, Shop: shopSvc, Webhooks: wh})
	return &compatEnv{t: t, cs: cs, bitnovo: bn.URL, deviceID: deviceID, pub: pub, v2: v2, apiID: id, secret: secret, events: st}
}

// call runs a tool and returns its JSON (the error envelope for a failure).
func (e *compatEnv) call(name string, args map[string]any) map[string]any {
	e.t.Helper()
	out, _ := callJSON(e.t, e.cs, name, args)
	if out == nil {
		e.t.Fatalf("%s: no JSON result", name)
	}
	return out
}

// check compares one of our results with the original's shape.
func (e *compatEnv) check(tool string, original, ours any) {
	e.t.Helper()
	e.compare(tool, "", spec(original), ours)
}

// checkShape compares with a hand-written shape (leaves are type names).
func (e *compatEnv) checkShape(tool string, shape, ours any) {
	e.t.Helper()
	e.compare(tool, "", shape, ours)
}

// raw fetches a fake's body as the original would have passed it on.
func (e *compatEnv) raw(method, u string, header map[string]string, v2Auth bool) any {
	e.t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if v2Auth {
		req.SetBasicAuth(e.apiID, e.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		e.t.Fatalf("%s %s: %v", method, u, err)
	}
	return dropNestedSandbox(v, 0)
}

// dropNestedSandbox removes the fake's "sandbox" markers below the top
// level (inside invoices, products): Bitrefill sends none, and ours says
// sandbox once, at the top of the result.
func dropNestedSandbox(v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if depth > 0 {
			delete(x, "sandbox")
		}
		for k, e := range x {
			x[k] = dropNestedSandbox(e, depth+1)
		}
	case []any:
		for i, e := range x {
			x[i] = dropNestedSandbox(e, depth+1)
		}
	}
	return v
}

func (e *compatEnv) rawV2(p string) any { return e.raw("GET", e.v2+p, nil, true) }

// origStatus is get_payment_status of the original, from the raw E2 body
// (bitnovo.md §3.5, §4, §6.5): fields read as they are, null kept, absent
// omitted, plus the derived flags.
func origStatus(body any, now time.Time) map[string]any {
	o, _ := body.(map[string]any)
	if arr, ok := body.([]any); ok && len(arr) > 0 {
		o, _ = arr[0].(map[string]any)
	}
	out := map[string]any{}
	for _, k := range []string{"identifier", "status", "confirmed_amount", "unconfirmed_amount", "crypto_amount", "expired_time", "network_fee"} {
		if v, ok := o[k]; ok {
			out[k] = v
		}
	}
	status, _ := o["status"].(string)
	if _, known := payments.LookupStatus(status); known {
		out["status_description"] = "string"
	}
	expired := false
	if s, ok := o["expired_time"].(string); ok {
		if t, err := time.Parse(time.RFC3339, s); err == nil && t.Before(now) {
			expired = true
		}
	}
	out["is_expired"] = expired
	out["requires_action"] = (status == "PE" || status == "IA") && !expired
	out["is_completed"] = status == "CO"
	out["is_failed"] = status == "CA" || status == "EX" || status == "FA"
	if status == "IA" && o["crypto_amount"] != nil {
		out["remaining_amount"] = 0.0
	}
	return out
}

// origSearch is search of the original, from the raw /omni body (§4.3).
func origSearch(body any) map[string]any {
	products, _ := body.(map[string]any)["products"].([]any)
	results := []any{}
	or := func(v any, def any) any {
		if v == nil {
			return def
		}
		return v
	}
	for _, it := range products {
		p := it.(map[string]any)
		r := map[string]any{"id": p["id"], "name": p["name"], "type": or(p["type"], ""), "url": "string",
			"baseName": or(p["baseName"], ""), "billCategories": or(p["billCategories"], []any{}),
			"categories": or(p["categories"], []any{}), "countries": or(p["countries"], []any{}),
			"countryCode": or(p["countryCode"], ""), "currency": or(p["currency"], ""),
			"redemptionMethods": or(p["redemptionMethods"], []any{}), "slug": or(p["slug"], ""),
			"usageMethods": or(p["usageMethods"], []any{}), "usps": or(p["usps"], []any{})}
		for _, k := range []string{"_priceRange", "_ratingValue", "_reviewCount", "cashbackDisabled", "cashbackPercentage",
			"cashbackPercentageFinal", "isRanged", "range"} {
			if v, ok := p[k]; ok && v != nil {
				r[k] = v
			}
		}
		results = append(results, r)
	}
	return map[string]any{"results": results}
}

// origCategories is the original's static map (§6.1), as type → [string].
func origCategories() map[string]any {
	out := map[string]any{}
	for _, t := range bitrefill.ProductTypes() {
		out[t] = []any{"string"}
	}
	return out
}

func TestDropInCompatibility(t *testing.T) {
	e := newCompatEnv(t)
	qrObject := map[string]any{"data": "string", "format": "string", "style": "string", "dimensions": "string"}

	// --- Bitnovo Pay -----------------------------------------------------
	onchain := e.call("create_payment_onchain", map[string]any{"amount_eur": 50, "input_currency": "BTC", "include_qr": true})
	e.checkShape("create_payment_onchain", map[string]any{"identifier": "string", "address": "string", "payment_uri": "string",
		"expected_input_amount": "number", "input_currency": "string", "expires_at": "string",
		"qr_address": qrObject, "qr_payment_uri": qrObject}, onchain)
	link := e.call("create_payment_link", map[string]any{"amount_eur": 10, "include_qr": true})
	e.checkShape("create_payment_link", map[string]any{"identifier": "string", "web_url": "string", "expires_at": "string",
		"qr_web_url": qrObject}, link)

	for _, created := range []map[string]any{onchain, link} {
		id, _ := created["identifier"].(string)
		body := e.raw("GET", e.bitnovo+"/api/v1/orders/info/"+url.PathEscape(id), map[string]string{"X-Device-Id": e.deviceID}, false)
		e.check("get_payment_status", origStatus(body, time.Now()), e.call("get_payment_status", map[string]any{"identifier": id}))
	}
	e.checkShape("list_currencies_catalog", map[string]any{
		"currencies": eachOf{map[string]any{"symbol": "string", "name": "string", "min_amount": "number", "max_amount": "number|null",
			"image": "string", "blockchain": "string", "requires_memo": "boolean", "decimals": "number", "is_active": "boolean",
			"features": "array"}},
		"total_count": "number", "filtered_count": "number", "filter_applied": "boolean", "filter_amount": "number",
		"cache_info": map[string]any{"cached": "boolean", "age": "number", "valid": "boolean"},
	}, e.call("list_currencies_catalog", map[string]any{"filter_by_amount": 2}))
	e.checkShape("generate_payment_qr", map[string]any{"identifier": "string", "qr_address": qrObject, "qr_payment_uri": qrObject},
		e.call("generate_payment_qr", map[string]any{"identifier": onchain["identifier"], "size": 300}))

	// Webhook tools, with one stored event.
	id, _ := link["identifier"].(string)
	payload := []byte(`{"identifier":"` + id + `","status":"CO","confirmed_amount":0.0012}`)
	sum := sha256.Sum256(payload)
	if _, err := e.events.SaveEvent(context.Background(), store.Event{EventID: id + ":1", Identifier: id, Status: "CO", Nonce: "1",
		Validated: true, Payload: payload, BodyHash: hex.EncodeToString(sum[:]),
		ReceivedAt: time.Now()}, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.checkShape("get_webhook_events", map[string]any{"events": eachOf{map[string]any{"event_id": "string", "identifier": "string",
		"status": "string", "received_at": "string", "validated": "boolean", "payload": map[string]any{"identifier": "string",
			"status": "string", "confirmed_amount": "number"}}}, "total_count": "number"},
		e.call("get_webhook_events", map[string]any{"identifier": id}))
	e.checkShape("get_webhook_url", map[string]any{"webhook_url": "string", "provider": "string", "validated": "boolean", "instructions": "string"},
		e.call("get_webhook_url", map[string]any{"validate": true}))
	e.checkShape("get_tunnel_status", map[string]any{"enabled": "boolean", "provider": "string", "status": "string",
		"public_url": "string|null", "connected_at": "string|null", "last_error": "string|null", "reconnect_attempts": "number",
		"health_check_enabled": "boolean", "context_detected": map[string]any{"execution_context": "string", "confidence": "number",
			"suggested_provider": "string", "indicators": "array"}}, e.call("get_tunnel_status", nil))
	// An error: the original's {error: {code, message, statusCode, timestamp}}.
	e.checkShape("get_payment_status", map[string]any{"error": map[string]any{"code": "string", "message": "string",
		"statusCode": "number", "timestamp": "string"}},
		e.call("get_payment_status", map[string]any{"identifier": "00000000-0000-4000-8000-00000000dead"}))

	// --- Bitrefill ----------------------------------------------------------
	omni := e.raw("GET", e.pub+"/omni?q=%2A&limit=25&skip=0&src=mcp&col=1&prefcc=1", nil, false)
	e.check("search", origSearch(omni), e.call("search", map[string]any{"query": "*",
		// The original's advertised extras, and whole numbers written as numbers.
		"beta_flags": "x", "cart": "c", "do_recommend": 1, "rec": 0, "sec": 1, "col": 1, "prefcc": 1, "src": "mcp", "limit": 25.0, "skip": 0.0}))
	e.check("detail", e.raw("GET", e.pub+"/product/steam-usa", nil, false), e.call("detail", map[string]any{"id": "steam-usa"}))
	e.check("categories", origCategories(), e.call("categories", nil))
	e.check("ping", e.rawV2("/ping"), e.call("ping", nil))
	e.check("get_account_balance", e.rawV2("/accounts/balance"), e.call("get_account_balance", nil))
	e.checkShape("detail", map[string]any{"error": "string"}, e.call("detail", map[string]any{"id": "no-such-product"}))

	// A purchase, then the account tools on it.
	created := e.call("create_invoice", map[string]any{"payment_method": "balance",
		"products": []map[string]any{{"product_id": "amazon_com-usa", "value": 10}}})
	inv, _ := created["invoice"].(map[string]any)
	invID, _ := inv["id"].(string)
	if invID == "" {
		t.Fatalf("create_invoice: %v", created)
	}
	envelope := map[string]any{"meta": "object", "data": "object"}
	e.checkShape("create_invoice", envelope, created)
	quote := e.call("pay_invoice", map[string]any{"id": invID})
	paid := e.call("pay_invoice", map[string]any{"id": invID, "confirmation_token": quote["confirmation_token"]})
	if paid["paid"] != true {
		t.Fatalf("pay_invoice: %v", paid)
	}
	e.checkShape("pay_invoice", envelope, paid)
	e.check("get_invoices", e.rawV2("/invoices"), e.call("get_invoices", nil))
	e.check("get_invoice", e.rawV2("/invoices/"+invID), e.call("get_invoice", map[string]any{"id": invID}))
	e.check("get_orders", e.rawV2("/orders"), e.call("get_orders", nil))
	orders, _ := e.call("get_orders", nil)["data"].([]any)
	if len(orders) == 0 {
		t.Fatal("no orders after a purchase")
	}
	orderID, _ := orders[0].(map[string]any)["id"].(string)
	e.check("get_order", e.rawV2("/orders/"+orderID), e.call("get_order", map[string]any{"id": orderID}))
	e.checkShape("unseal_order", envelope, e.call("unseal_order", map[string]any{"id": orderID}))

	for _, p := range e.problems {
		t.Error(p)
	}
	// Keep the table honest: a deviation no longer needed must go (and its
	// README row with it).
	for i, d := range compatDeviations {
		if !e.used[i] {
			t.Errorf("deviation %s %s (%s) is not needed any more", d.tool, d.path, d.want)
		}
	}
}

func TestCompatShapeChecker(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		problems  int
	}{
		{"same", `{"a":1,"b":{"c":"x"},"d":[{"e":true}]}`, `{"a":2,"b":{"c":"y","extra":1},"d":[{"e":false}],"more":0}`, 0},
		{"missing", `{"a":1,"b":{"c":"x"}}`, `{"a":1,"b":{}}`, 1},
		{"type", `{"a":1}`, `{"a":"1"}`, 1},
		{"null is a type", `{"a":null}`, `{"a":"x"}`, 1},
		{"short array", `{"d":[1,2]}`, `{"d":[1]}`, 1},
		{"allowed qr string", `{"qr_address":{"data":"x"}}`, `{"qr_address":"data:image/png;base64,"}`, 0},
		{"allowed error object", `{"error":"boom"}`, `{"error":{"code":"X","message":"boom"}}`, 0},
	}
	for _, tt := range tests {
		var w, g any
		if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tt.got), &g); err != nil {
			t.Fatal(err)
		}
		var c shapeCheck
		c.compare("t", "", spec(w), g)
		if len(c.problems) != tt.problems {
			t.Errorf("%s: %d problems %v, want %d", tt.name, len(c.problems), c.problems, tt.problems)
		}
	}
}
