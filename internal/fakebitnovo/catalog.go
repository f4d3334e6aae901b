package fakebitnovo

import (
	"crypto/sha256"
	"encoding/binary"
	"net/url"
	"strconv"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// Currency is one entry of the fake's currency catalog, as E4 serves it.
// Amount limits are EUR-equivalent fiat amounts in decimal text; MaxAmount
// "" means no limit. RateEUR is the fixed price of one unit in EUR.
type Currency struct {
	Symbol     string
	Name       string
	MinAmount  string
	MaxAmount  string
	Blockchain string
	Decimals   int // of the coin's smallest unit (18 for ether); amounts are quoted at most at 8
	RateEUR    string
}

// chain describes how the fake invents addresses and payment URIs.
type chain int

const (
	chainBitcoin chain = iota
	chainBitcoinTest
	chainLitecoin
	chainBitcoinCash
	chainDash
	chainEthereum // native ether: EIP-681 value in wei
	chainEVMToken // ERC20 / Polygon tokens: 0x address, amount in units
	chainTron
	chainXRP
	chainStellar
	chainAlgorand
)

type catalogEntry struct {
	Currency
	chain chain
	// stringLimits: E4 sends min/max as decimal strings for this entry by
	// default (the real API's clients see both forms).
	stringLimits bool
	rate         money.Decimal
	min, max     money.Decimal // max "" = no limit
}

// maxQuoteDecimals bounds the decimals of the crypto amounts the fake
// quotes. Ether has 18 (the wei), but an amount such as 0.014166666666666667
// ETH is unreadable and nobody can type it: amounts are quoted at 8
// decimals at most (rounded half up, within half a unit of the exact
// price), and only the EIP-681 value is in wei.
const maxQuoteDecimals = 8

// places is the number of decimals of the entry's amounts: its Decimals,
// at most maxQuoteDecimals.
func (e *catalogEntry) places() int { return min(e.Decimals, maxQuoteDecimals) }

// requiresMemo reports whether orders in this currency carry a tag/memo.
func (e *catalogEntry) requiresMemo() bool {
	switch e.chain {
	case chainXRP, chainStellar, chainAlgorand:
		return true
	}
	return false
}

// Currencies returns the fake's catalog in the order E4 serves it. The
// result is a fresh copy; callers may modify it.
func Currencies() []Currency {
	c := []Currency{
		{"BTC", "Bitcoin", "5.00", "", "Bitcoin", 8, "60000"},
		{"ETH", "Ethereum", "5.00", "", "Ethereum", 18, "3000"},
		{"LTC", "Litecoin", "0.50", "", "Litecoin", 8, "80"},
		{"BCH", "Bitcoin Cash", "0.50", "", "Bitcoin Cash", 8, "400"},
		{"XRP", "Ripple", "1.00", "5000.00", "XRP Ledger", 6, "0.50"},
		{"XLM", "Stellar", "0.10", "", "Stellar", 7, "0.10"},
		{"ALGO", "Algorand", "0.10", "", "Algorand", 6, "0.20"},
		{"DASH", "Dash", "0.50", "", "Dash", 8, "30"},
		{"USDC_ERC20", "USD Coin (ERC20)", "5.00", "", "Ethereum", 6, "0.92"},
		{"USDT_ERC20", "Tether (ERC20)", "5.00", "", "Ethereum", 6, "0.92"},
		{"USDT_TRC20", "Tether (TRC20)", "1.00", "5000.00", "Tron", 6, "0.92"},
		{"USDC_POLYGON", "USD Coin (Polygon)", "0.10", "", "Polygon", 6, "0.92"},
		{"BTC_TEST", "Bitcoin Testnet", "0.10", "", "Bitcoin Testnet", 8, "60000"},
		{"ETH_TEST", "Ethereum Testnet", "0.10", "", "Ethereum Sepolia", 18, "3000"},
		{"USDC_ETH_TEST", "USD Coin (Ethereum Testnet)", "0.10", "1000.00", "Ethereum Sepolia", 6, "0.92"},
	}
	return c
}

func chainFor(symbol string) chain {
	switch symbol {
	case "BTC":
		return chainBitcoin
	case "BTC_TEST":
		return chainBitcoinTest
	case "LTC":
		return chainLitecoin
	case "BCH":
		return chainBitcoinCash
	case "DASH":
		return chainDash
	case "ETH", "ETH_TEST":
		return chainEthereum
	case "USDT_TRC20":
		return chainTron
	case "XRP":
		return chainXRP
	case "XLM":
		return chainStellar
	case "ALGO":
		return chainAlgorand
	default:
		return chainEVMToken
	}
}

// newCatalog builds the per-server catalog with parsed decimals.
func newCatalog() ([]*catalogEntry, map[string]*catalogEntry) {
	list := Currencies()
	entries := make([]*catalogEntry, 0, len(list))
	bySymbol := make(map[string]*catalogEntry, len(list))
	for i, c := range list {
		e := &catalogEntry{
			Currency:     c,
			chain:        chainFor(c.Symbol),
			stringLimits: i%2 == 0,
			rate:         mustAmount(c.RateEUR),
			min:          mustAmount(c.MinAmount),
		}
		if c.MaxAmount != "" {
			e.max = mustAmount(c.MaxAmount)
		}
		entries = append(entries, e)
		bySymbol[c.Symbol] = e
	}
	return entries, bySymbol
}

const (
	alphaBech32  = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	alphaBase58  = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	alphaRipple  = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"
	memoModulus  = 4294967295 // destination tags are uint32
	memoMinValue = 100000
)

// fakeMemo returns a numeric destination tag / memo for memo chains.
func fakeMemo(orderID string) string {
	sum := sha256.Sum256([]byte("memo/" + orderID))
	v := binary.BigEndian.Uint64(sum[:8])%(memoModulus-memoMinValue) + memoMinValue
	return strconv.FormatUint(v, 10)
}

// paymentURI builds the wallet URI for an address and crypto amount.
func paymentURI(e *catalogEntry, address, amount, memo string) string {
	q := url.Values{}
	scheme := ""
	switch e.chain {
	case chainBitcoin, chainBitcoinTest:
		scheme = "bitcoin"
	case chainLitecoin:
		scheme = "litecoin"
	case chainBitcoinCash:
		// The CashAddr carries its network prefix, which is the URI scheme.
		q.Set("amount", amount)
		return address + "?" + q.Encode()
	case chainDash:
		scheme = "dash"
	case chainEthereum:
		// EIP-681: value is an integer number of wei, on a test chain.
		return "ethereum:" + address + "@" + strconv.Itoa(evmChainID(e)) + "?value=" + money.Decimal(amount).Units(e.Decimals)
	case chainEVMToken:
		scheme = "ethereum"
		address += "@" + strconv.Itoa(evmChainID(e))
	case chainTron:
		scheme = "tron"
	case chainXRP:
		scheme = "ripple"
	case chainStellar:
		scheme = "stellar"
	case chainAlgorand:
		scheme = "algorand"
	}
	q.Set("amount", amount)
	switch e.chain {
	case chainXRP:
		q.Set("dt", memo)
	case chainStellar, chainAlgorand:
		q.Set("memo", memo)
	}
	return scheme + ":" + address + "?" + q.Encode()
}
