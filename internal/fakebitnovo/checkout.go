package fakebitnovo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
)

// The checkout page at an order's web_url lets a person play the customer:
//
//	GET  /{shortid}/            the page (HTML, inline CSS and JS only)
//	GET  /{shortid}/status      the order as the page shows it (JSON)
//	POST /{shortid}/simulate    {"action":"pay|underpay|expire|cancel|choose","currency":"ETH"}
//
// simulate drives the lifecycle with SelectCurrency, Pay and so on, and
// answers the new state, or 409 with a message for an impossible
// transition. It follows the admin rules (loopback only, no proxy headers,
// application/json). status and simulate bypass faults and request counts,
// like the admin surface; the page itself is counted like any request.
//
// Stable element ids: #status (code), #status-text (meaning), #pay-full,
// #underpay, #expire, #cancel, #currency and #choose (the picker, NR orders
// without a currency), #crypto-amount, #received, #timeline (one li per
// status change, data-status set), #message (errors).

// checkoutShortID extracts the short id from "/{shortid}/" or "/{shortid}",
// where shortid is 4–20 ASCII letters and digits.
func checkoutShortID(p string) (string, bool) {
	id := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if !validShortID(id) {
		return "", false
	}
	return id, true
}

func validShortID(id string) bool {
	if len(id) < 4 || len(id) > 20 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkoutControlPath splits "/{shortid}/status" and "/{shortid}/simulate".
func checkoutControlPath(p string) (short, sub string, ok bool) {
	short, sub, found := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !found || (sub != "status" && sub != "simulate") || !validShortID(short) {
		return "", "", false
	}
	return short, sub, true
}

// orderByShort returns a snapshot of the order with web_url short id short.
func (s *Server) orderByShort(short string) (OrderInfo, bool) {
	s.mu.Lock()
	o, ok := s.byShort[short]
	id := ""
	if ok {
		id = o.id
	}
	s.mu.Unlock()
	if !ok {
		return OrderInfo{}, false
	}
	inf, err := s.Order(id)
	return inf, err == nil
}

// statusNames gives each status its name and the meaning the MCP server
// shows (reference §4).
var statusNames = map[string][2]string{
	StatusNotReady:           {"Not ready", "Payment created, waiting for cryptocurrency assignment"},
	StatusPending:            {"Pending", "Payment pending, waiting for customer transaction"},
	StatusAwaitingCompletion: {"Awaiting completion", "Payment detected, awaiting network confirmation"},
	StatusInsufficientAmount: {"Insufficient amount", "Insufficient amount received, additional payment needed"},
	StatusOutOfCondition:     {"Out of condition", "Payment conditions not met"},
	StatusCompleted:          {"Completed", "Payment completed and confirmed"},
	StatusCancelled:          {"Cancelled", "Payment cancelled"},
	StatusExpired:            {"Expired", "Payment expired"},
	StatusFailed:             {"Failed", "Payment failed"},
	"RF":                     {"Refunded", "Payment refunded"},
}

// pageFinal reports whether the page treats status as final: no button
// applies any more (OC counts: the merchant has to sort it out).
func pageFinal(status string) bool {
	switch status {
	case StatusCompleted, StatusExpired, StatusCancelled, StatusFailed, StatusOutOfCondition, "RF":
		return true
	}
	return false
}

// checkoutStep is one status change on the page's timeline.
type checkoutStep struct {
	Status  string    `json:"status"`
	Name    string    `json:"name"`
	Meaning string    `json:"meaning"`
	At      time.Time `json:"at"`
}

// checkoutState is GET /{shortid}/status and the page's data.
type checkoutState struct {
	Identifier   string         `json:"identifier"`
	Status       string         `json:"status"`
	Name         string         `json:"name"`
	Meaning      string         `json:"meaning"`
	Final        bool           `json:"final"`
	FiatAmount   string         `json:"fiat_amount"`
	Fiat         string         `json:"fiat"`
	Currency     string         `json:"currency"` // "" until chosen
	CryptoAmount string         `json:"crypto_amount"`
	Received     string         `json:"received_amount"`
	Address      string         `json:"address"`
	TagMemo      string         `json:"tag_memo"`
	PaymentURI   string         `json:"payment_uri"`
	ExpiredTime  time.Time      `json:"expired_time"`
	Timeline     []checkoutStep `json:"timeline"`
}

func newCheckoutState(inf OrderInfo) checkoutState {
	st := checkoutState{
		Identifier:   inf.Identifier,
		Status:       inf.Status,
		Name:         statusNames[inf.Status][0],
		Meaning:      statusNames[inf.Status][1],
		Final:        pageFinal(inf.Status),
		FiatAmount:   inf.FiatAmount,
		Fiat:         inf.Fiat,
		Currency:     inf.CurrencyID,
		CryptoAmount: inf.CryptoAmount,
		Received:     inf.ReceivedAmount,
		Address:      inf.Address,
		TagMemo:      inf.TagMemo,
		PaymentURI:   inf.PaymentURI,
		ExpiredTime:  inf.ExpiredTime,
		Timeline:     make([]checkoutStep, 0, len(inf.History)),
	}
	for _, h := range inf.History {
		st.Timeline = append(st.Timeline, checkoutStep{h.Status, statusNames[h.Status][0], statusNames[h.Status][1], h.At.UTC()})
	}
	return st
}

// checkoutPage is the template's data.
type checkoutPage struct {
	checkoutState
	Notes       string
	Base        string // "/{shortid}/"
	Nonce       string // CSP nonce of the inline script
	Currencies  []string
	Default     string // preselected currency
	CanUnderpay bool
}

// pickable lists the currencies whose limits admit the order's amount.
func (s *Server) pickable(inf OrderInfo) []string {
	amt, err := parseAmount(inf.FiatAmount)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range s.catalog {
		if amt.Cmp(e.min) >= 0 && (e.max == "" || amt.Cmp(e.max) <= 0) {
			out = append(out, e.Symbol)
		}
	}
	return out
}

// handleCheckout serves the checkout page GET /{shortid}/.
func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request, short string) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	inf, ok := s.orderByShort(short)
	if !ok {
		writeNotFound(w)
		return
	}
	var nb [16]byte
	_, _ = rand.Read(nb[:]) // crypto/rand.Read never fails
	page := checkoutPage{
		checkoutState: newCheckoutState(inf),
		Notes:         inf.Notes,
		Base:          "/" + short + "/",
		Nonce:         hex.EncodeToString(nb[:]),
		CanUnderpay:   inf.Status == StatusNotReady || inf.Status == StatusPending,
	}
	if inf.CurrencyID == "" && inf.Status == StatusNotReady {
		page.Currencies = s.pickable(inf)
		for _, c := range page.Currencies {
			if c == DefaultPayCurrency || page.Default == "" {
				page.Default = c
			}
		}
	}
	var buf bytes.Buffer
	if err := s.checkout.Execute(&buf, page); err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "could not render the checkout page")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+page.Nonce+
		"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// Actions accepted by POST /{shortid}/simulate.
