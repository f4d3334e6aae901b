package fakebitnovo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// Payment statuses (reference §4). RF and DE exist on the real API but the
// fake never produces them.
const (
	StatusNotReady           = "NR"
	StatusPending            = "PE"
	StatusAwaitingCompletion = "AC"
	StatusInsufficientAmount = "IA"
	StatusOutOfCondition     = "OC"
	StatusCompleted          = "CO"
	StatusCancelled          = "CA"
	StatusExpired            = "EX"
	StatusFailed             = "FA"
)

// Outcomes accepted by Server.Pay.
const (
	OutcomeFull     = "full"     // → AC, then CO
	OutcomeUnderpay = "underpay" // → IA (half the expected amount arrives)
	OutcomeOverpay  = "overpay"  // → OC (150% arrives)
	OutcomeLate     = "late"     // → OC (full amount arrives after the deadline)
	OutcomeExpire   = "expire"   // → EX
	OutcomeCancel   = "cancel"   // → CA
	OutcomeFail     = "fail"     // → FA
)

// DefaultPayCurrency is the currency Pay assigns to a gateway (NR) order.
const DefaultPayCurrency = "BTC"

// Errors returned by the control API. They are wrapped with details; test
// with errors.Is.
var (
	ErrNotFound          = errors.New("fakebitnovo: order not found")
	ErrInvalidTransition = errors.New("fakebitnovo: invalid status transition")
	ErrUnknownStatus     = errors.New("fakebitnovo: unknown status")
	ErrUnknownOutcome    = errors.New("fakebitnovo: unknown outcome")
	ErrUnknownCurrency   = errors.New("fakebitnovo: unknown currency")
	ErrAmountOutOfRange  = errors.New("fakebitnovo: amount outside the currency's limits")
)

// canTransition is the state machine of reference §4.
func canTransition(from, to string) bool {
	var allowed string
	switch from {
	case StatusNotReady:
		allowed = "PE CA EX FA"
	case StatusPending:
		allowed = "AC IA OC CO CA EX FA"
	case StatusAwaitingCompletion:
		allowed = "CO IA OC CA EX FA"
	case StatusInsufficientAmount, StatusOutOfCondition:
		allowed = "AC CO CA EX FA"
	default:
		return false
	}
	for i := 0; i+2 <= len(allowed); i += 3 {
		if allowed[i:i+2] == to {
			return true
		}
	}
	return false
}

func knownStatus(s string) bool {
	switch s {
	case StatusNotReady, StatusPending, StatusAwaitingCompletion, StatusInsufficientAmount,
		StatusOutOfCondition, StatusCompleted, StatusCancelled, StatusExpired, StatusFailed:
		return true
	}
	return false
}

// Transaction is one on-chain transfer seen for an order.
type Transaction struct {
	Confirmed bool      `json:"confirmed"`
	Currency  string    `json:"currency"`
	Amount    string    `json:"amount"`
	TxHash    string    `json:"tx_hash"`
	Block     int64     `json:"block,omitempty"` // 0 = not yet in a block (null on the wire)
	CreatedAt time.Time `json:"created_at"`
}

