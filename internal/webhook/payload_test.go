package webhook

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func boolPtr(b bool) *bool { return &b }

func TestParsePayload(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Payload
	}{
		{"bitnovo example", vectorBody, Payload{
			Identifier: "1040095a-737d-41a2-a2e1-d031d19ec8cd", Status: "AC", Currency: "DASH",
			FiatAmount: "100.0", CryptoAmount: "1.21461894", UnconfirmedAmount: "8.0", ConfirmedAmount: "0.0",
		}},
		{"input_currency when currency is absent", `{"identifier":"p","status":"PE","input_currency":"BTC_TEST"}`,
			Payload{Identifier: "p", Status: "PE", Currency: "BTC_TEST"}},
		{"currency wins over input_currency", `{"identifier":"p","status":"PE","input_currency":"BTC","currency":"ETH"}`,
			Payload{Identifier: "p", Status: "PE", Currency: "ETH"}},
		{"null currency falls back", `{"identifier":"p","status":"PE","currency":null,"input_currency":"BTC"}`,
			Payload{Identifier: "p", Status: "PE", Currency: "BTC"}},
		{"nulls everywhere", `{"identifier":"p","status":"CO","fiat_amount":null,"crypto_amount":null,"notes":null,"good_fee":null,"address":null}`,
			Payload{Identifier: "p", Status: "CO"}},
		{"amounts as strings keep their text", `{"identifier":"p","status":"CO","fiat_amount":"100.00","crypto_amount":" 0.000012340 ","exchange_rate":"1e-8"}`,
			Payload{Identifier: "p", Status: "CO", FiatAmount: "100.00", CryptoAmount: "0.000012340", ExchangeRate: "1e-8"}},
		{"big and precise numbers are not floats", `{"identifier":"p","status":"CO","crypto_amount":0.123456789012345678901234567890,"fiat_amount":12345678901234567890.10}`,
			Payload{Identifier: "p", Status: "CO", CryptoAmount: "0.123456789012345678901234567890", FiatAmount: "12345678901234567890.10"}},
		{"non-numeric amount string is dropped", `{"identifier":"p","status":"CO","fiat_amount":"lots","network_fee":true}`,
			Payload{Identifier: "p", Status: "CO"}},
		{"unknown status kept", `{"identifier":"p","status":"RF"}`, Payload{Identifier: "p", Status: "RF"}},
		{"unknown keys ignored", `{"identifier":"p","status":"PE","safe":true,"received_amount":"1.5","x":{"y":[1,2]}}`,
			Payload{Identifier: "p", Status: "PE", Safe: boolPtr(true), ReceivedAmount: "1.5"}},
		{"strings and booleans", `{"identifier":"p","status":"PE","fiat":"EUR","address":"bc1q","tag_memo":"","payment_uri":"bitcoin:bc1q","web_url":"https://pay/x/","notes":"n","reference":123,"language":"ES","created_at":"2026-01-01T00:00:00Z","expired_at":"e","expired_time":"t","good_fee":false}`,
			Payload{Identifier: "p", Status: "PE", Fiat: "EUR", Address: "bc1q", PaymentURI: "bitcoin:bc1q", WebURL: "https://pay/x/",
				Notes: "n", Reference: "123", Language: "ES", CreatedAt: "2026-01-01T00:00:00Z", ExpiredAt: "e", ExpiredTime: "t", GoodFee: boolPtr(false)}},
		{"leading whitespace", " \n{\"identifier\":\"p\",\"status\":\"PE\"}\n", Payload{Identifier: "p", Status: "PE"}},
		{"128-character identifier", `{"identifier":"` + strings.Repeat("a", 128) + `","status":"PE"}`,
			Payload{Identifier: strings.Repeat("a", 128), Status: "PE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePayload([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestParsePayloadRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"empty":                  ``,
		"not JSON":               `identifier=p&status=PE`,
		"array":                  `[{"identifier":"p","status":"PE"}]`,
		"string":                 `"x"`,
		"null":                   `null`,
		"truncated":              `{"identifier":"p","status":"PE"`,
		"trailing garbage":       `{"identifier":"p","status":"PE"} x`,
		"two objects":            `{"identifier":"p","status":"PE"}{}`,
		"no identifier":          `{"status":"PE"}`,
		"null identifier":        `{"identifier":null,"status":"PE"}`,
		"numeric identifier":     `{"identifier":42,"status":"PE"}`,
		"empty identifier":       `{"identifier":"","status":"PE"}`,
		"identifier with space":  `{"identifier":"a b","status":"PE"}`,
		"identifier with ctrl":   `{"identifier":"a\u0000b","status":"PE"}`,
		"non-ascii identifier":   `{"identifier":"pé","status":"PE"}`,
		"129-char identifier":    `{"identifier":"` + strings.Repeat("a", 129) + `","status":"PE"}`,
		"no status":              `{"identifier":"p"}`,
		"empty status":           `{"identifier":"p","status":""}`,
		"null status":            `{"identifier":"p","status":null}`,
		"numeric status":         `{"identifier":"p","status":1}`,
		"status with a newline":  `{"identifier":"p","status":"PE\nforged log line"}`,
		"very long status":       `{"identifier":"p","status":"` + strings.Repeat("S", 65) + `"}`,
		"invalid JSON in object": `{"identifier":"p","status":"PE","x":tru}`,
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := ParsePayload([]byte(body)); !errors.Is(err, ErrBadPayload) {
				t.Fatalf("accepted %q: %+v %v", body, p, err)
			}
		})
	}
}
