package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Payload is what the receiver reads from a notification. Amounts are the
// exact decimal text the sender wrote (a JSON number's literal, or a numeric
// string), never a float. Optional fields that are absent, null, of an
// unexpected type, or (for amounts) not a decimal number are left empty.
type Payload struct {
	Identifier string // required: 1–128 printable ASCII characters
	Status     string // required (1–64 printable characters), kept verbatim even when unknown (e.g. "RF")

	Currency            string // "currency", or "input_currency" when that is absent
	Fiat                string
	FiatAmount          string
	CryptoAmount        string
	ConfirmedAmount     string
	UnconfirmedAmount   string
	ExpectedInputAmount string
	InputAmount         string
	ReceivedAmount      string
	ExchangeRate        string
	NetworkFee          string

	Address     string
	TagMemo     string
	PaymentURI  string
	WebURL      string
	Notes       string
	Reference   string
	Language    string
	CreatedAt   string
	ExpiredAt   string
	ExpiredTime string

	GoodFee *bool
	Safe    *bool
}

const maxIdentifier = 128

var decimalRE = regexp.MustCompile(`^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$`)

// ParsePayload reads a notification body. The top level must be a JSON
// object with a string identifier (1–128 printable ASCII characters) and a
// non-empty string status (up to 64 printable characters); everything else is optional and unknown keys are
// ignored. Errors wrap ErrBadPayload.
func ParsePayload(body []byte) (Payload, error) {
	var m map[string]json.RawMessage
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Payload{}, fmt.Errorf("%w: not a JSON object", ErrBadPayload)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return Payload{}, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	var p Payload
	var ok bool
	if p.Identifier, ok = rawString(m["identifier"]); !ok || !validIdentifier(p.Identifier) {
		return Payload{}, fmt.Errorf("%w: identifier must be 1–%d printable characters", ErrBadPayload, maxIdentifier)
	}
	if p.Status, ok = rawString(m["status"]); !ok || !validStatus(p.Status) {
		return Payload{}, fmt.Errorf("%w: status must be a non-empty string", ErrBadPayload)
	}
	p.Currency = text(m["currency"])
	if p.Currency == "" {
		p.Currency = text(m["input_currency"])
	}
	for key, dst := range map[string]*string{
		"fiat": &p.Fiat, "address": &p.Address, "tag_memo": &p.TagMemo, "payment_uri": &p.PaymentURI,
		"web_url": &p.WebURL, "notes": &p.Notes, "reference": &p.Reference, "language": &p.Language,
		"created_at": &p.CreatedAt, "expired_at": &p.ExpiredAt, "expired_time": &p.ExpiredTime,
	} {
		*dst = text(m[key])
	}
	for key, dst := range map[string]*string{
		"fiat_amount": &p.FiatAmount, "crypto_amount": &p.CryptoAmount, "confirmed_amount": &p.ConfirmedAmount,
		"unconfirmed_amount": &p.UnconfirmedAmount, "expected_input_amount": &p.ExpectedInputAmount,
		"input_amount": &p.InputAmount, "received_amount": &p.ReceivedAmount, "exchange_rate": &p.ExchangeRate,
		"network_fee": &p.NetworkFee,
	} {
		*dst = amount(m[key])
	}
	p.GoodFee = boolean(m["good_fee"])
	p.Safe = boolean(m["safe"])
	return p, nil
}

// rawString decodes a JSON string; false for absent, null or other types.
func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// text is a string field: a JSON string, or a number's literal.
func text(raw json.RawMessage) string {
	if s, ok := rawString(raw); ok {
		return s
	}
	if s := string(raw); decimalRE.MatchString(s) {
		return s
	}
	return ""
}

// amount is an exact decimal: a JSON number's literal or a numeric string.
func amount(raw json.RawMessage) string {
	s, ok := rawString(raw)
	if !ok {
		s = string(raw)
	}
	s = strings.TrimSpace(s)
	if !decimalRE.MatchString(s) {
		return ""
	}
	return s
}

func boolean(raw json.RawMessage) *bool {
	switch string(raw) {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	return nil
}

func validIdentifier(s string) bool {
	if len(s) == 0 || len(s) > maxIdentifier {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validStatus: any non-empty printable text up to 64 bytes, so unknown
// codes pass through but nothing can forge log lines.
func validStatus(s string) bool {
	if len(s) == 0 || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
