package bitnovo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Tolerant decoding of the API's answers (reference §3.4–§3.6, §19).

// flexString decodes a JSON string, number or boolean as text; null, objects
// and arrays give "".
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		*s = ""
		return nil
	}
	switch b[0] {
	case '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case 't', 'f':
		*s = flexString(b)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		*s = flexString(b)
	default:
		*s = ""
	}
	return nil
}

// flexInt64 decodes an integer given as a number or a string; anything else
// (null, fractions, garbage) gives 0.
type flexInt64 int64

func (n *flexInt64) UnmarshalJSON(b []byte) error {
	var s flexString
	_ = s.UnmarshalJSON(b)
	v, err := strconv.ParseInt(strings.TrimSpace(string(s)), 10, 64)
	if err != nil {
		v = 0
	}
	*n = flexInt64(v)
	return nil
}

// flexBool decodes true/false, "true"/"false", 1/0 and "1"/"0"; anything
// else gives false.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	_ = s.UnmarshalJSON(b)
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "1", "yes":
		*v = true
	default:
		*v = false
	}
	return nil
}

func firstOf[T comparable](vs ...T) T {
	var zero T
	for _, v := range vs {
		if v != zero {
			return v
		}
	}
	return zero
}

type wireOrder struct {
	Identifier           flexString `json:"identifier"`
	Reference            flexString `json:"reference"`
	PaymentURI           flexString `json:"payment_uri"`
	WebURL               flexString `json:"web_url"`
	Address              flexString `json:"address"`
	TagMemo              flexString `json:"tag_memo"`
	InputCurrency        flexString `json:"input_currency"`
	Notes                flexString `json:"notes"`
	Fiat                 flexString `json:"fiat"`
	Language             flexString `json:"language"`
	MerchantURLOK        flexString `json:"merchant_urlok"`
	MerchantURLKO        flexString `json:"merchant_urlko"`
	URLOK                flexString `json:"url_ok"`
	URLKO                flexString `json:"url_ko"`
	ExpectedOutputAmount Decimal    `json:"expected_output_amount"`
	Amount               Decimal    `json:"amount"`
	FiatAmount           Decimal    `json:"fiat_amount"`
	ExpectedInputAmount  Decimal    `json:"expected_input_amount"`
	Rate                 Decimal    `json:"rate"`
	CreatedAt            flexString `json:"created_at"`
	ExpiredAt            flexString `json:"expired_at"`
	ExpiredTime          flexString `json:"expired_time"`
	Status               flexString `json:"status"`
}

func (w *wireOrder) order() *Order {
	return &Order{
		Identifier:           strings.TrimSpace(string(w.Identifier)),
		Reference:            string(w.Reference),
		PaymentURI:           string(w.PaymentURI),
		WebURL:               string(w.WebURL),
		Address:              string(w.Address),
		TagMemo:              string(w.TagMemo),
		InputCurrency:        string(w.InputCurrency),
		Notes:                string(w.Notes),
		Fiat:                 string(w.Fiat),
		Language:             string(w.Language),
		URLOK:                string(firstOf(w.MerchantURLOK, w.URLOK)),
		URLKO:                string(firstOf(w.MerchantURLKO, w.URLKO)),
		ExpectedOutputAmount: firstOf(w.ExpectedOutputAmount, w.Amount, w.FiatAmount),
		ExpectedInputAmount:  w.ExpectedInputAmount,
		Rate:                 w.Rate,
		CreatedAt:            string(w.CreatedAt),
		ExpiredAt:            string(firstOf(w.ExpiredAt, w.ExpiredTime)),
		Status:               string(w.Status),
	}
}

type wireTransaction struct {
	Confirmed flexBool   `json:"confirmed"`
	Currency  flexString `json:"currency"`
	Amount    Decimal    `json:"amount"`
	TxHash    flexString `json:"tx_hash"`
	Block     flexInt64  `json:"block"`
	CreatedAt flexString `json:"created_at"`
}