// OrderInfo is a snapshot of one order with the fields of E2
// (GET /api/v1/orders/info/{id}). Amounts are exact decimal text; "" stands
// for JSON null.
type OrderInfo struct {
	Identifier        string        `json:"identifier"`
	Reference         string        `json:"reference"`
	CreatedAt         time.Time     `json:"created_at"`
	EditedAt          time.Time     `json:"edited_at"`
	Status            string        `json:"status"`
	FiatAmount        string        `json:"fiat_amount"`
	CryptoAmount      string        `json:"crypto_amount"`
	UnconfirmedAmount string        `json:"unconfirmed_amount"`
	ConfirmedAmount   string        `json:"confirmed_amount"`
	ReceivedAmount    string        `json:"received_amount"`
	CurrencyID        string        `json:"currency_id"`
	MerchantDeviceID  int64         `json:"merchant_device_id"`
	MerchantDevice    string        `json:"merchant_device"`
	Address           string        `json:"address"`
	TagMemo           string        `json:"tag_memo"`
	URLKO             string        `json:"url_ko"`
	URLOK             string        `json:"url_ok"`
	URLStandby        string        `json:"url_standby"`
	ExpiredTime       time.Time     `json:"expired_time"`
	GoodFee           bool          `json:"good_fee"`
	Notes             string        `json:"notes"`
	RBF               bool          `json:"rbf"`
	Safe              bool          `json:"safe"`
	Fiat              string        `json:"fiat"`
	Language          string        `json:"language"`
	Percentage        string        `json:"percentage"`
	BalanceBased      string        `json:"balance_based"`
	InternalData      string        `json:"internal_data"`
	Transactions      []Transaction `json:"transactions"`
	ExchangeRate      string        `json:"exchange_rate"`
	NetworkFee        string        `json:"network_fee"`
	PaymentURI        string        `json:"payment_uri"`
	WebURL            string        `json:"web_url"`
	// Not E2 fields, but useful to tests and the checkout page.
	ShortID  string         `json:"short_id"`
	DeviceID string         `json:"device_id"`
	History  []StatusChange `json:"history"` // oldest first; the creation status first
}

// StatusChange is one entry of an order's status history.
type StatusChange struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// maxHistory bounds an order's status history (the state machine allows
// cycles such as AC → IA → AC); the oldest entries after the first go.
const maxHistory = 32

// order is the mutable server-side record; guarded by Server.mu.
type order struct {
	id, shortID                string
	reference, notes, language string
	fiat                       string
	fiatAmount                 money.Decimal
	entry                      *catalogEntry // nil: gateway order, no currency yet
	cryptoAmount               string
	address, tagMemo, uri      string
	requestedMemo              string
	webURL                     string
	urlOK, urlKO, urlStandby   string
	status                     string
	createdAt, editedAt        time.Time
	expiresAt                  time.Time
	deviceID                   string
	txs                        []Transaction
	history                    []StatusChange
}

// recordStatus appends the current status to the history.
func (o *order) recordStatus(now time.Time) {
	if len(o.history) >= maxHistory {
		o.history = append(o.history[:1], o.history[2:]...)
	}
	o.history = append(o.history, StatusChange{Status: o.status, At: now})
}

func (o *order) decimals() int {
	if o.entry == nil {
		return 0
	}
	return o.entry.places()
}

// sums returns confirmed, unconfirmed and received amounts.
func (o *order) sums() (confirmed, unconfirmed, received money.Decimal) {
	confirmed, unconfirmed = "0", "0"
	for _, tx := range o.txs {
		a, err := parseAmount(tx.Amount)
		if err != nil {
			continue
		}
		if tx.Confirmed {
			confirmed = confirmed.Add(a)
		} else {
			unconfirmed = unconfirmed.Add(a)
		}
	}
	return confirmed, unconfirmed, confirmed.Add(unconfirmed)
}

func (o *order) info() OrderInfo {
	d := o.decimals()
	confirmed, unconfirmed, received := o.sums()
	inf := OrderInfo{
		Identifier:        o.id,
		Reference:         o.reference,
		CreatedAt:         o.createdAt,
		EditedAt:          o.editedAt,
		Status:            o.status,
		FiatAmount:        o.fiatAmount.Round(2, money.HalfUp).String(),
		CryptoAmount:      o.cryptoAmount,
		UnconfirmedAmount: unconfirmed.Round(d, money.HalfUp).String(),
		ConfirmedAmount:   confirmed.Round(d, money.HalfUp).String(),
		ReceivedAmount:    received.Round(d, money.HalfUp).String(),
		MerchantDeviceID:  merchantDeviceNumber(o.deviceID),
		MerchantDevice:    "Sandbox POS",
		Address:           o.address,
		TagMemo:           o.tagMemo,
		URLKO:             o.urlKO,
		URLOK:             o.urlOK,
		URLStandby:        o.urlStandby,
		ExpiredTime:       o.expiresAt,
		Notes:             o.notes,
		Safe:              true,
		Fiat:              o.fiat,
		Language:          o.language,
		Percentage:        "0",
		Transactions:      append(make([]Transaction, 0, len(o.txs)), o.txs...),
		PaymentURI:        o.uri,
		WebURL:            o.webURL,
		ShortID:           o.shortID,
		DeviceID:          o.deviceID,
		History:           append(make([]StatusChange, 0, len(o.history)), o.history...),
	}
	if o.entry != nil {
		inf.CurrencyID = o.entry.Symbol
		inf.ExchangeRate = o.entry.RateEUR
		inf.NetworkFee = money.Decimal("0").Round(d, money.HalfUp).String()
	}
	return inf
}

