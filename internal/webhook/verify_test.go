package webhook

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Bitnovo's published example (reference §3.8).
const (
	vectorKeyHex = "02d4b921007cad413e79731dd02b3267cd43a14d150a0ae6a1c651942122bb62"
	vectorNonce  = "1645634942"
	vectorBody   = `{"fiat_amount": 100.0, "status": "AC", "crypto_amount": 1.21461894, "unconfirmed_amount": 8.0, "confirmed_amount": 0.0, "currency": "DASH", "identifier": "1040095a-737d-41a2-a2e1-d031d19ec8cd"}`
	vectorSig    = "ff2ac6c50f09916783f1192c35e7f169a14a806e944827b9136bf1406ade8c9d"
	compactBody  = `{"fiat_amount":100.0,"status":"AC","crypto_amount":1.21461894,"unconfirmed_amount":8.0,"confirmed_amount":0.0,"currency":"DASH","identifier":"1040095a-737d-41a2-a2e1-d031d19ec8cd"}`
	compactSig   = "454171227fba8e55a5e27e7d3a677fb9590ba747883a1fbb2218729ced3df05f"
)

func vectorKey(t testing.TB) []byte {
	t.Helper()
	k, err := DecodeSecret(vectorKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBitnovoVector(t *testing.T) {
	key := vectorKey(t)
	if got := Sign(key, vectorNonce, []byte(vectorBody)); got != vectorSig {
		t.Fatalf("Sign(vector) = %s, want %s", got, vectorSig)
	}
	if got := Sign(key, vectorNonce, []byte(compactBody)); got != compactSig {
		t.Fatalf("Sign(compact) = %s, want %s", got, compactSig)
	}
	if err := Verify(key, vectorNonce, vectorSig, []byte(vectorBody)); err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	// Re-serialising the JSON changes the bytes: the published signature must
	// not verify the compact form.
	if err := Verify(key, vectorNonce, vectorSig, []byte(compactBody)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("compact body verified against the pretty signature: %v", err)
	}
	if err := Verify(key, vectorNonce, compactSig, []byte(compactBody)); err != nil {
		t.Fatalf("compact signature: %v", err)
	}
}

func TestVerify(t *testing.T) {
	key := vectorKey(t)
	body := []byte(vectorBody)
	tests := []struct {
		name      string
		key       []byte
		nonce     string
		signature string
		body      []byte
		want      error
	}{
		{"exact", key, vectorNonce, vectorSig, body, nil},
		{"upper-case hex", key, vectorNonce, strings.ToUpper(vectorSig), body, nil},
		{"hex: prefix", key, vectorNonce, "hex:" + vectorSig, body, nil},
		{"HEX: prefix, upper-case", key, vectorNonce, "HEX:" + strings.ToUpper(vectorSig), body, nil},
		{"missing nonce", key, "", vectorSig, body, ErrMissingHeaders},
		{"missing signature", key, vectorNonce, "", body, ErrMissingHeaders},
		{"other nonce", key, "1645634943", vectorSig, body, ErrBadSignature},
		{"other key", []byte("0123456789abcdef0123456789abcdef"), vectorNonce, vectorSig, body, ErrBadSignature},
		{"utf-8 bytes of the hex secret as key", []byte(vectorKeyHex), vectorNonce, vectorSig, body, ErrBadSignature},
		{"no key", nil, vectorNonce, vectorSig, body, ErrBadSignature},
		{"one byte changed", key, vectorNonce, vectorSig, append([]byte(vectorBody[:len(vectorBody)-1]), ' '), ErrBadSignature},
		{"trailing newline", key, vectorNonce, vectorSig, append([]byte(vectorBody), '\n'), ErrBadSignature},
		{"truncated signature", key, vectorNonce, vectorSig[:62], body, ErrBadSignature},
		{"longer signature", key, vectorNonce, vectorSig + "00", body, ErrBadSignature},
		{"not hex", key, vectorNonce, strings.Repeat("zz", 32), body, ErrBadSignature},
		{"base64 of the mac", key, vectorNonce, "/yrGxQ8JkWeD8Rks5zXxaaFKgG6USCe5E2vxQGreyJ0=", body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.key, tt.nonce, tt.signature, tt.body)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeSecret(t *testing.T) {
	want, _ := hex.DecodeString(vectorKeyHex)
	tests := []struct {
		in string
		ok bool
	}{
		{vectorKeyHex, true},
		{strings.ToUpper(vectorKeyHex), true},
		{"hex:" + vectorKeyHex, true},
		{"  " + vectorKeyHex + "\n", true},
		{"", false},
		{"   ", false},
		{vectorKeyHex[:63], false},               // odd length
		{vectorKeyHex[:30], false},               // 15 bytes: too short
		{vectorKeyHex[:62] + "zz", false},        // not hex; must not be silently truncated
		{"not-a-secret-but-long-enough!", false}, // plain text
	}
	for _, tt := range tests {
		got, err := DecodeSecret(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("DecodeSecret(%q): err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && string(got) != string(want) {
			t.Errorf("DecodeSecret(%q) = %x", tt.in, got)
		}
	}
}

func TestParseNonce(t *testing.T) {
	for _, ok := range []string{"0", "1645634942", "999999999999"} {
		if _, err := parseNonce(ok); err != nil {
			t.Errorf("parseNonce(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-1", "+5", " 1645634942", "1645634942 ", "1.5", "1e9", "0x10", "1645634942000000", "١٢٣"} {
		if _, err := parseNonce(bad); !errors.Is(err, ErrBadNonce) {
			t.Errorf("parseNonce(%q) accepted", bad)
		}
	}
}
