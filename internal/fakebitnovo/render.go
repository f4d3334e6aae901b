package fakebitnovo

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// amountMode says how decimal amounts go on the wire.
type amountMode int

const (
	amountsNatural amountMode = iota // the endpoint's default
	amountsString                    // "0.00083333"
	amountsNumber                    // 0.00083333
)

func amountsAs(shape string) amountMode {
	switch shape {
	case ShapeStringAmounts:
		return amountsString
	case ShapeNumberAmounts:
		return amountsNumber
	}
	return amountsNatural
}

// jsonDecimal is exact decimal text that marshals as a JSON number or a
// JSON string; empty text marshals as null.
type jsonDecimal struct {
	text   string
	quoted bool
}

func (d jsonDecimal) MarshalJSON() ([]byte, error) {
	switch {
	case d.text == "":
		return []byte("null"), nil
	case d.quoted:
		return []byte(strconv.Quote(d.text)), nil
	}
	return []byte(d.text), nil
}

// amount builds a jsonDecimal; naturalString is the endpoint's default.
func amount(text string, mode amountMode, naturalString bool) jsonDecimal {
	q := naturalString
	switch mode {
	case amountsString:
		q = true
	case amountsNumber:
		q = false
	}
	return jsonDecimal{text: text, quoted: q}
}

// nullable maps "" to JSON null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// wireTime formats like Django REST framework: UTC, microseconds, "Z".
func wireTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

// writeShaped writes v in the shape a fault asked for, or natural.
// For a list (E4), "array" and "bare" both mean the list itself.
func writeShaped(w http.ResponseWriter, status int, shape, natural string, v any) {
	switch shape {
	case ShapeBare, ShapeWrapped, ShapeArray:
	default:
		shape = natural
	}
	switch shape {
	case ShapeWrapped:
		writeJSON(w, status, map[string]any{"status": "success", "data": v})
	case ShapeArray:
		if _, isList := v.([]currencyObject); isList {
			writeJSON(w, status, v)
			return
		}
		writeJSON(w, status, []any{v})
	default:
		writeJSON(w, status, v)
	}
}

// orderObject is the E1 response (and E3's data).
type orderObject struct {
	Identifier           string      `json:"identifier"`
	Reference            *string     `json:"reference"`
	PaymentURI           *string     `json:"payment_uri"`
	WebURL               string      `json:"web_url"`
	Address              *string     `json:"address"`
	TagMemo              *string     `json:"tag_memo"`
	InputCurrency        *string     `json:"input_currency"`
	ExpectedInputAmount  jsonDecimal `json:"expected_input_amount"`
	Rate                 jsonDecimal `json:"rate"`
	Notes                string      `json:"notes"`
	Fiat                 string      `json:"fiat"`
	Language             string      `json:"language"`
	CreatedAt            string      `json:"created_at"`
	ExpiredAt            string      `json:"expired_at"`
	Status               string      `json:"status"`
	ExpectedOutputAmount jsonDecimal `json:"expected_output_amount"`
}

func createObject(inf OrderInfo, mode amountMode) orderObject {
	return orderObject{
		Identifier:           inf.Identifier,
		Reference:            nullable(inf.Reference),
		PaymentURI:           nullable(inf.PaymentURI),
		WebURL:               inf.WebURL,
		Address:              nullable(inf.Address),
		TagMemo:              nullable(inf.TagMemo),
		InputCurrency:        nullable(inf.CurrencyID),
		ExpectedInputAmount:  amount(inf.CryptoAmount, mode, false),
		Rate:                 amount(inf.ExchangeRate, mode, false),
		Notes:                inf.Notes,
		Fiat:                 inf.Fiat,
		Language:             inf.Language,
		CreatedAt:            wireTime(inf.CreatedAt),
		ExpiredAt:            wireTime(inf.ExpiredTime),
		Status:               inf.Status,
		ExpectedOutputAmount: amount(inf.FiatAmount, mode, false),
	}
}

// infoObject is one element of the E2 response.
type infoObject struct {
	Identifier        string      `json:"identifier"`
	Reference         *string     `json:"reference"`
	CreatedAt         string      `json:"created_at"`
	EditedAt          string      `json:"edited_at"`
	Status            string      `json:"status"`
	FiatAmount        jsonDecimal `json:"fiat_amount"`
	CryptoAmount      jsonDecimal `json:"crypto_amount"`
	UnconfirmedAmount jsonDecimal `json:"unconfirmed_amount"`
	ConfirmedAmount   jsonDecimal `json:"confirmed_amount"`
	ReceivedAmount    jsonDecimal `json:"received_amount"`
	CurrencyID        *string     `json:"currency_id"`
	MerchantDeviceID  int64       `json:"merchant_device_id"`
	MerchantDevice    string      `json:"merchant_device"`
	Address           *string     `json:"address"`
	TagMemo           *string     `json:"tag_memo"`
	URLKO             *string     `json:"url_ko"`
	URLOK             *string     `json:"url_ok"`
	URLStandby        *string     `json:"url_standby"`
	ExpiredTime       *string     `json:"expired_time"`
	GoodFee           bool        `json:"good_fee"`
	Notes             string      `json:"notes"`
	RBF               bool        `json:"rbf"`
	Safe              bool        `json:"safe"`
	Fiat              string      `json:"fiat"`
	Language          string      `json:"language"`
	Percentage        jsonDecimal `json:"percentage"`
	BalanceBased      *string     `json:"balance_based"`
	InternalData      *string     `json:"internal_data"`
	Transactions      []txObject  `json:"transactions"`
	ExchangeRate      jsonDecimal `json:"exchange_rate"`
	NetworkFee        jsonDecimal `json:"network_fee"`
	PaymentURI        *string     `json:"payment_uri"`
	WebURL            string      `json:"web_url"`
}

