package fakebitnovo

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/sha3"
)

// These verifiers are written from the specifications, apart from the
// generators in address.go, and are checked against published valid
// addresses first, so a test that says "the checksum fails" cannot pass
// because the verifier is broken.

// bech32Check returns the human-readable part of a bech32 string whose
// checksum verifies (BIP-173), or ok false.
func bech32Check(s string) (hrp string, ok bool) {
	s = strings.ToLower(s)
	i := strings.LastIndexByte(s, '1')
	if i < 1 || i+7 > len(s) {
		return "", false
	}
	hrp = s[:i]
	var v []uint32
	for _, c := range []byte(hrp) {
		v = append(v, uint32(c)>>5)
	}
	v = append(v, 0)
	for _, c := range []byte(hrp) {
		v = append(v, uint32(c)&31)
	}
	for _, c := range []byte(s[i+1:]) {
		d := strings.IndexByte("qpzry9x8gf2tvdw0s3jn54khce6mua7l", c)
		if d < 0 {
			return "", false
		}
		v = append(v, uint32(d))
	}
	chk := uint32(1)
	for _, x := range v {
		b := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ x
		for j, g := range []uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3} {
			if b>>j&1 == 1 {
				chk ^= g
			}
		}
	}
	return hrp, chk == 1
}

// cashAddrValid checks a CashAddr payload against a network prefix.
func cashAddrValid(prefix, payload string) bool {
	var v []uint64
	for _, c := range []byte(prefix) {
		v = append(v, uint64(c)&31)
	}
	v = append(v, 0)
	for _, c := range []byte(payload) {
		d := strings.IndexByte("qpzry9x8gf2tvdw0s3jn54khce6mua7l", c)
		if d < 0 {
			return false
		}
		v = append(v, uint64(d))
	}
	c := uint64(1)
	for _, d := range v {
		c0 := c >> 35
		c = (c&0x07ffffffff)<<5 ^ d
		for j, g := range []uint64{0x98f2bc8e61, 0x79b76d99e2, 0xf33e5fb3c4, 0xae2eabe2a8, 0x1e4f43e470} {
			if c0>>j&1 == 1 {
				c ^= g
			}
		}
	}
	return c^1 == 0
}

// base58CheckDecode decodes s in alphabet and reports whether its 4-byte
// double-SHA-256 checksum matches.
func base58CheckDecode(alphabet, s string) (payload []byte, ok bool) {
	n := new(big.Int)
	for _, c := range []byte(s) {
		d := strings.IndexByte(alphabet, c)
		if d < 0 {
			return nil, false
		}
		n.Mul(n, big.NewInt(58)).Add(n, big.NewInt(int64(d)))
	}
	b := n.Bytes()
	for i := 0; i < len(s) && s[i] == alphabet[0]; i++ {
		b = append([]byte{0}, b...)
	}
	if len(b) < 5 {
		return nil, false
	}
	body, check := b[:len(b)-4], b[len(b)-4:]
	first := sha256.Sum256(body)
	second := sha256.Sum256(first[:])
	return body, bytes.Equal(second[:4], check)
}

// eip55Valid reports whether a 0x address's mixed case is its EIP-55
// checksum.
func eip55Valid(addr string) bool {
	hexpart := strings.TrimPrefix(addr, "0x")
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(strings.ToLower(hexpart)))
	sum := h.Sum(nil)
	for i, c := range hexpart {
		nib := sum[i/2] >> 4
		if i%2 == 1 {
			nib = sum[i/2] & 15
		}
		switch {
		case c >= 'a' && c <= 'f' && nib >= 8, c >= 'A' && c <= 'F' && nib < 8:
			return false
		}
	}
	return true
}

func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		for i := 7; i >= 0; i-- {
			bit := (c>>i)&1 == 1
			top := crc&0x8000 != 0
			crc <<= 1
			if bit != top {
				crc ^= 0x1021
			}
		}
	}
	return crc
}

// strKeyValid checks a Stellar account id's CRC-16 (XModem, little-endian).
func strKeyValid(s string) bool {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(b) != 35 || b[0] != 6<<3 {
		return false
	}
	c := crc16(b[:33])
	return b[33] == byte(c) && b[34] == byte(c>>8)
}

// algorandValid checks an Algorand address's SHA-512/256 checksum.
func algorandValid(s string) bool {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(b) != 36 {
		return false
	}
	sum := sha512.Sum512_256(b[:32])
	return bytes.Equal(sum[28:], b[32:])
}