// merchantDeviceNumber maps a device UUID to a stable positive number.
func merchantDeviceNumber(deviceID string) int64 {
	sum := sha256.Sum256([]byte(deviceID))
	return int64(sum[0])<<8 | int64(sum[1]) + 1
}

// assignCurrency fixes the order's currency, crypto amount, address and
// URI, and restarts the payment window (the timer starts when the crypto is
// chosen).
func (s *Server) assignCurrency(o *order, e *catalogEntry, now time.Time) {
	o.entry = e
	crypto, err := o.fiatAmount.Quo(e.rate, e.places(), money.HalfUp)
	if err != nil {
		// Rates are positive catalog constants and fiat amounts were
		// validated below 10^12: a failure is a programming error.
		panic(fmt.Sprintf("fakebitnovo: order %s: %s / %s: %v", o.id, o.fiatAmount, e.rate, err))
	}
	o.cryptoAmount = crypto.String()
	o.address = fakeAddress(e, o.id)
	o.tagMemo = ""
	if e.requiresMemo() {
		o.tagMemo = o.requestedMemo
		if o.tagMemo == "" {
			o.tagMemo = fakeMemo(o.id)
		}
	}
	o.uri = paymentURI(e, o.address, o.cryptoAmount, o.tagMemo)
	o.expiresAt = now.Add(s.ttl)
}

// setStatus moves o to status to, validated against the table, and records
// the change for OnChange and the webhook.
func setStatus(o *order, to string, now time.Time, events *[]OrderInfo) error {
	if !canTransition(o.status, to) {
		return fmt.Errorf("order %s: %s → %s: %w", o.id, o.status, to, ErrInvalidTransition)
	}
	o.status = to
	o.editedAt = now
	o.recordStatus(now)
	*events = append(*events, o.info())
	return nil
}

// expireIfDue applies lazy expiry: an NR or PE order past its deadline is EX.
func expireIfDue(o *order, now time.Time, events *[]OrderInfo) {
	if (o.status == StatusNotReady || o.status == StatusPending) && !now.Before(o.expiresAt) {
		// The table allows NR/PE → EX, so this cannot fail.
		_ = setStatus(o, StatusExpired, now, events)
	}
}

func (o *order) addTx(amount string, now time.Time) {
	n := len(o.txs)
	sum := sha256.Sum256([]byte("tx/" + o.id + "/" + strconv.Itoa(n)))
	o.txs = append(o.txs, Transaction{
		Currency:  o.entry.Symbol,
		Amount:    amount,
		TxHash:    hex.EncodeToString(sum[:]),
		CreatedAt: now,
	})
}

func (o *order) confirmAll() {
	for i := range o.txs {
		if !o.txs[i].Confirmed {
			o.txs[i].Confirmed = true
			o.txs[i].Block = 800000 + int64(i)
		}
	}
}

// fraction returns cryptoAmount × num/den in the currency's decimals,
// truncated.
func (o *order) fraction(num, den int64) (string, error) {
	a, err := parseAmount(o.cryptoAmount)
	if err != nil {
		return "", fmt.Errorf("order %s: crypto amount %q: %w", o.id, o.cryptoAmount, err)
	}
	n, d := money.Decimal(strconv.FormatInt(num, 10)), money.Decimal(strconv.FormatInt(den, 10))
	f, err := a.Mul(n).Quo(d, o.entry.places(), money.Down)
	if err != nil {
		return "", fmt.Errorf("order %s: %s × %d/%d: %w", o.id, o.cryptoAmount, num, den, err)
	}
	return f.String(), nil
}

