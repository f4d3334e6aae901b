package payments

import (
	"context"
	"fmt"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/suggest"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// CatalogTTL is how long a fetched currency list is served without refetching.
const CatalogTTL = 5 * time.Minute

// Currency is one entry of list_currencies_catalog.
type Currency struct {
	Symbol       string   `json:"symbol"`
	Name         string   `json:"name"`
	Blockchain   string   `json:"blockchain"`
	MinAmount    string   `json:"min_amount" jsonschema:"minimum payment amount in EUR, exact decimal text"`
	MaxAmount    *string  `json:"max_amount" jsonschema:"maximum payment amount in EUR, exact decimal text; null means no upper limit"`
	Decimals     int      `json:"decimals"`
	Image        string   `json:"image,omitempty"`
	RequiresMemo bool     `json:"requires_memo"`
	IsActive     bool     `json:"is_active"`
	Features     []string `json:"features"`
}

// CacheInfo tells the agent how fresh a catalog answer is.
type CacheInfo struct {
	Cached     bool `json:"cached" jsonschema:"true when served from the cache without asking Bitnovo"`
	AgeSeconds int  `json:"age_seconds"`
	Stale      bool `json:"stale" jsonschema:"true when Bitnovo could not be reached and an older list was served"`
	// Age and Valid are the TypeScript server's names, kept for its clients.
	Age   int64 `json:"age" jsonschema:"age of the list in milliseconds (the original server's field; same as age_seconds)"`
	Valid bool  `json:"valid" jsonschema:"the original server's field: true unless the list is stale"`
}

// catalog caches the currency list: fresh for CatalogTTL, and served stale
// when a refresh fails. Concurrent refreshes are collapsed into one.
type catalog struct {
	api API
	now func() time.Time
	log *slog.Logger

	mu        sync.Mutex
	list      []Currency
	fetchedAt time.Time
	inflight  chan struct{} // closed when the running fetch ends
	lastErr   error
}

func newCatalog(api API, now func() time.Time, log *slog.Logger) *catalog {
	return &catalog{api: api, now: now, log: log}
}

// get returns the currency list and how it was obtained.
func (c *catalog) get(ctx context.Context) ([]Currency, CacheInfo, error) {
	c.mu.Lock()
	now := c.now()
	if c.list != nil && now.Sub(c.fetchedAt) < CatalogTTL {
		list, age := c.list, now.Sub(c.fetchedAt)
		c.mu.Unlock()
		return list, CacheInfo{Cached: true, AgeSeconds: int(age.Seconds())}, nil
	}
	if wait := c.inflight; wait != nil {
		c.mu.Unlock()
		select {
		case <-wait:
			c.mu.Lock()
			list, fetchedAt, err := c.list, c.fetchedAt, c.lastErr
			c.mu.Unlock()
			if err == nil && list != nil {
				return list, CacheInfo{Cached: true, AgeSeconds: int(c.now().Sub(fetchedAt).Seconds())}, nil
			}
			if list != nil {
				return list, CacheInfo{Cached: true, AgeSeconds: int(c.now().Sub(fetchedAt).Seconds()), Stale: true}, nil
			}
			return nil, CacheInfo{}, err
		case <-ctx.Done():
			return nil, CacheInfo{}, ctx.Err()
		}
	}
	done := make(chan struct{})
	c.inflight = done
	c.mu.Unlock()

	raw, err := c.api.Currencies(ctx)

	c.mu.Lock()
	c.inflight = nil
	c.lastErr = err
	if err == nil {
		c.list = normalizeCatalog(raw)
		c.fetchedAt = c.now()
	}
	list, fetchedAt := c.list, c.fetchedAt
	c.mu.Unlock()
	close(done)

	switch {
	case err == nil:
		return list, CacheInfo{}, nil
	case list != nil:
		c.log.Warn("currency catalog refresh failed; serving the stale list", "error", err, "age", c.now().Sub(fetchedAt).Round(time.Second))
		return list, CacheInfo{Cached: true, AgeSeconds: int(c.now().Sub(fetchedAt).Seconds()), Stale: true}, nil
	default:
		return nil, CacheInfo{}, err
	}
}

// find looks a symbol up exactly (symbols are case-sensitive upstream).
func (c *catalog) find(ctx context.Context, symbol string) (Currency, []Currency, error) {
	list, _, err := c.get(ctx)
	if err != nil {
		return Currency{}, nil, err
	}
	for _, cur := range list {
		if cur.Symbol == symbol {
			return cur, list, nil
		}
	}
	return Currency{}, list, nil
}

var (
	priority = []string{"BTC", "ETH", "LTC", "BCH", "XRP", "XLM", "USDC"}
	decimals = map[string]int{"BTC": 8, "ETH": 18, "LTC": 8, "BCH": 8, "XRP": 6, "XLM": 7, "ALGO": 6, "USDC": 6, "USDT": 6, "DASH": 8, "DOGE": 8, "TRX": 6, "SOL": 9, "MATIC": 18, "POL": 18, "BNB": 18}
	memoed   = map[string]bool{"XRP": true, "XLM": true, "ALGO": true}
	popular  = map[string]bool{"BTC": true, "ETH": true, "LTC": true, "BCH": true, "XRP": true}
	stable   = map[string]bool{"USDC": true, "USDT": true, "DAI": true, "EURC": true}
)

// baseSymbol strips network and test suffixes: USDC_ETH_TEST → USDC.
func baseSymbol(symbol string) string {
	base, _, _ := strings.Cut(strings.ToUpper(symbol), "_")
	return base
}

func normalizeCatalog(raw []bitnovo.Currency) []Currency {
	out := make([]Currency, 0, len(raw))
	for _, r := range raw {
		if r.Symbol == "" {
			continue
		}
		base := baseSymbol(r.Symbol)
		c := Currency{
			Symbol:       r.Symbol,
			Name:         r.Name,
			Blockchain:   r.Blockchain,
			MinAmount:    string(r.MinAmount),
			Image:        r.Image,
			RequiresMemo: memoed[base],
			IsActive:     true,
			Decimals:     8,
		}
		if c.MinAmount == "" {
			c.MinAmount = "0"
		}
		if r.MaxAmount.Sign() != 0 {
			m := string(r.MaxAmount)
			c.MaxAmount = &m
		}
		if d, ok := decimals[base]; ok {
			c.Decimals = d
		}
		c.Features = []string{}
		if c.RequiresMemo {
			c.Features = append(c.Features, "Requires memo/tag")
		}
		if c.Blockchain != "" && !strings.EqualFold(c.Blockchain, c.Symbol) {
			c.Features = append(c.Features, c.Blockchain+" network")
		}
		if c.MaxAmount == nil {
			c.Features = append(c.Features, "No maximum limit")
		}
		if stable[base] {
			c.Features = append(c.Features, "Stablecoin")
		}
		if popular[base] {
			c.Features = append(c.Features, "Popular")
		}
		if strings.HasSuffix(strings.ToUpper(c.Symbol), "_TEST") {
			c.Features = append(c.Features, "Testnet")
		}
		out = append(out, c)
	}
	rank := func(sym string) int {
		for i, p := range priority {
			if sym == p {
				return i
			}
		}
		return len(priority)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Symbol), rank(out[j].Symbol)
		if ri != rj {
			return ri < rj
		}
		return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name)
	})
	return out
}