func TestVerifiersAcceptPublishedAddresses(t *testing.T) {
	if hrp, ok := bech32Check("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"); !ok || hrp != "bc" {
		t.Error("bech32: BIP-173 example refused")
	}
	if !cashAddrValid("bitcoincash", "qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a") {
		t.Error("cashaddr: spec example refused")
	}
	if p, ok := base58CheckDecode(alphaBase58, "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu"); !ok || p[0] != 0 {
		t.Error("base58check: bitcoin example refused")
	}
	if p, ok := base58CheckDecode(alphaRipple, "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"); !ok || p[0] != 0 {
		t.Error("base58check: XRP genesis account refused")
	}
	if p, ok := base58CheckDecode(alphaBase58, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"); !ok || p[0] != 0x41 {
		t.Error("base58check: Tron USDT contract refused")
	}
	if !eip55Valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") || eip55Valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") {
		t.Error("EIP-55: spec example misjudged")
	}
	if !strKeyValid("GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ") {
		t.Error("strkey: Stellar example refused")
	}
	key := bytes.Repeat([]byte{7}, 32)
	sum := sha512.Sum512_256(key)
	if !algorandValid(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(append(key, sum[28:]...))) {
		t.Error("algorand: a correctly summed address refused")
	}
}

// Every sandbox address and URI is refused by a real (mainnet) wallet: a
// valid testnet address where the coin has a testnet format, a test chain
// id and a failing EIP-55 checksum on EVM chains, a broken checksum
// otherwise.
func TestSandboxAddressesAreRefusedByRealWallets(t *testing.T) {
	s := New(Options{})
	for _, c := range Currencies() {
		e := s.bySymbol[c.Symbol]
		for _, id := range []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", newUUID(rand.Reader)} {
			addr := fakeAddress(e, id)
			uri := paymentURI(e, addr, "1", "123")
			if !strings.Contains(uri, addr) {
				t.Errorf("%s: URI %q does not carry the address %q", c.Symbol, uri, addr)
			}
			switch c.Symbol {
			case "BTC", "BTC_TEST":
				if hrp, ok := bech32Check(addr); !ok || hrp != "tb" {
					t.Errorf("%s %s: want a valid testnet (tb) bech32 address", c.Symbol, addr)
				}
			case "LTC":
				if hrp, ok := bech32Check(addr); !ok || hrp != "tltc" {
					t.Errorf("%s %s: want a valid testnet (tltc) bech32 address", c.Symbol, addr)
				}
			case "BCH":
				payload, found := strings.CutPrefix(addr, "bchtest:")
				if !found || !cashAddrValid("bchtest", payload) || cashAddrValid("bitcoincash", payload) {
					t.Errorf("%s %s: want a CashAddr valid on bchtest only", c.Symbol, addr)
				}
				if !strings.HasPrefix(uri, "bchtest:") {
					t.Errorf("%s URI %s: want the bchtest: scheme", c.Symbol, uri)
				}
			case "DASH":
				if p, ok := base58CheckDecode(alphaBase58, addr); !ok || p[0] != 140 {
					t.Errorf("%s %s: want a valid testnet (version 140) address", c.Symbol, addr)
				}
			case "ETH", "ETH_TEST", "USDC_ERC20", "USDT_ERC20", "USDC_ETH_TEST", "USDC_POLYGON":
				hexpart := strings.TrimPrefix(addr, "0x")
				if len(hexpart) != 40 || hexpart == strings.ToLower(hexpart) || hexpart == strings.ToUpper(hexpart) || eip55Valid(addr) {
					t.Errorf("%s %s: want mixed case whose EIP-55 checksum fails", c.Symbol, addr)
				}
				chain := "@11155111"
				if c.Symbol == "USDC_POLYGON" {
					chain = "@80002"
				}
				if !strings.HasPrefix(uri, "ethereum:"+addr+chain+"?") {
					t.Errorf("%s URI %s: want the test chain %s", c.Symbol, uri, chain)
				}
			case "USDT_TRC20":
				if p, ok := base58CheckDecode(alphaBase58, addr); ok || len(p) != 21 || p[0] != 0x41 {
					t.Errorf("%s %s: want a Tron address whose checksum fails", c.Symbol, addr)
				}
			case "XRP":
				if p, ok := base58CheckDecode(alphaRipple, addr); ok || len(p) != 21 || p[0] != 0 {
					t.Errorf("%s %s: want an XRP address whose checksum fails", c.Symbol, addr)
				}
			case "XLM":
				if strKeyValid(addr) || len(addr) != 56 || addr[0] != 'G' {
					t.Errorf("%s %s: want a G… account id whose CRC-16 fails", c.Symbol, addr)
				}
			case "ALGO":
				if algorandValid(addr) || len(addr) != 58 {
					t.Errorf("%s %s: want an address whose checksum fails", c.Symbol, addr)
				}
			default:
				t.Errorf("%s: no rule: add the currency to docs/sandbox-addresses.md and here", c.Symbol)
			}
		}
	}
}