// withOrder runs fn on order id under the lock, queues the webhooks of the
// recorded status changes (still under the lock, so they queue in the order
// the changes happened), then calls OnChange outside the lock.
func (s *Server) withOrder(id string, fn func(o *order, now time.Time, events *[]OrderInfo) error) error {
	var events []OrderInfo
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		defer func() { s.queueWebhooks(events) }()
		s.sync()
		o, ok := s.orders[id]
		if !ok {
			return fmt.Errorf("order %q: %w", id, ErrNotFound)
		}
		err := fn(o, s.now(), &events)
		if len(events) > 0 { // every change records a status
			s.save(o)
		}
		return err
	}()
	s.emit(events)
	return err
}

// queueWebhooks queues a webhook per status change. It never blocks; called
// with s.mu held.
func (s *Server) queueWebhooks(events []OrderInfo) {
	for _, e := range events {
		s.hooks.enqueue(e)
	}
}

// emit calls OnChange for each recorded status change. Never called with
// s.mu held.
func (s *Server) emit(events []OrderInfo) {
	if s.opts.OnChange == nil {
		return
	}
	for _, e := range events {
		s.opts.OnChange(e)
	}
}

// Pay simulates the customer paying order id. Outcomes: "full" (→AC then
// CO), "underpay" (→IA), "overpay" and "late" (→OC), "expire" (→EX),
// "cancel" (→CA), "fail" (→FA). For an NR gateway order, the paying
// outcomes first assign DefaultPayCurrency and move it to PE. "late" is
// accepted for a PE order even after its deadline (lazy expiry is not
// applied first); every other outcome sees an overdue order as EX.
func (s *Server) Pay(id, outcome string) error {
	switch outcome {
	case OutcomeFull, OutcomeUnderpay, OutcomeOverpay, OutcomeLate, OutcomeExpire, OutcomeCancel, OutcomeFail:
	default:
		return fmt.Errorf("pay %s: outcome %q: %w", id, outcome, ErrUnknownOutcome)
	}
	return s.withOrder(id, func(o *order, now time.Time, events *[]OrderInfo) error {
		if outcome != OutcomeLate {
			expireIfDue(o, now, events)
		}
		switch outcome {
		case OutcomeExpire:
			return setStatus(o, StatusExpired, now, events)
		case OutcomeCancel:
			return setStatus(o, StatusCancelled, now, events)
		case OutcomeFail:
			return setStatus(o, StatusFailed, now, events)
		}
		if o.status == StatusNotReady {
			s.assignCurrency(o, s.bySymbol[DefaultPayCurrency], now)
			if err := setStatus(o, StatusPending, now, events); err != nil {
				return err
			}
		}
		return payOutcome(o, outcome, now, events)
	})
}

// payOutcome applies a paying outcome to an order that has a currency.
func payOutcome(o *order, outcome string, now time.Time, events *[]OrderInfo) error {
	bad := func() error {
		return fmt.Errorf("order %s: outcome %q not possible in status %s: %w", o.id, outcome, o.status, ErrInvalidTransition)
	}
	if o.entry == nil {
		return bad()
	}
	switch outcome {
	case OutcomeFull:
		switch o.status {
		case StatusPending, StatusInsufficientAmount:
			_, _, received := o.sums()
			expected, err := parseAmount(o.cryptoAmount)
			if err != nil {
				return fmt.Errorf("order %s: %w", o.id, err)
			}
			if rest := expected.Sub(received); rest.Sign() > 0 {
				o.addTx(rest.Round(o.entry.places(), money.HalfUp).String(), now)
			}
			if err := setStatus(o, StatusAwaitingCompletion, now, events); err != nil {
				return err
			}
		case StatusAwaitingCompletion, StatusOutOfCondition:
		default:
			return bad()
		}
		o.confirmAll()
		return setStatus(o, StatusCompleted, now, events)
	case OutcomeUnderpay:
		if o.status != StatusPending {
			return bad()
		}
		half, err := o.fraction(1, 2)
		if err != nil {
			return err
		}
		if r, err := parseAmount(half); err != nil || r.Sign() <= 0 {
			return fmt.Errorf("order %s: amount %s too small to underpay: %w", o.id, o.cryptoAmount, ErrInvalidTransition)
		}
		o.addTx(half, now)
		return setStatus(o, StatusInsufficientAmount, now, events)
	case OutcomeOverpay:
		var extra string
		var err error
		switch o.status {
		case StatusPending:
			extra, err = o.fraction(3, 2)
		case StatusAwaitingCompletion:
			extra, err = o.fraction(1, 2)
		default:
			return bad()
		}
		if err != nil {
			return err
		}
		o.addTx(extra, now)
		return setStatus(o, StatusOutOfCondition, now, events)
	case OutcomeLate:
		if o.status != StatusPending {
			return bad()
		}
		o.addTx(o.cryptoAmount, now)
		return setStatus(o, StatusOutOfCondition, now, events)
	}
	return fmt.Errorf("outcome %q: %w", outcome, ErrUnknownOutcome)
}