type wireOrderInfo struct {
	Identifier        flexString      `json:"identifier"`
	Reference         flexString      `json:"reference"`
	Status            flexString      `json:"status"`
	CurrencyID        flexString      `json:"currency_id"`
	InputCurrency     flexString      `json:"input_currency"`
	Currency          flexString      `json:"currency"`
	Address           flexString      `json:"address"`
	TagMemo           flexString      `json:"tag_memo"`
	Fiat              flexString      `json:"fiat"`
	Notes             flexString      `json:"notes"`
	PaymentURI        flexString      `json:"payment_uri"`
	WebURL            flexString      `json:"web_url"`
	URLOK             flexString      `json:"url_ok"`
	URLKO             flexString      `json:"url_ko"`
	MerchantURLOK     flexString      `json:"merchant_urlok"`
	MerchantURLKO     flexString      `json:"merchant_urlko"`
	CreatedAt         flexString      `json:"created_at"`
	EditedAt          flexString      `json:"edited_at"`
	UpdatedAt         flexString      `json:"updated_at"`
	ExpiredTime       flexString      `json:"expired_time"`
	ExpiredAt         flexString      `json:"expired_at"`
	FiatAmount        Decimal         `json:"fiat_amount"`
	CryptoAmount      Decimal         `json:"crypto_amount"`
	UnconfirmedAmount Decimal         `json:"unconfirmed_amount"`
	ConfirmedAmount   Decimal         `json:"confirmed_amount"`
	ReceivedAmount    Decimal         `json:"received_amount"`
	ExchangeRate      Decimal         `json:"exchange_rate"`
	NetworkFee        Decimal         `json:"network_fee"`
	Transactions      json.RawMessage `json:"transactions"`
}

func (w *wireOrderInfo) info() (*OrderInfo, error) {
	o := &OrderInfo{
		Identifier:        strings.TrimSpace(string(w.Identifier)),
		Reference:         string(w.Reference),
		Status:            string(w.Status),
		CurrencyID:        string(firstOf(w.CurrencyID, w.InputCurrency, w.Currency)),
		Address:           string(w.Address),
		TagMemo:           string(w.TagMemo),
		Fiat:              string(w.Fiat),
		Notes:             string(w.Notes),
		PaymentURI:        string(w.PaymentURI),
		WebURL:            string(w.WebURL),
		URLOK:             string(firstOf(w.URLOK, w.MerchantURLOK)),
		URLKO:             string(firstOf(w.URLKO, w.MerchantURLKO)),
		CreatedAt:         string(w.CreatedAt),
		EditedAt:          string(firstOf(w.EditedAt, w.UpdatedAt)),
		ExpiredTime:       string(firstOf(w.ExpiredTime, w.ExpiredAt)),
		FiatAmount:        w.FiatAmount,
		CryptoAmount:      w.CryptoAmount,
		UnconfirmedAmount: w.UnconfirmedAmount,
		ConfirmedAmount:   w.ConfirmedAmount,
		ReceivedAmount:    w.ReceivedAmount,
		ExchangeRate:      w.ExchangeRate,
		NetworkFee:        w.NetworkFee,
	}
	if t := bytes.TrimSpace(w.Transactions); len(t) > 0 && t[0] == '[' {
		var txs []wireTransaction
		if err := json.Unmarshal(t, &txs); err != nil {
			return nil, fmt.Errorf("transactions: %w", err)
		}
		for _, tx := range txs {
			o.Transactions = append(o.Transactions, Transaction{
				Confirmed: bool(tx.Confirmed),
				Currency:  string(tx.Currency),
				Amount:    tx.Amount,
				TxHash:    string(tx.TxHash),
				Block:     int64(tx.Block),
				CreatedAt: string(tx.CreatedAt),
			})
		}
	}
	return o, nil
}

type wireCurrency struct {
	Symbol     flexString `json:"symbol"`
	Name       flexString `json:"name"`
	Image      flexString `json:"image"`
	Blockchain flexString `json:"blockchain"`
	MinAmount  Decimal    `json:"min_amount"`
	MaxAmount  Decimal    `json:"max_amount"`
}

// envelope is the outcome of unwrapping an answer.
type envelope struct {
	payload json.RawMessage // the object or array to decode
	failed  bool            // the body reports an error
	message string          // the error text when failed
}