const (
	actionPay      = "pay"
	actionUnderpay = "underpay"
	actionExpire   = "expire"
	actionCancel   = "cancel"
	actionChoose   = "choose"
)

// serveCheckoutControl serves /{shortid}/status and /{shortid}/simulate.
func (s *Server) serveCheckoutControl(w http.ResponseWriter, r *http.Request, short, sub string) {
	w.Header().Set("Cache-Control", "no-store")
	if sub == "status" {
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		inf, ok := s.orderByShort(short)
		if !ok {
			writeNotFound(w)
			return
		}
		writeJSON(w, http.StatusOK, newCheckoutState(inf))
		return
	}
	if !localOnly(w, r) || !allowMethods(w, r, http.MethodPost) {
		return
	}
	var body struct {
		Action   string `json:"action"`
		Currency string `json:"currency"`
	}
	if !decodeAdminJSON(w, r, &body) {
		return
	}
	inf, ok := s.orderByShort(short)
	if !ok {
		writeNotFound(w)
		return
	}
	id := inf.Identifier
	var err error
	switch body.Action {
	case actionChoose:
		err = s.SelectCurrency(id, body.Currency)
	case actionPay, actionUnderpay:
		if inf.Status == StatusNotReady && inf.CurrencyID == "" && body.Currency != "" {
			err = s.SelectCurrency(id, body.Currency)
		}
		if err == nil {
			outcome := OutcomeFull
			if body.Action == actionUnderpay {
				outcome = OutcomeUnderpay
			}
			err = s.Pay(id, outcome)
		}
	case actionExpire:
		err = s.Pay(id, OutcomeExpire)
	case actionCancel:
		err = s.Pay(id, OutcomeCancel)
	default:
		writeError(w, http.StatusBadRequest, "UNKNOWN_ACTION", `action must be one of "pay", "underpay", "expire", "cancel", "choose"`)
		return
	}
	now, nerr := s.Order(id)
	if nerr != nil {
		writeAdminErr(w, nerr)
		return
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, newCheckoutState(now))
	case errors.Is(err, ErrInvalidTransition):
		msg := "Cannot " + body.Action + " this payment: it is " + now.Status + " (" + statusNames[now.Status][0] + ")."
		writeError(w, http.StatusConflict, "INVALID_TRANSITION", msg)
	case errors.Is(err, ErrAmountOutOfRange):
		msg := "Cannot pay " + now.FiatAmount + " " + now.Fiat + " in " + body.Currency + ": the amount is outside its limits."
		writeError(w, http.StatusConflict, "AMOUNT_OUT_OF_RANGE", msg)
	default:
		writeAdminErr(w, err)
	}
}

const checkoutHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bitnovo Pay sandbox · {{.FiatAmount}} {{.Fiat}}</title>
<style>
:root{--ink:#1d2433;--muted:#667085;--line:#e4e7ec;--brand:#2454d6;--ok:#12805c;--bad:#c4320a;--wait:#b54708}
*{box-sizing:border-box}
body{margin:0;background:#f2f4f7;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{background:#101828;color:#fff;padding:14px 24px;display:flex;align-items:center;gap:12px}
header h1{font-size:17px;margin:0;font-weight:600;letter-spacing:.2px}
.pill{font-size:11px;font-weight:700;letter-spacing:.6px;text-transform:uppercase;background:#fec84b;color:#101828;border-radius:99px;padding:2px 9px}
main{max-width:560px;margin:28px auto;padding:0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:14px;padding:24px;box-shadow:0 1px 3px rgba(16,24,40,.06)}
.amount{font-size:34px;font-weight:700;margin:0}
.sub{color:var(--muted);margin:2px 0 18px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0 0 18px}
dt{color:var(--muted)}
dd{margin:0;min-width:0}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.status{display:flex;align-items:center;gap:12px;padding:12px 14px;border-radius:10px;background:#fffaeb;border:1px solid #fedf89;margin-bottom:18px}
.status.ok{background:#ecfdf3;border-color:#abefc6}
.status.bad{background:#fef3f2;border-color:#fecdca}
.badge{font:700 14px/1 ui-monospace,Menlo,Consolas,monospace;background:var(--wait);color:#fff;border-radius:6px;padding:6px 8px}
.ok .badge{background:var(--ok)}
.bad .badge{background:var(--bad)}
.buttons{display:grid;grid-template-columns:1fr 1fr;gap:10px}
button,select{font:inherit;border-radius:9px;padding:10px 12px;border:1px solid var(--line);background:#fff;color:var(--ink);cursor:pointer}
button.primary{background:var(--brand);border-color:var(--brand);color:#fff;font-weight:600}
button.danger{color:var(--bad);border-color:#fda29b}
button:disabled{opacity:.45;cursor:not-allowed}
.picker{display:flex;gap:8px;margin:0 0 18px}
.picker select{flex:1}
#message{min-height:1.4em;color:var(--bad);margin:10px 0 0;font-size:14px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);margin:10px 0 8px}
ol{list-style:none;margin:0;padding:0;border-left:2px solid var(--line)}
ol li{position:relative;padding:2px 0 8px 16px}
ol li:before{content:"";position:absolute;left:-6px;top:8px;width:10px;height:10px;border-radius:50%;background:var(--brand)}
ol li time{color:var(--muted);font-size:13px;margin-left:6px}
.note{color:var(--muted);font-size:13px;text-align:center;margin-top:16px}
[hidden]{display:none!important}
</style>
</head>
<body>
<header><h1>Bitnovo Pay — sandbox</h1><span class="pill">Test mode</span></header>
<main id="checkout" data-base="{{.Base}}">
<div class="card">
<p class="amount"><span id="fiat-amount">{{.FiatAmount}}</span> <span id="fiat">{{.Fiat}}</span></p>
<p class="sub">Payment <code id="identifier">{{.Identifier}}</code></p>
<div id="status-box" class="status{{if eq .Status "CO"}} ok{{else if .Final}} bad{{end}}">
<span class="badge" id="status">{{.Status}}</span>
<span><strong id="status-name">{{.Name}}</strong><br><span id="status-text">{{.Meaning}}</span></span>
</div>
<div class="picker" id="picker"{{if not .Currencies}} hidden{{end}}>
<select id="currency" aria-label="Currency">{{range .Currencies}}<option value="{{.}}"{{if eq . $.Default}} selected{{end}}>{{.}}</option>{{end}}</select>
<button type="button" id="choose">Choose currency</button>
</div>
<dl>
<dt>Currency</dt><dd id="currency-name">{{if .Currency}}{{.Currency}}{{else}}not chosen yet{{end}}</dd>
<dt>Amount</dt><dd id="crypto-amount">{{if .Currency}}{{.CryptoAmount}} {{.Currency}}{{else}}—{{end}}</dd>
<dt>Received</dt><dd id="received">{{if .Currency}}{{.Received}} {{.Currency}}{{else}}—{{end}}</dd>
<dt>Address</dt><dd><code id="address">{{if .Address}}{{.Address}}{{else}}—{{end}}</code></dd>
<dt{{if not .TagMemo}} hidden{{end}} id="memo-label">Tag / memo</dt><dd{{if not .TagMemo}} hidden{{end}}><code id="memo">{{.TagMemo}}</code></dd>
{{- if .Notes}}
<dt>Notes</dt><dd>{{.Notes}}</dd>
{{- end}}
<dt>Expires</dt><dd id="expires">{{.ExpiredTime.UTC.Format "2006-01-02 15:04:05 UTC"}}</dd>
</dl>
<div class="buttons">
<button type="button" class="primary" id="pay-full" data-action="pay"{{if .Final}} disabled{{end}}>Pay in full</button>
<button type="button" id="underpay" data-action="underpay"{{if not .CanUnderpay}} disabled{{end}}>Underpay</button>
<button type="button" id="expire" data-action="expire"{{if .Final}} disabled{{end}}>Let it expire</button>
<button type="button" class="danger" id="cancel" data-action="cancel"{{if .Final}} disabled{{end}}>Cancel</button>
</div>
<p id="message" role="status"></p>
<h2>Timeline</h2>
<ol id="timeline">
{{- range .Timeline}}
<li data-status="{{.Status}}"><code>{{.Status}}</code> {{.Name}}<time>{{.At.Format "15:04:05 UTC"}}</time></li>
{{- end}}
</ol>
</div>
<p class="note">Sandbox: no real money moves. The buttons act as the customer would.</p>
</main>
<script nonce="{{.Nonce}}">
(function () {
  "use strict";
  var root = document.getElementById("checkout");
  var base = root.getAttribute("data-base");
  var $ = function (id) { return document.getElementById(id); };
  var buttons = ["pay-full", "underpay", "expire", "cancel"].map($);
  var busy = false, last = null;

  function render(st) {
    last = st;
    $("status").textContent = st.status;
    $("status-name").textContent = st.name || "";
    $("status-text").textContent = st.meaning || "";
    $("status-box").className = "status" + (st.status === "CO" ? " ok" : st.final ? " bad" : "");
    $("currency-name").textContent = st.currency || "not chosen yet";
    $("crypto-amount").textContent = st.currency ? st.crypto_amount + " " + st.currency : "—";
    $("received").textContent = st.currency ? st.received_amount + " " + st.currency : "—";
    $("address").textContent = st.address || "—";
    $("memo").textContent = st.tag_memo || "";
    $("memo-label").hidden = $("memo").parentNode.hidden = !st.tag_memo;
    $("picker").hidden = !!st.currency || st.status !== "NR" || !$("currency").options.length;
    $("expires").textContent = st.expired_time.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
    var ol = $("timeline");
    while (ol.firstChild) { ol.removeChild(ol.firstChild); }
    (st.timeline || []).forEach(function (step) {
      var li = document.createElement("li"), code = document.createElement("code"), t = document.createElement("time");
      li.setAttribute("data-status", step.status);
      code.textContent = step.status;
      t.textContent = step.at.substr(11, 8) + " UTC";
      li.appendChild(code);
      li.appendChild(document.createTextNode(" " + step.name));
      li.appendChild(t);
      ol.appendChild(li);
    });
    buttons.forEach(function (b) { b.disabled = busy || st.final; });
    $("underpay").disabled = busy || !(st.status === "NR" || st.status === "PE");
    $("choose").disabled = busy;
  }

  function poll() {
    fetch(base + "status", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) { if (st && !busy) { render(st); } })
      .catch(function () {})
      .then(function () { setTimeout(poll, 1000); });
  }

  function act(action) {
    busy = true;
    if (last) { render(last); }
    $("message").textContent = "";
    var body = { action: action };
    if (!$("picker").hidden) { body.currency = $("currency").value; }
    fetch(base + "simulate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().then(function (j) {
          busy = false;
          if (r.ok) { render(j); } else { $("message").textContent = j.message || ("Error " + r.status); if (last) { render(last); } }
        });
      })
      .catch(function (e) { busy = false; $("message").textContent = String(e); if (last) { render(last); } });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { act(b.getAttribute("data-action")); }); });
  $("choose").addEventListener("click", function () { act("choose"); });
  poll();
})();
</script>
</body>
</html>
`