type txObject struct {
	Confirmed bool        `json:"confirmed"`
	Currency  string      `json:"currency"`
	Amount    jsonDecimal `json:"amount"`
	TxHash    string      `json:"tx_hash"`
	Block     *int64      `json:"block"`
	CreatedAt string      `json:"created_at"`
}

func newInfoObject(inf OrderInfo, mode amountMode) infoObject {
	o := infoObject{
		Identifier:        inf.Identifier,
		Reference:         nullable(inf.Reference),
		CreatedAt:         wireTime(inf.CreatedAt),
		EditedAt:          wireTime(inf.EditedAt),
		Status:            inf.Status,
		FiatAmount:        amount(inf.FiatAmount, mode, false),
		CryptoAmount:      amount(inf.CryptoAmount, mode, false),
		UnconfirmedAmount: amount(inf.UnconfirmedAmount, mode, false),
		ConfirmedAmount:   amount(inf.ConfirmedAmount, mode, false),
		ReceivedAmount:    amount(inf.ReceivedAmount, mode, false),
		CurrencyID:        nullable(inf.CurrencyID),
		MerchantDeviceID:  inf.MerchantDeviceID,
		MerchantDevice:    inf.MerchantDevice,
		Address:           nullable(inf.Address),
		TagMemo:           nullable(inf.TagMemo),
		URLKO:             nullable(inf.URLKO),
		URLOK:             nullable(inf.URLOK),
		URLStandby:        nullable(inf.URLStandby),
		GoodFee:           inf.GoodFee,
		Notes:             inf.Notes,
		RBF:               inf.RBF,
		Safe:              inf.Safe,
		Fiat:              inf.Fiat,
		Language:          inf.Language,
		Percentage:        amount(inf.Percentage, mode, false),
		BalanceBased:      nullable(inf.BalanceBased),
		InternalData:      nullable(inf.InternalData),
		Transactions:      make([]txObject, 0, len(inf.Transactions)),
		ExchangeRate:      amount(inf.ExchangeRate, mode, false),
		NetworkFee:        amount(inf.NetworkFee, mode, false),
		PaymentURI:        nullable(inf.PaymentURI),
		WebURL:            inf.WebURL,
	}
	if !inf.ExpiredTime.IsZero() {
		o.ExpiredTime = nullable(wireTime(inf.ExpiredTime))
	}
	for _, tx := range inf.Transactions {
		t := txObject{
			Confirmed: tx.Confirmed,
			Currency:  tx.Currency,
			Amount:    amount(tx.Amount, mode, false),
			TxHash:    tx.TxHash,
			CreatedAt: wireTime(tx.CreatedAt),
		}
		if tx.Block != 0 {
			b := tx.Block
			t.Block = &b
		}
		o.Transactions = append(o.Transactions, t)
	}
	return o
}

// currencyObject is one element of the E4 response.
type currencyObject struct {
	Symbol     string      `json:"symbol"`
	Name       string      `json:"name"`
	MinAmount  jsonDecimal `json:"min_amount"`
	MaxAmount  jsonDecimal `json:"max_amount"`
	Image      string      `json:"image"`
	Blockchain string      `json:"blockchain"`
}

// handleInfo is E2: GET /api/v1/orders/info/{id}[/].
func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request, ro reqOpts, id string) {
	inf, err := s.Order(id)
	if err != nil {
		writeNotFound(w)
		return
	}
	writeShaped(w, http.StatusOK, ro.shape, ShapeArray, newInfoObject(inf, amountsAs(ro.shape)))
}

// handleDetails is E3: GET /api/v1/orders/{id}.
func (s *Server) handleDetails(w http.ResponseWriter, _ *http.Request, ro reqOpts, id string) {
	inf, err := s.Order(id)
	if err != nil {
		writeNotFound(w)
		return
	}
	writeShaped(w, http.StatusOK, ro.shape, ShapeWrapped, createObject(inf, amountsAs(ro.shape)))
}

// handleCurrencies is E4: GET /api/v1/currencies.
func (s *Server) handleCurrencies(w http.ResponseWriter, r *http.Request, ro reqOpts) {
	mode := amountsAs(ro.shape)
	base := s.baseURL(r)
	list := make([]currencyObject, 0, len(s.catalog))
	for _, e := range s.catalog {
		list = append(list, currencyObject{
			Symbol:     e.Symbol,
			Name:       e.Name,
			MinAmount:  amount(e.MinAmount, mode, e.stringLimits),
			MaxAmount:  amount(e.MaxAmount, mode, e.stringLimits),
			Image:      base + "/static/currencies/" + strings.ToLower(e.Symbol) + ".png",
			Blockchain: e.Blockchain,
		})
	}
	writeShaped(w, http.StatusOK, ro.shape, ShapeArray, list)
}
