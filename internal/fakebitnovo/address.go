package fakebitnovo

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"

	"golang.org/x/crypto/sha3"
)

// Sandbox addresses must never receive real money: a real wallet refuses
// every one of them (docs/sandbox-addresses.md has the table).
//
//   - Coins with a testnet address format get a valid TESTNET address: BTC
//     and BTC_TEST tb1… (bech32, BIP-173), LTC tltc1…, BCH bchtest:… (CashAddr),
//     DASH y… (base58check version 140). A mainnet wallet rejects the network.
//   - EVM coins share one address format across chains: the address carries
//     an EIP-55 mixed-case checksum that does NOT validate, and the payment URI
//     names a test chain (EIP-681 @chain_id: Sepolia 11155111, Polygon Amoy 80002).
//   - Tron, XRP, Stellar and Algorand testnets use the mainnet format, so the
//     address's checksum is broken on purpose (base58check, CRC-16, SHA-512/256).

// Chain ids of the test networks named in EVM payment URIs.
const (
	chainIDSepolia = 11155111
	chainIDAmoy    = 80002
)

// addressSeed returns n deterministic bytes for an order's address.
func addressSeed(seed string, n int) []byte {
	out := make([]byte, 0, n)
	for block := 0; len(out) < n; block++ {
		sum := sha256.Sum256([]byte(seed + "/" + strconv.Itoa(block)))
		out = append(out, sum[:]...)
	}
	return out[:n]
}

// fakeAddress returns the order's sandbox address for the entry's chain.
func fakeAddress(e *catalogEntry, orderID string) string {
	seed := "address/" + e.Symbol + "/" + orderID
	h20, h32 := addressSeed(seed, 20), addressSeed(seed, 32)
	switch e.chain {
	case chainBitcoin, chainBitcoinTest:
		return segwitAddress("tb", h20)
	case chainLitecoin:
		return segwitAddress("tltc", h20)
	case chainBitcoinCash:
		return cashAddress("bchtest", h20)
	case chainDash:
		return base58Check(alphaBase58, 140, h20, false)
	case chainEthereum, chainEVMToken:
		return brokenEIP55(seed)
	case chainTron:
		return base58Check(alphaBase58, 0x41, h20, true)
	case chainXRP:
		return base58Check(alphaRipple, 0x00, h20, true)
	case chainStellar:
		return brokenStrKey(h32)
	case chainAlgorand:
		return brokenAlgorand(h32)
	}
	return base58Check(alphaBase58, 0x00, h20, true)
}

// evmChainID is the test chain an EVM payment URI names.
func evmChainID(e *catalogEntry) int {
	if strings.HasSuffix(e.Symbol, "_POLYGON") {
		return chainIDAmoy
	}
	return chainIDSepolia
}

// bech32 (BIP-173).

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// toBase32 regroups 8-bit bytes into 5-bit groups, zero-padding the last.
func toBase32(data []byte) []byte {
	var out []byte
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(5-bits)&31))
	}
	return out
}

// segwitAddress is the v0 witness address of a 20-byte key hash.
func segwitAddress(hrp string, program []byte) string {
	data := append([]byte{0}, toBase32(program)...)
	values := make([]byte, 0, 2*len(hrp)+1+len(data)+6)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]>>5)
	}
	values = append(values, 0)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]&31)
	}
	values = append(values, data...)
	mod := bech32Polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var b strings.Builder
	b.WriteString(hrp + "1")
	for _, d := range data {
		b.WriteByte(alphaBech32[d])
	}
	for i := range 6 {
		b.WriteByte(alphaBech32[mod>>(5*(5-i))&31])
	}
	return b.String()
}

// CashAddr (Bitcoin Cash).

func cashPolymod(values []byte) uint64 {
	c := uint64(1)
	for _, d := range values {
		c0 := byte(c >> 35)
		c = (c&0x07ffffffff)<<5 ^ uint64(d)
		for i, g := range [5]uint64{0x98f2bc8e61, 0x79b76d99e2, 0xf33e5fb3c4, 0xae2eabe2a8, 0x1e4f43e470} {
			if c0&(1<<i) != 0 {
				c ^= g
			}
		}
	}
	return c ^ 1
}

// cashAddress is the P2PKH CashAddr of a 20-byte key hash, prefix included.
func cashAddress(prefix string, hash []byte) string {
	data := toBase32(append([]byte{0}, hash...)) // version byte 0: P2PKH, 160 bits
	values := make([]byte, 0, len(prefix)+1+len(data)+8)
	for i := 0; i < len(prefix); i++ {
		values = append(values, prefix[i]&31)
	}
	values = append(values, 0)
	values = append(values, data...)
	mod := cashPolymod(append(values, 0, 0, 0, 0, 0, 0, 0, 0))
	var b strings.Builder
	b.WriteString(prefix + ":")
	for _, d := range data {
		b.WriteByte(alphaBech32[d])
	}
	for i := range 8 {
		b.WriteByte(alphaBech32[mod>>(5*(7-i))&31])
	}
	return b.String()
}

// base58Check encodes version ‖ payload ‖ checksum in alphabet; broken
// flips a checksum bit so every wallet's check fails.
func base58Check(alphabet string, version byte, payload []byte, broken bool) string {
	raw := append([]byte{version}, payload...)
	first := sha256.Sum256(raw)
	sum := sha256.Sum256(first[:])
	check := sum[:4]
	if broken {
		check = []byte{sum[0], sum[1], sum[2], sum[3] ^ 0x01}
	}
	return base58(alphabet, append(raw, check...))
}

func base58(alphabet string, b []byte) string {
	n := new(big.Int).SetBytes(b)
	radix, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, alphabet[0])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// brokenEIP55 returns a 0x address in mixed case whose EIP-55 checksum does
// not validate: the right casing with one letter's case flipped, chosen so
// the result is still mixed case (an all-lower or all-upper address carries
// no checksum and wallets accept it).
func brokenEIP55(seed string) string {
	for attempt := 0; ; attempt++ {
		lower := hex.EncodeToString(addressSeed(seed+"/"+strconv.Itoa(attempt), 20))
		right := eip55(lower)
		for i := 0; i < len(right); i++ {
			c := right[i]
			if c < 'A' || (c > 'F' && c < 'a') {
				continue // a digit
			}
			b := []byte(right)
			b[i] ^= 0x20 // flip the case
			if s := string(b); s != strings.ToLower(s) && s != strings.ToUpper(s) {
				return "0x" + s
			}
		}
	}
}

// eip55 applies the EIP-55 casing to 40 lower-case hex digits.
func eip55(lower string) string {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	sum := h.Sum(nil)
	b := []byte(lower)
	for i, c := range b {
		nibble := sum[i/2] >> 4
		if i%2 == 1 {
			nibble = sum[i/2] & 0x0f
		}
		if c >= 'a' && nibble >= 8 {
			b[i] = c - 0x20
		}
	}
	return string(b)
}

// brokenStrKey is a Stellar account id (G…) whose CRC-16 does not match.
func brokenStrKey(key []byte) string {
	raw := append([]byte{6 << 3}, key...) // version byte: ed25519 public key
	crc := crc16XModem(raw) ^ 0x0001
	raw = append(raw, byte(crc), byte(crc>>8)) // little-endian
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
}

func crc16XModem(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// brokenAlgorand is an Algorand address whose 4-byte checksum (the last
// bytes of SHA-512/256 of the key) does not match.
func brokenAlgorand(key []byte) string {
	sum := sha512.Sum512_256(key)
	check := []byte{sum[28], sum[29], sum[30], sum[31] ^ 0x01}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(append(append([]byte{}, key...), check...))
}
