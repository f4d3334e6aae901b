package fakebitrefill

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// Status values.
const (
	invoiceNotDelivered = "not_delivered"
	invoiceAllDelivered = "all_delivered"
	paymentUnpaid       = "unpaid"
	paymentConfirmed    = "payment_confirmed"
	orderCreated        = "created"
	orderDelivered      = "delivered"

	listDateLayout = "2006-01-02 15:04:05"
	timeLayout     = "2006-01-02T15:04:05.000Z"
	maxListLimit   = 50
	maxProducts    = 20
	maxQuantity    = 100
)

var phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{4,24}$`)

type invoice struct {
	ID            string
	Created       time.Time
	Completed     time.Time
	Status        string
	Method        string
	Currency      string
	Price         money.Decimal // in Currency
	PriceUSD      money.Decimal
	PaymentStatus string
	OrderIDs      []string
	WebhookURL    string
}

type order struct {
	ID          string
	InvoiceID   string
	Product     *product
	Value       string
	Status      string
	Created     time.Time
	Delivered   time.Time
	PhoneNumber string
	Commission  money.Decimal
	Quantity    int // > 1 only with Config.OrderQuantities
}

// paymentCurrency maps a payment method to the currency of the invoice.
func paymentCurrency(method string) (string, bool) {
	switch method {
	case "balance":
		return "USD", true
	case "bitcoin", "lightning":
		return "BTC", true
	case "eth_base", "ethereum":
		return "ETH", true
	case "usdc_base":
		return "USDC", true
	}
	return "", false
}

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func (f *Fake) nextID(kind byte) string {
	f.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%c%d", kind, f.seq)))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// --- JSON documents ---

type userDoc struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func sandboxUser() userDoc { return userDoc{ID: "sandbox-user", Email: "sandbox@example.invalid"} }

func (f *Fake) orderDoc(o *order) map[string]any {
	d := map[string]any{
		"id":     o.ID,
		"status": o.Status,
		"product": map[string]any{
			"id": o.Product.seed.Slug, "name": o.Product.seed.Name, "value": o.Value,
			"currency": o.Product.seed.Currency, "image": "sandbox/" + o.Product.seed.Slug,
			"_href": "/products/" + o.Product.seed.Slug,
		},
		"created_time":   fmtTime(o.Created),
		"delivered_time": nil,
		"commission":     num(o.Commission, 2),
		"user":           sandboxUser(),
		"invoice":        map[string]any{"id": o.InvoiceID, "_href": "/invoices/" + o.InvoiceID},
	}
	if o.PhoneNumber != "" {
		d["phone_number"] = o.PhoneNumber
	}
	if f.orderQty {
		d["quantity"] = o.Quantity
	}
	if o.Status == orderDelivered {
		d["delivered_time"] = fmtTime(o.Delivered)
		d["redemption_info"] = o.Product.seed.Instructions
	}
	return d
}

func (f *Fake) invoiceDoc(inv *invoice) map[string]any {
	dec := 2
	if cr, ok := cryptoRateOf(inv.Currency); ok {
		dec = cr.decimals
	}
	pay := map[string]any{
		"method": inv.Method, "currency": inv.Currency, "price": num(inv.Price, dec),
		"status": inv.PaymentStatus, "commission": num("0", 2),
	}
	ref := strings.ToUpper(strings.ReplaceAll(inv.ID[:8], "-", ""))
	switch inv.Method {
	case "bitcoin":
		pay["address"] = "bcrt1qsandbox" + strings.ToLower(ref)
		pay["payment_uri"] = "bitcoin:bcrt1qsandbox" + strings.ToLower(ref) + "?amount=" + inv.Price.Round(8, money.HalfUp).String()
	case "lightning":
		pay["lightning_invoice"] = "lnbcrt" + strings.ToLower(ref) + "sandbox"
	case "eth_base", "ethereum", "usdc_base":
		pay["address"] = "0x5a4db0x" + strings.ToLower(ref) + "00000000000000000000000000"
	}
	orders := make([]map[string]any, 0, len(inv.OrderIDs))
	for _, id := range inv.OrderIDs {
		orders = append(orders, f.orderDoc(f.orderByID[id]))
	}
	d := map[string]any{
		"id": inv.ID, "created_time": fmtTime(inv.Created), "status": inv.Status,
		"user": sandboxUser(), "payment": pay, "orders": orders, "sandbox": true,
	}
	if !inv.Completed.IsZero() {
		d["completed_time"] = fmtTime(inv.Completed)
	}
	return d
}

func meta(r *http.Request, extra map[string]any) map[string]any {
	m := map[string]any{"_endpoint": endpoint(r)}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func envelope(r *http.Request, extra map[string]any, data any) map[string]any {
	return map[string]any{"meta": meta(r, extra), "data": data}
}

// --- handlers ---

func (f *Fake) handlePing(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"meta": meta(r, nil), "message": "pong (sandbox)"})
}

func (f *Fake) handleBalance(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	bal := num(f.balance, 2)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, envelope(r, nil, map[string]any{"balance": bal, "currency": DefaultBalanceCurrency}))
}

// createReq is the POST /invoices body. Value is kept raw to accept a
// number or a string.
type createReq struct {
	Products []struct {
		ProductID   string          `json:"product_id"`
		Quantity    json.RawMessage `json:"quantity"`
		Value       json.RawMessage `json:"value"`
		PackageID   string          `json:"package_id"`
		PhoneNumber string          `json:"phone_number"`
		SendEmail   bool            `json:"send_email"`
		SendSMS     bool            `json:"send_sms"`
	} `json:"products"`
	PaymentMethod string `json:"payment_method"`
	WebhookURL    string `json:"webhook_url"`
	AutoPay       bool   `json:"auto_pay"`
}

type apiErr struct {
	status int
	msg    string
	code   string
}

func (e *apiErr) Error() string { return e.msg }

func badRequest(code, format string, args ...any) *apiErr {
	return &apiErr{http.StatusBadRequest, fmt.Sprintf(format, args...), code}
}

func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiErr
	if !errors.As(err, &ae) {
		ae = &apiErr{http.StatusInternalServerError, "internal error", "internal_error"}
	}
	writeJSON(w, ae.status, errBody(endpoint(r), ae.msg, ae.code))
}

func rawAmount(raw json.RawMessage) (money.Decimal, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		n = json.Number(strings.TrimSpace(s))
	}
	v, err := parseAmount(n.String())
	return v, err == nil
}

func (f *Fake) handleCreateInvoice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	var req createReq
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, r, &apiErr{http.StatusRequestEntityTooLarge, "request body too large", "body_too_large"})
			return
		}
		writeErr(w, r, badRequest("invalid_json", "request body must be a JSON object"))
		return
	}
	inv, err := f.createInvoice(&req)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	products := make([]map[string]any, 0, len(req.Products))
	for _, p := range req.Products {
		item := map[string]any{"product_id": p.ProductID}
		if p.PackageID != "" {
			item["package_id"] = p.PackageID
		}
		if len(p.Value) > 0 {
			item["value"] = json.RawMessage(p.Value)
		}
		products = append(products, item)
	}
	writeJSON(w, http.StatusOK, envelope(r, map[string]any{
		"products": products, "payment_method": req.PaymentMethod, "auto_pay": req.AutoPay,
	}, inv))
}

// createInvoice validates req and stores the invoice, paying it when
// auto_pay is set. It returns the invoice document.
func (f *Fake) createInvoice(req *createReq) (map[string]any, error) {
	if len(req.Products) == 0 {
		return nil, badRequest("missing_products", "products must contain at least one item")
	}
	if len(req.Products) > maxProducts {
		return nil, badRequest("too_many_products", "at most %d products per invoice", maxProducts)
	}
	cur, ok := paymentCurrency(req.PaymentMethod)
	if !ok {
		return nil, badRequest("invalid_payment_method", "payment_method %q is not supported", truncateText(req.PaymentMethod, 40))
	}
	if req.AutoPay && req.PaymentMethod != "balance" {
		return nil, badRequest("invalid_auto_pay", "auto_pay requires payment_method balance")
	}
	if req.WebhookURL != "" {
		u, err := url.Parse(req.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, badRequest("invalid_webhook_url", "webhook_url must be an absolute http(s) URL")
		}
	}
	type line struct {
		p     *product
		k     pkg
		qty   int
		phone string
	}
	lines := make([]line, 0, len(req.Products))
	totalUSD := money.Decimal("0")
	for i, it := range req.Products {
		p, ok := f.cat.bySlug[it.ProductID]
		if !ok {
			return nil, &apiErr{http.StatusNotFound, fmt.Sprintf("products[%d]: product %q not found", i, truncateText(it.ProductID, 80)), "product_not_found"}
		}
		if p.seed.OutOfStock {
			return nil, badRequest("product_out_of_stock", "products[%d]: %s is out of stock", i, p.seed.Slug)
		}
		qty := 1
		if len(it.Quantity) > 0 && string(it.Quantity) != "null" {
			n, err := strconv.Atoi(string(it.Quantity))
			if err != nil || n < 1 || n > maxQuantity {
				return nil, badRequest("invalid_quantity", "products[%d]: quantity must be an integer between 1 and %d", i, maxQuantity)
			}
			qty = n
		}
		hasValue := len(it.Value) > 0 && string(it.Value) != "null"
		hasPkg := it.PackageID != ""
		var k pkg
		switch {
		case hasValue == hasPkg:
			return nil, badRequest("invalid_product_value", "products[%d]: exactly one of value or package_id is required", i)
		case hasValue:
			v, ok := rawAmount(it.Value)
			if !ok {
				return nil, badRequest("invalid_product_value", "products[%d]: value must be a number", i)
			}
			if k, ok = p.findValue(v); !ok {
				return nil, badRequest("invalid_product_value", "products[%d]: value %s is not available for %s (%s)", i, v.Reduce(), p.seed.Slug, p.priceRangeText())
			}
		default:
			if k, ok = p.findPackageID(it.PackageID); !ok {
				return nil, badRequest("invalid_package_id", "products[%d]: package_id %q not found", i, truncateText(it.PackageID, 80))
			}
		}
		if p.seed.RecipientType == "phone_number" {
			if !phoneRe.MatchString(it.PhoneNumber) {
				return nil, badRequest("invalid_phone_number", "products[%d]: phone_number is required for %s", i, p.seed.Slug)
			}
		}
		totalUSD = totalUSD.Add(k.UsdPrice.Mul(money.Decimal(strconv.Itoa(qty))))
		lines = append(lines, line{p: p, k: k, qty: qty, phone: it.PhoneNumber})
	}
	price := totalUSD
	if cr, ok := cryptoRateOf(cur); ok {
		price = quo(totalUSD, dec(cr.usdPrice), cr.decimals)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if req.AutoPay && f.balance.Cmp(totalUSD) < 0 {
		return nil, insufficient(f.balance, totalUSD)
	}
	now := f.now()
	inv := &invoice{
		ID: f.nextID('i'), Created: now, Status: invoiceNotDelivered, Method: req.PaymentMethod,
		Currency: cur, Price: price, PriceUSD: totalUSD, PaymentStatus: paymentUnpaid, WebhookURL: req.WebhookURL,
	}
	for _, l := range lines {
		orders, qty := l.qty, 1
		if f.orderQty {
			orders, qty = 1, l.qty
		}
		for range orders {
			o := &order{
				ID: f.nextID('o'), InvoiceID: inv.ID, Product: l.p, Value: l.k.Value, Status: orderCreated, Quantity: qty,
				Created: now, PhoneNumber: l.phone, Commission: l.k.UsdPrice.Mul(money.Decimal(strconv.Itoa(qty))).Mul("0.01").Round(2, money.HalfUp),
			}
			f.orders = append(f.orders, o)
			f.orderByID[o.ID] = o
			inv.OrderIDs = append(inv.OrderIDs, o.ID)
		}
	}
	f.invoices = append(f.invoices, inv)
	f.invoiceByID[inv.ID] = inv
	if req.AutoPay {
		f.settleLocked(inv, true)
	}
	return f.invoiceDoc(inv), nil
}

func insufficient(balance, need money.Decimal) *apiErr {
	return &apiErr{http.StatusForbidden,
		fmt.Sprintf("Insufficient balance: %s USD available, %s USD required", balance.Round(2, money.HalfUp), need.Round(2, money.HalfUp)),
		"insufficient_funds"}
}

// settleLocked marks inv paid and its orders delivered; with debit, the
// balance is charged. f.mu must be held.
func (f *Fake) settleLocked(inv *invoice, debit bool) {
	if debit {
		f.balance = f.balance.Sub(inv.PriceUSD)
	}
	inv.PaymentStatus = paymentConfirmed
	if !f.holdDelivery {
		f.deliverLocked(inv)
	}
}

// deliverLocked marks inv's orders delivered. f.mu must be held.
func (f *Fake) deliverLocked(inv *invoice) {
	now := f.now()
	inv.Status = invoiceAllDelivered
	inv.Completed = now
	for _, id := range inv.OrderIDs {
		o := f.orderByID[id]
		o.Status = orderDelivered
		o.Delivered = now
	}
}

// SimulatePayment marks an unpaid invoice as paid by its crypto payment
// method (no balance change), delivering its orders — the sandbox's stand-in
// for a customer paying the address or Lightning invoice.
func (f *Fake) SimulatePayment(invoiceID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoiceByID[invoiceID]
	if !ok {
		return fmt.Errorf("fakebitrefill: invoice %q not found", invoiceID)
	}
	if inv.PaymentStatus != paymentUnpaid {
		return fmt.Errorf("fakebitrefill: invoice %q already paid", invoiceID)
	}
	f.settleLocked(inv, inv.Method == "balance")
	return nil
}

// InvoiceIDs returns the ids of every invoice, oldest first.
func (f *Fake) InvoiceIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(f.invoices))
	for i, inv := range f.invoices {
		ids[i] = inv.ID
	}
	return ids
}

// Deliver delivers the orders of a paid invoice whose delivery was held
// (SetHoldDelivery).
func (f *Fake) Deliver(invoiceID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoiceByID[invoiceID]
	if !ok {
		return fmt.Errorf("fakebitrefill: invoice %q not found", invoiceID)
	}
	if inv.PaymentStatus != paymentConfirmed || inv.Status == invoiceAllDelivered {
		return fmt.Errorf("fakebitrefill: invoice %q is not awaiting delivery", invoiceID)
	}
	f.deliverLocked(inv)
	return nil
}

func (f *Fake) handlePayInvoice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoiceByID[id]
	if !ok || inv.PaymentStatus != paymentUnpaid {
		writeErr(w, r, &apiErr{http.StatusNotFound, "Invoice not found or already paid", "invoice_not_found"})
		return
	}
	if inv.Method != "balance" {
		writeErr(w, r, badRequest("invalid_payment_method", "only invoices with payment_method balance can be paid through the API"))
		return
	}
	if f.balance.Cmp(inv.PriceUSD) < 0 {
		writeErr(w, r, insufficient(f.balance, inv.PriceUSD))
		return
	}
	f.settleLocked(inv, true)
	writeJSON(w, http.StatusOK, envelope(r, map[string]any{"id": id}, f.invoiceDoc(inv)))
}

func (f *Fake) handleGetInvoice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoiceByID[id]
	if !ok {
		writeErr(w, r, &apiErr{http.StatusNotFound, "Invoice not found", "invoice_not_found"})
		return
	}
	writeJSON(w, http.StatusOK, envelope(r, map[string]any{"id": id}, f.invoiceDoc(inv)))
}

// listParams are parsed start/limit/after/before.
type listParams struct {
	start, limit  int
	after, before string
	afterT        time.Time
	beforeT       time.Time
}

func parseList(r *http.Request, dates bool) (listParams, error) {
	q := r.URL.Query()
	var lp listParams
	var err error
	if lp.start, err = intStrict(q.Get("start"), 0, 0, 1_000_000); err != nil {
		return lp, badRequest("invalid_start", "start must be an integer >= 0")
	}
	if lp.limit, err = intStrict(q.Get("limit"), maxListLimit, 1, maxListLimit); err != nil {
		return lp, badRequest("invalid_limit", "limit must be an integer between 1 and %d", maxListLimit)
	}
	for _, d := range []struct {
		name string
		s    *string
		t    *time.Time
	}{{"after", &lp.after, &lp.afterT}, {"before", &lp.before, &lp.beforeT}} {
		v := q.Get(d.name)
		if v == "" {
			continue
		}
		if !dates {
			return lp, badRequest("invalid_"+d.name, "%s is not supported here", d.name)
		}
		t, err := time.Parse(listDateLayout, v)
		if err != nil {
			return lp, badRequest("invalid_"+d.name, "%s must use the format YYYY-MM-DD HH:MM:SS", d.name)
		}
		*d.s, *d.t = v, t
	}
	return lp, nil
}

func intStrict(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("out of range")
	}
	return n, nil
}

func (lp listParams) keep(created time.Time) bool {
	c := created.UTC().Truncate(time.Second)
	if !lp.afterT.IsZero() && c.Before(lp.afterT) {
		return false
	}
	if !lp.beforeT.IsZero() && !c.Before(lp.beforeT) {
		return false
	}
	return true
}

// page slices n items and builds the list meta (with _next).
func (lp listParams) page(r *http.Request, n int) (lo, hi int, m map[string]any) {
	lo = min(lp.start, n)
	hi = min(lo+lp.limit, n)
	m = map[string]any{"start": lp.start, "limit": lp.limit, "count": hi - lo}
	if lp.after != "" {
		m["after"] = lp.after
	}
	if lp.before != "" {
		m["before"] = lp.before
	}
	if hi < n {
		q := url.Values{}
		q.Set("start", strconv.Itoa(hi))
		q.Set("limit", strconv.Itoa(lp.limit))
		if lp.after != "" {
			q.Set("after", lp.after)
		}
		if lp.before != "" {
			q.Set("before", lp.before)
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		m["_next"] = scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
	}
	return lo, hi, m
}

func (f *Fake) handleListInvoices(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	servePage(w, r, f.invoices, func(inv *invoice) time.Time { return inv.Created }, f.invoiceDoc)
}

func (f *Fake) handleListOrders(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	servePage(w, r, f.orders, func(o *order) time.Time { return o.Created }, f.orderDoc)
}

// servePage answers a v2 list request: items newest first, filtered by the
// after/before window, one page of them in the {meta, data} envelope. The
// caller holds the lock that guards items.
func servePage[T any](w http.ResponseWriter, r *http.Request, items []T, created func(T) time.Time, doc func(T) map[string]any) {
	lp, err := parseList(r, true)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	var sel []T
	for i := len(items) - 1; i >= 0; i-- { // newest first
		if lp.keep(created(items[i])) {
			sel = append(sel, items[i])
		}
	}
	lo, hi, m := lp.page(r, len(sel))
	data := make([]map[string]any, 0, hi-lo)
	for _, it := range sel[lo:hi] {
		data = append(data, doc(it))
	}
	writeJSON(w, http.StatusOK, envelope(r, m, data))
}

func (f *Fake) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orderByID[id]
	if !ok {
		writeErr(w, r, &apiErr{http.StatusNotFound, "Order not found", "order_not_found"})
		return
	}
	writeJSON(w, http.StatusOK, envelope(r, map[string]any{"id": id}, f.orderDoc(o)))
}

// fakeCode derives a stable, obviously fake code from an order id.
func fakeCode(orderID, salt string) string {
	sum := sha256.Sum256([]byte(salt + orderID))
	s := base32.StdEncoding.EncodeToString(sum[:])
	return "SANDBOX-" + s[0:4] + "-" + s[4:8]
}

func fakePin(orderID string) string {
	sum := sha256.Sum256([]byte("pin" + orderID))
	return fmt.Sprintf("%04d", (int(sum[0])<<8|int(sum[1]))%10000)
}

func (f *Fake) handleUnseal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orderByID[id]
	if !ok {
		writeErr(w, r, &apiErr{http.StatusNotFound, "Order not found", "order_not_found"})
		return
	}
	if o.Status != orderDelivered {
		writeErr(w, r, badRequest("order_not_delivered", "order is not delivered yet (pay its invoice first)"))
		return
	}
	d := f.orderDoc(o)
	switch o.Product.seed.Type {
	case "refills":
		d["phone_number"] = o.PhoneNumber
	case "esims":
		code := fakeCode(o.ID, "esim")
		d["code"] = "LPA:1$sandbox.invalid$" + code
		d["link"] = "https://sandbox.invalid/esim/" + code
	case "crypto-utils":
		code := fakeCode(o.ID, "ln")
		d["code"] = code
		d["link"] = "https://sandbox.invalid/lnurl/" + code
	default:
		d["code"] = fakeCode(o.ID, "code")
		if o.Product.seed.IsPinBased {
			d["pin"] = fakePin(o.ID)
			d["pin_code"] = d["pin"]
		}
	}
	writeJSON(w, http.StatusOK, envelope(r, map[string]any{"id": id}, d))
}

func (f *Fake) v2ProductDoc(p *product) map[string]any {
	pkgs := make([]map[string]any, 0, len(p.packages))
	for _, k := range p.packages {
		pkgs = append(pkgs, map[string]any{
			"id": p.seed.Slug + "<&>" + k.Value, "value": k.Value, "price": num(k.UsdPrice, 2),
		})
	}
	d := map[string]any{
		"id": p.seed.Slug, "name": p.seed.Name, "country_code": p.seed.CountryCode,
		"country_name": countryName(p.seed.CountryCode), "currency": p.seed.Currency,
		"created_time": "2024-01-01T00:00:00.000Z", "recipient_type": p.seed.RecipientType,
		"image": "sandbox/" + p.seed.Slug, "in_stock": !p.seed.OutOfStock, "packages": pkgs,
	}
	if d["recipient_type"] == "" {
		d["recipient_type"] = "none"
	}
	if p.rng != nil {
		d["range"] = map[string]any{"min": json.Number(p.rng.Min), "max": json.Number(p.rng.Max), "step": json.Number(p.rng.Step)}
	}
	return d
}

func (f *Fake) handleListProducts(w http.ResponseWriter, r *http.Request) {
	lp, err := parseList(r, false)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	lo, hi, m := lp.page(r, len(f.cat.products))
	data := make([]map[string]any, 0, hi-lo)
	for _, p := range f.cat.products[lo:hi] {
		data = append(data, f.v2ProductDoc(p))
	}
	writeJSON(w, http.StatusOK, envelope(r, m, data))
}

func (f *Fake) handleGetProduct(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, ok := f.cat.bySlug[id]
	if !ok {
		writeErr(w, r, &apiErr{http.StatusNotFound, "Product not found", "product_not_found"})
		return
	}
	writeJSON(w, http.StatusOK, envelope(r, map[string]any{"id": id}, f.v2ProductDoc(p)))
}

func (f *Fake) handleCheckPhone(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	phone := strings.TrimSpace(q.Get("phone_number"))
	operator := strings.TrimSpace(q.Get("operator"))
	if !phoneRe.MatchString(phone) {
		writeErr(w, r, badRequest("invalid_phone_number", "phone_number must be a phone number in international format"))
		return
	}
	digits := "+" + strings.Map(func(c rune) rune {
		if c >= '0' && c <= '9' {
			return c
		}
		return -1
	}, phone)
	var best *product
	for _, p := range f.cat.products {
		pre := p.seed.PhonePrefix
		if pre == "" || !strings.HasPrefix(digits, pre) {
			continue
		}
		if operator != "" && operator != p.seed.Slug {
			continue
		}
		if best == nil || len(pre) > len(best.seed.PhonePrefix) {
			best = p
		}
	}
	m := map[string]any{"phone_number": phone}
	if operator != "" {
		m["operator"] = operator
	}
	body := map[string]any{"meta": meta(r, m), "operator_found": best != nil, "data": nil}
	if best != nil {
		body["data"] = map[string]any{
			"id": best.seed.Slug, "name": best.seed.Name, "country_code": best.seed.CountryCode,
			"country_name": countryName(best.seed.CountryCode), "currency": best.seed.Currency,
			"created_time": "2024-01-01T00:00:00.000Z", "recipient_type": best.seed.RecipientType,
			"image": "sandbox/" + best.seed.Slug, "in_stock": !best.seed.OutOfStock,
		}
	}
	writeJSON(w, http.StatusOK, body)
}