// unwrap accepts a bare object or array, {"data": ...} with an optional
// "status" that must be "success", and {"status":"error","error":"..."}.
// ok is false when the body is not a JSON object or array.
func unwrap(body []byte) (env envelope, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return env, false
	}
	switch body[0] {
	case '[':
		if !json.Valid(body) {
			return env, false
		}
		env.payload = body
		return env, true
	case '{':
	default:
		return env, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return env, false
	}
	status := scalarText(m["status"])
	errText := func() string {
		for _, k := range []string{"error", "message", "detail"} {
			if t := messageText(m[k]); t != "" {
				return t
			}
		}
		if status != "" {
			return "API returned status: " + status
		}
		return "API reported failure"
	}
	if success, present := m["success"]; present && string(bytes.TrimSpace(success)) == "false" {
		return envelope{failed: true, message: errText()}, true
	}
	if data, present := m["data"]; present && !isNull(data) {
		if status != "" && !strings.EqualFold(status, "success") && !strings.EqualFold(status, "ok") {
			return envelope{payload: data, failed: true, message: errText()}, true
		}
		return envelope{payload: data}, true
	}
	if isFailureStatus(status) && scalarText(m["identifier"]) == "" {
		return envelope{failed: true, message: errText()}, true
	}
	if _, present := m["data"]; present && scalarText(m["identifier"]) == "" {
		// {"data": null} without anything else.
		return envelope{failed: true, message: errText()}, true
	}
	env.payload = body
	return env, true
}

func isFailureStatus(s string) bool {
	switch strings.ToLower(s) {
	case "error", "fail", "failed", "failure":
		return true
	}
	return false
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func payloadKind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// parseCreateOrder reads an E1 answer. On error, definite reports that the
// API clearly rejected the order (a {"status":"error"} body); otherwise the
// outcome is unknown.
func parseCreateOrder(body []byte) (o *Order, definite bool, err error) {
	env, ok := unwrap(body)
	switch {
	case !ok:
		return nil, false, errors.New("answer is not a JSON object")
	case env.failed && hasIdentifier(env.payload):
		// An error report that still names an order: it may exist.
		return nil, false, fmt.Errorf("answer reports an error but names an order: %s", env.message)
	case env.failed:
		return nil, true, errors.New(env.message)
	}
	obj := env.payload
	if payloadKind(obj) == '[' { // tolerate a one-element list
		var list []json.RawMessage
		if err := json.Unmarshal(obj, &list); err != nil || len(list) != 1 {
			return nil, false, errors.New("answer is a list, not an order")
		}
		obj = list[0]
	}
	if payloadKind(obj) != '{' {
		return nil, false, errors.New("answer is not a JSON object")
	}
	var w wireOrder
	if err := json.Unmarshal(obj, &w); err != nil {
		return nil, false, fmt.Errorf("decoding order: %w", err)
	}
	o = w.order()
	if o.Identifier == "" {
		return nil, false, errors.New("answer has no identifier")
	}
	return o, false, nil
}

// hasIdentifier reports whether raw is an object with a non-empty
// "identifier".
func hasIdentifier(raw json.RawMessage) bool {
	var peek struct {
		Identifier flexString `json:"identifier"`
	}
	return payloadKind(raw) == '{' && json.Unmarshal(raw, &peek) == nil && strings.TrimSpace(string(peek.Identifier)) != ""
}

func malformed(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...), sentinel: ErrMalformedResponse}
}

// pickByIdentifier chooses, from a list answer, the element whose identifier
// is id. An empty list is a not-found; a list without id is a mismatch.
func pickByIdentifier(list []json.RawMessage, id, invalidCode string) (json.RawMessage, *APIError) {
	if len(list) == 0 {
		return nil, &APIError{Code: CodePaymentNotFound, Message: "the API returned an empty list", sentinel: ErrNotFound}
	}
	for _, el := range list {
		var peek struct {
			Identifier flexString `json:"identifier"`
		}
		if payloadKind(el) != '{' || json.Unmarshal(el, &peek) != nil {
			return nil, malformed(invalidCode, "list element is not an object")
		}
		if strings.EqualFold(strings.TrimSpace(string(peek.Identifier)), id) {
			return el, nil
		}
	}
	if len(list) == 1 {
		return list[0], nil // the identifier checks that follow report the problem
	}
	return nil, malformed(CodeIdentifierMismatch, "none of the %d returned orders is %q", len(list), id)
}

