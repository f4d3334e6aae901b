package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every refusal of the receiver wraps one of them.
var (
	ErrMissingHeaders = errors.New("webhook: missing X-NONCE or X-SIGNATURE header")
	ErrBadNonce       = errors.New("webhook: X-NONCE is not a unix time in decimal seconds")
	ErrBadSignature   = errors.New("webhook: invalid signature")
	ErrStaleNonce     = errors.New("webhook: nonce outside the freshness window")
	ErrReplay         = errors.New("webhook: replayed delivery")
	ErrBadPayload     = errors.New("webhook: invalid payload")
	ErrTooLarge       = errors.New("webhook: body too large")
	ErrMediaType      = errors.New("webhook: content type is not application/json")
	ErrRateLimited    = errors.New("webhook: too many requests from this source")
	ErrStore          = errors.New("webhook: event store unavailable")
)

// DecodeSecret turns the device secret as Bitnovo shows it (hex, usually 64
// digits) into the HMAC key. An optional "hex:" prefix and surrounding
// spaces are ignored; anything that is not whole bytes of hex, or shorter
// than 16 bytes, is refused rather than silently truncated.
func DecodeSecret(hexSecret string) ([]byte, error) {
	s := trimHexPrefix(strings.TrimSpace(hexSecret))
	if s == "" {
		return nil, errors.New("device secret is empty")
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("device secret is not hex (want 64 hex digits): %w", err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("device secret has %d bytes, want at least 16 (64 hex digits)", len(key))
	}
	return key, nil
}

// Sign returns the lowercase hex HMAC-SHA256 of nonce + body under key, as
// Bitnovo computes X-SIGNATURE.
func Sign(key []byte, nonce string, body []byte) string {
	return hex.EncodeToString(mac(key, nonce, body))
}

func mac(key []byte, nonce string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonce))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks signature against nonce + body under key, over the raw
// bytes, in constant time. It does not judge the nonce's freshness (see
// Options.Window). Missing values give ErrMissingHeaders; everything else
// that does not match gives ErrBadSignature.
func Verify(key []byte, nonce, signature string, body []byte) error {
	if nonce == "" || signature == "" {
		return ErrMissingHeaders
	}
	if len(key) == 0 {
		return fmt.Errorf("%w: no key configured", ErrBadSignature)
	}
	got, ok := decodeSignature(signature)
	if !ok {
		return fmt.Errorf("%w: not 64 hex digits", ErrBadSignature)
	}
	if !hmac.Equal(got, mac(key, nonce, body)) {
		return ErrBadSignature
	}
	return nil
}

func trimHexPrefix(s string) string {
	if len(s) >= 4 && strings.EqualFold(s[:4], "hex:") {
		return s[4:]
	}
	return s
}

// normalSignature is the canonical (lowercase, unprefixed) form of a
// well-formed signature, and false for anything else.
func normalSignature(sig string) (string, bool) {
	b, ok := decodeSignature(sig)
	if !ok {
		return "", false
	}
	return hex.EncodeToString(b), true
}

func decodeSignature(sig string) ([]byte, bool) {
	s := trimHexPrefix(sig)
	if len(s) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(s) // accepts either case
	if err != nil {
		return nil, false
	}
	return b, true
}

// parseNonce reads X-NONCE: 1 to 12 ASCII digits, unix seconds.
func parseNonce(nonce string) (time.Time, error) {
	if len(nonce) == 0 || len(nonce) > 12 {
		return time.Time{}, ErrBadNonce
	}
	for i := 0; i < len(nonce); i++ {
		if nonce[i] < '0' || nonce[i] > '9' {
			return time.Time{}, ErrBadNonce
		}
	}
	n, err := strconv.ParseInt(nonce, 10, 64)
	if err != nil {
		return time.Time{}, ErrBadNonce
	}
	return time.Unix(n, 0), nil
}

// fresh reports whether the nonce time is within window of now, in either
// direction (a sender's clock may run ahead).
func fresh(nonceTime, now time.Time, window time.Duration) bool {
	d := now.Sub(nonceTime)
	return d <= window && d >= -window
}