// SetStatus moves order id directly to status, validated against the
// transition table after lazy expiry. It changes only the status, except
// that NR → PE assigns DefaultPayCurrency like a customer choosing it.
func (s *Server) SetStatus(id, status string) error {
	if !knownStatus(status) {
		return fmt.Errorf("set status of %s to %q: %w", id, status, ErrUnknownStatus)
	}
	return s.withOrder(id, func(o *order, now time.Time, events *[]OrderInfo) error {
		expireIfDue(o, now, events)
		if o.status == StatusNotReady && status == StatusPending && o.entry == nil {
			s.assignCurrency(o, s.bySymbol[DefaultPayCurrency], now)
		}
		return setStatus(o, status, now, events)
	})
}

// SelectCurrency is the customer choosing a crypto on the gateway page: an
// NR order gets the currency and moves to PE. The fiat amount must be within
// the currency's limits.
func (s *Server) SelectCurrency(id, symbol string) error {
	e, ok := s.bySymbol[symbol]
	if !ok {
		return fmt.Errorf("select currency %q: %w", symbol, ErrUnknownCurrency)
	}
	return s.withOrder(id, func(o *order, now time.Time, events *[]OrderInfo) error {
		expireIfDue(o, now, events)
		if o.status != StatusNotReady {
			return fmt.Errorf("order %s: choose currency in status %s: %w", o.id, o.status, ErrInvalidTransition)
		}
		if o.fiatAmount.Cmp(e.min) < 0 || (e.max != "" && o.fiatAmount.Cmp(e.max) > 0) {
			return fmt.Errorf("order %s: %s %s for %s: %w", o.id, o.fiatAmount.Round(2, money.HalfUp), o.fiat, symbol, ErrAmountOutOfRange)
		}
		s.assignCurrency(o, e, now)
		return setStatus(o, StatusPending, now, events)
	})
}

// Order returns a snapshot of one order (with lazy expiry applied).
func (s *Server) Order(id string) (OrderInfo, error) {
	var inf OrderInfo
	err := s.withOrder(id, func(o *order, now time.Time, events *[]OrderInfo) error {
		expireIfDue(o, now, events)
		inf = o.info()
		return nil
	})
	return inf, err
}

// Orders returns a snapshot of all orders in creation order (with lazy
// expiry applied).
func (s *Server) Orders() []OrderInfo {
	var events []OrderInfo
	s.mu.Lock()
	s.sync()
	now := s.now()
	out := make([]OrderInfo, 0, len(s.seq))
	for _, id := range s.seq {
		o := s.orders[id]
		n := len(events)
		expireIfDue(o, now, &events)
		if len(events) > n {
			s.save(o)
		}
		out = append(out, o.info())
	}
	s.queueWebhooks(events)
	s.mu.Unlock()
	s.emit(events)
	return out
}

// OrderCount returns how many orders exist.
func (s *Server) OrderCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync()
	return len(s.orders)
}
