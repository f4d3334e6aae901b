package webhook

import (
	"errors"
	"strings"
	"testing"
)

func FuzzVerify(f *testing.F) {
	f.Add([]byte(vectorKeyHex), vectorNonce, vectorSig, []byte(vectorBody))
	f.Add([]byte("k"), "1", "hex:"+strings.ToUpper(compactSig), []byte(compactBody))
	f.Add([]byte{}, "", "", []byte{})
	f.Fuzz(func(t *testing.T, key []byte, nonce, signature string, body []byte) {
		// Arbitrary input never panics and only fails with the sentinels.
		if err := Verify(key, nonce, signature, body); err != nil &&
			!errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMissingHeaders) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(key) == 0 || nonce == "" {
			return
		}
		sig := Sign(key, nonce, body)
		for _, s := range []string{sig, strings.ToUpper(sig), "hex:" + sig} {
			if err := Verify(key, nonce, s, body); err != nil {
				t.Fatalf("Verify(Sign(x)) = %v for %q", err, s)
			}
		}
		canonical := signature
		if len(canonical) >= 4 && strings.EqualFold(canonical[:4], "hex:") {
			canonical = canonical[4:]
		}
		if strings.ToLower(canonical) != sig {
			if err := Verify(key, nonce, signature, body); err == nil {
				t.Fatalf("a signature other than Sign's verified: %q vs %q", signature, sig)
			}
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{
		vectorBody, compactBody, `{}`, `[]`, `null`, `{"identifier":"p","status":"PE","fiat_amount":"1.0"}`,
		`{"identifier":"p","status":"RF","currency":null,"crypto_amount":1e400}`, "{\"identifier\":\"\xff\",\"status\":\"x\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePayload(body)
		if err != nil {
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("error %v does not wrap ErrBadPayload", err)
			}
			return
		}
		if !validIdentifier(p.Identifier) || !validStatus(p.Status) {
			t.Fatalf("accepted an invalid identifier or status: %+v", p)
		}
		for _, a := range []string{p.FiatAmount, p.CryptoAmount, p.ConfirmedAmount, p.UnconfirmedAmount,
			p.ExpectedInputAmount, p.InputAmount, p.ReceivedAmount, p.ExchangeRate, p.NetworkFee} {
			if a != "" && !decimalRE.MatchString(a) {
				t.Fatalf("amount %q is not a decimal", a)
			}
		}
	})
}
