package fakebitnovo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
)

// The checkout page at an order's web_url is what a paying person sees,
// with test controls to play the customer:
//
//	GET  /{shortid}/            the page (HTML, inline CSS and JS only)
//	GET  /{shortid}/status      the order as the page shows it (JSON)
//	GET  /{shortid}/qr.png      the QR code of the payment URI (404 until a currency is chosen)
//	POST /{shortid}/simulate    {"action":"pay|underpay|expire|cancel|choose","currency":"ETH"}
//
// An unknown short id gets an HTML "payment not found" page (404).
//
// simulate drives the lifecycle with SelectCurrency, Pay and so on, and
// answers the new state, or 409 with a message for an impossible
// transition. It follows the admin rules (loopback only, no proxy headers,
// application/json). status, qr.png and simulate bypass faults and request
// counts, like the admin surface; the page itself is counted like any
// request.
//
// Stable element ids: #status (code), #status-text (meaning), #status-box
// (the aria-live region), #pay-full, #underpay, #expire, #cancel (the test
// controls), #currency and #choose (the picker, NR orders without a
// currency), #qr, #crypto-amount, #address, #memo and their #copy-amount,
// #copy-address, #copy-memo buttons, #copy-status, #countdown, #received,
// #timeline (one li per status change, data-status set), #message (errors).

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

// checkoutControlPath splits "/{shortid}/status", "/{shortid}/qr.png" and
// "/{shortid}/simulate".
func checkoutControlPath(p string) (short, sub string, ok bool) {
	short, sub, found := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !found || (sub != "status" && sub != "simulate" && sub != "qr.png") || !validShortID(short) {
		return "", "", false
	}
	return short, sub, true
}

// orderByShort returns a snapshot of the order with web_url short id short.
func (s *Server) orderByShort(short string) (OrderInfo, bool) {
	s.mu.Lock()
	s.sync()
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
	SecondsLeft  int            `json:"seconds_left"` // of the payment window, by the server's clock; 0 once closed
	Timeline     []checkoutStep `json:"timeline"`
}

func newCheckoutState(inf OrderInfo, now time.Time) checkoutState {
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
	if open := inf.Status == StatusNotReady || inf.Status == StatusPending; open && inf.ExpiredTime.After(now) {
		st.SecondsLeft = int(inf.ExpiredTime.Sub(now).Seconds())
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
	Countdown   string // "14:59", the window left when the page was made
}

// countdown formats seconds as m:ss (or h:mm:ss).
func countdown(sec int) string {
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%02d:%02d", sec/60, sec%60)
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
		writeCheckoutNotFound(w, r)
		return
	}
	var nb [16]byte
	_, _ = rand.Read(nb[:]) // crypto/rand.Read never fails
	page := checkoutPage{
		checkoutState: newCheckoutState(inf, s.now()),
		Notes:         inf.Notes,
		Base:          "/" + short + "/",
		Nonce:         hex.EncodeToString(nb[:]),
		CanUnderpay:   inf.Status == StatusNotReady || inf.Status == StatusPending,
	}
	page.Countdown = countdown(page.SecondsLeft)
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
	writeHTML(w, http.StatusOK, page.Nonce, buf.Bytes())
}

// writeHTML writes a page of the checkout with its security headers; nonce
// is its inline script's ("" for none).
func writeHTML(w http.ResponseWriter, status int, nonce string, body []byte) {
	script := "'none'"
	if nonce != "" {
		script = "'nonce-" + nonce + "'"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; script-src "+script+
		"; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeCheckoutNotFound answers an unknown checkout link with a page a
// person can read.
func writeCheckoutNotFound(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		writeHTML(w, http.StatusNotFound, "", nil)
		return
	}
	writeHTML(w, http.StatusNotFound, "", []byte(notFoundHTML))
}

// qrSize is the width of the page's QR image in pixels (shown at 220 CSS
// pixels: sharp on 2x screens).
const qrSize = 440

// serveQR answers GET /{shortid}/qr.png with the QR code of the payment URI.
func (s *Server) serveQR(w http.ResponseWriter, r *http.Request, short string) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	inf, ok := s.orderByShort(short)
	if !ok || inf.PaymentURI == "" {
		writeNotFound(w)
		return
	}
	png, err := qr.Render(inf.PaymentURI, qr.Options{Size: qrSize, Style: qr.StyleBasic})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "could not draw the QR code")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(png)
	}
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
	switch sub {
	case "qr.png":
		s.serveQR(w, r, short)
		return
	case "status":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		inf, ok := s.orderByShort(short)
		if !ok {
			writeNotFound(w)
			return
		}
		writeJSON(w, http.StatusOK, newCheckoutState(inf, s.now()))
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
		writeJSON(w, http.StatusOK, newCheckoutState(now, s.now()))
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