// cmpDecimal compares two decimal strings; ok is false if either is invalid.
func cmpDecimal(a, b string) (int, bool) {
	da, err := money.Parse(a)
	if err != nil {
		return 0, false
	}
	db, err := money.Parse(b)
	if err != nil {
		return 0, false
	}
	return da.Cmp(db), true
}

// accepts reports whether amount lies within the currency's limits (inclusive).
func (c Currency) accepts(amount string) (tooLow, tooHigh bool) {
	if n, ok := cmpDecimal(amount, c.MinAmount); ok && n < 0 {
		tooLow = true
	}
	if c.MaxAmount != nil {
		if n, ok := cmpDecimal(amount, *c.MaxAmount); ok && n > 0 {
			tooHigh = true
		}
	}
	return tooLow, tooHigh
}

// resolve turns what an agent wrote for a currency into the catalog's
// symbol when that is unambiguous: the symbol in any case ("btc"), or a
// currency's name ("Bitcoin", "usd coin (polygon)"). A bare asset on
// several networks ("USDC"), or anything else, is refused with the symbols
// meant suggested: the network decides where the money goes, so it is
// never guessed. Without a catalog (Bitnovo down, nothing cached) the
// input is returned as is and the create reports the failure.
func (c *catalog) resolve(ctx context.Context, input string) (string, error) {
	list, _, err := c.get(ctx)
	if err != nil || len(list) == 0 {
		return input, nil
	}
	key := currencyKey(input)
	var named, sameAsset []string
	for _, cur := range list {
		switch {
		case cur.Symbol == input:
			return cur.Symbol, nil
		case currencyKey(cur.Symbol) == key:
			return cur.Symbol, nil
		case currencyKey(cur.Name) == key:
			named = append(named, cur.Symbol)
		case baseSymbol(cur.Symbol) == strings.ToUpper(strings.TrimSpace(input)) && !strings.HasSuffix(cur.Symbol, "_TEST"):
			sameAsset = append(sameAsset, cur.Symbol)
		}
	}
	if len(named) == 1 {
		return named[0], nil
	}
	shown := input
	if len([]rune(shown)) > 40 {
		shown = string([]rune(shown)[:40]) + "…"
	}
	symbols := make([]string, len(list))
	for i, cur := range list {
		symbols[i] = cur.Symbol
	}
	suggestions := append(named, sameAsset...)
	if len(suggestions) == 0 {
		suggestions = closeSymbols(key, list)
	}
	msg := fmt.Sprintf("%q is not a supported currency symbol", shown)
	switch {
	case len(sameAsset) > 1 || len(named) > 1:
		msg = fmt.Sprintf("%q is on several networks: say which", shown)
	case len(sameAsset) == 1:
		msg = fmt.Sprintf("%q is not a currency symbol here", shown)
	}
	if len(suggestions) > 0 {
		msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
	} else {
		msg += "; use a symbol from supported_currencies (see list_currencies_catalog)"
	}
	return "", newError(CodeCurrencyNotSupported, msg, map[string]any{"input_currency": shown, "suggestions": suggestions, "supported_currencies": symbols})
}

// currencyKey compares symbols and names loosely: case, spaces and
// punctuation do not count.
func currencyKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// closeSymbols returns the symbols (or the symbols of names) within a
// small edit distance of key: "btcc" → BTC, "etherium" → ETH.
func closeSymbols(key string, list []Currency) []string {
	if key == "" || len(key) > 64 {
		return nil
	}
	var out []string
	for _, cur := range list {
		for _, cand := range []string{currencyKey(cur.Symbol), currencyKey(cur.Name)} {
			if d := suggest.Distance(key, cand); d <= max(1, len(cand)/4) || len(key) >= 3 && strings.HasPrefix(cand, key) {
				out = append(out, cur.Symbol)
				break
			}
		}
	}
	return out
}