// orderObject finds the one order object for id in an E2/E3 answer: bare,
// wrapped in {"status","data"}, or a list. invalid and failed are the error
// codes to report.
func orderObject(body []byte, id, invalid, failed string) (json.RawMessage, error) {
	env, ok := unwrap(body)
	switch {
	case !ok:
		return nil, malformed(invalid, "answer is not a JSON object or list")
	case env.failed:
		return nil, &APIError{Code: failed, Message: env.message}
	}
	obj := env.payload
	if payloadKind(obj) == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(obj, &list); err != nil {
			return nil, malformed(invalid, "decoding list: %v", err)
		}
		var apiErr *APIError
		if obj, apiErr = pickByIdentifier(list, id, invalid); apiErr != nil {
			return nil, apiErr
		}
	}
	if payloadKind(obj) != '{' {
		return nil, malformed(invalid, "answer is not a JSON object or list")
	}
	return obj, nil
}

// parseOrderInfo reads an E2 answer for the order id. Errors are *APIError
// values without the HTTP details, which the caller fills in.
func parseOrderInfo(body []byte, id string) (*OrderInfo, error) {
	const invalid = CodeGetPaymentStatusInvalidFormat
	obj, err := orderObject(body, id, invalid, CodeGetPaymentStatusFailed)
	if err != nil {
		return nil, err
	}
	var w wireOrderInfo
	if err := json.Unmarshal(obj, &w); err != nil {
		return nil, malformed(invalid, "decoding order status: %v", err)
	}
	info, err := w.info()
	if err != nil {
		return nil, malformed(invalid, "decoding order status: %v", err)
	}
	if info.Identifier == "" || info.Status == "" {
		return nil, malformed(CodeGetPaymentStatusIncompleteData, "order status lacks identifier or status")
	}
	if !strings.EqualFold(info.Identifier, id) {
		return nil, malformed(CodeIdentifierMismatch, "asked for order %q, got %q", id, info.Identifier)
	}
	return info, nil
}

// parseOrderDetails reads an E3 answer for the order id.
func parseOrderDetails(body []byte, id string) (*Order, error) {
	const invalid = CodeGetPaymentDetailsInvalidFormat
	obj, err := orderObject(body, id, invalid, CodeGetPaymentDetailsFailed)
	if err != nil {
		return nil, err
	}
	var w wireOrder
	if err := json.Unmarshal(obj, &w); err != nil {
		return nil, malformed(invalid, "decoding order: %v", err)
	}
	o := w.order()
	if o.Identifier == "" {
		return nil, malformed(invalid, "order lacks an identifier")
	}
	if !strings.EqualFold(o.Identifier, id) {
		return nil, malformed(CodeIdentifierMismatch, "asked for order %q, got %q", id, o.Identifier)
	}
	return o, nil
}

// parseCurrencies reads an E4 answer: a bare list, or {"data": [...]} /
// {"results": [...]}. Unreadable entries are counted in skipped.
func parseCurrencies(body []byte) (list []Currency, skipped int, err error) {
	const invalid = CodeGetCurrenciesInvalidFormat
	raw := json.RawMessage(bytes.TrimSpace(body))
	if payloadKind(raw) == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, 0, malformed(invalid, "decoding answer: %v", err)
		}
		raw = nil
		for _, k := range []string{"data", "results", "currencies"} {
			if v, ok := m[k]; ok && payloadKind(v) == '[' {
				raw = v
				break
			}
		}
		if raw == nil {
			env, _ := unwrap(body)
			if env.failed {
				return nil, 0, &APIError{Code: CodeGetCurrenciesFailed, Message: env.message}
			}
			return nil, 0, malformed(invalid, "answer holds no currency list")
		}
	}
	if payloadKind(raw) != '[' {
		return nil, 0, malformed(invalid, "answer is not a JSON list")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, 0, malformed(invalid, "decoding list: %v", err)
	}
	list = make([]Currency, 0, len(elems))
	for _, el := range elems {
		var w wireCurrency
		if payloadKind(el) != '{' || json.Unmarshal(el, &w) != nil || strings.TrimSpace(string(w.Symbol)) == "" {
			skipped++
			continue
		}
		list = append(list, Currency{
			Symbol:     strings.TrimSpace(string(w.Symbol)),
			Name:       string(w.Name),
			Image:      string(w.Image),
			Blockchain: string(w.Blockchain),
			MinAmount:  w.MinAmount,
			MaxAmount:  w.MaxAmount,
		})
	}
	if len(list) == 0 && skipped > 0 {
		return nil, skipped, malformed(invalid, "none of the %d currencies could be read", skipped)
	}
	return list, skipped, nil
}
