package fakebitrefill

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

//go:embed catalog.json
var catalogJSON []byte

// seedProduct is one entry of catalog.json.
type seedProduct struct {
	Slug              string       `json:"slug"`
	Name              string       `json:"name"`
	BaseName          string       `json:"baseName"`
	Type              string       `json:"type"`
	Categories        []string     `json:"categories"`
	CountryCode       string       `json:"countryCode"`
	Countries         []string     `json:"countries"`
	Currency          string       `json:"currency"`
	Values            []string     `json:"values"`
	Plans             []seedPlan   `json:"plans"`
	Range             *seedRange   `json:"range"`
	Popularity        float64      `json:"popularity"`
	Rating            float64      `json:"rating"`
	ReviewCount       int          `json:"reviewCount"`
	IsPinBased        bool         `json:"isPinBased"`
	OutOfStock        bool         `json:"outOfStock"`
	RecipientType     string       `json:"recipientType"`
	RedemptionMethods []string     `json:"redemptionMethods"`
	Languages         []string     `json:"languages"`
	Description       string       `json:"description"`
	DescriptionEn     string       `json:"descriptionEn"`
	Instructions      string       `json:"instructions"`
	Reviews           []seedReview `json:"reviews"`
	PhonePrefix       string       `json:"phonePrefix"`
}

type seedPlan struct {
	Value  string `json:"value"`
	Amount string `json:"amount"`
}

type seedRange struct {
	Min  string `json:"min"`
	Max  string `json:"max"`
	Step string `json:"step"`
}

type seedReview struct {
	Author  string  `json:"author"`
	Score   float64 `json:"score"`
	Content string  `json:"content"`
}

// Exchange rates of the sandbox (fixed, fake). Functions rather than maps so
// there is no mutable package state.

// eurPer returns how many EUR one unit of a product currency is worth.
func eurPer(currency string) (string, bool) {
	switch currency {
	case "EUR":
		return "1", true
	case "USD":
		return "0.92", true
	case "GBP":
		return "1.17", true
	case "MXN":
		return "0.054", true
	case "BRL":
		return "0.17", true
	}
	return "", false
}

// cryptoRate is a payment currency with its USD price and display decimals.
type cryptoRate struct {
	code     string
	usdPrice string
	decimals int
}

func cryptoRates() []cryptoRate {
	return []cryptoRate{
		{"BTC", "65000", 8}, {"ETH", "3200", 8}, {"USDC", "1", 2}, {"USDT", "1", 2}, {"LTC", "80", 8},
	}
}

func cryptoRateOf(code string) (cryptoRate, bool) {
	for _, r := range cryptoRates() {
		if r.code == code {
			return r, true
		}
	}
	return cryptoRate{}, false
}

func countryName(code string) string {
	switch code {
	case "US":
		return "United States"
	case "GB":
		return "United Kingdom"
	case "DE":
		return "Germany"
	case "ES":
		return "Spain"
	case "FR":
		return "France"
	case "IT":
		return "Italy"
	case "NL":
		return "Netherlands"
	case "MX":
		return "Mexico"
	case "BR":
		return "Brazil"
	}
	return code
}

// dec parses a catalog constant; a bad one is a programming error.
func dec(s string) money.Decimal { return money.MustParse(s) }

// productTypes maps a product type to its category list (as the real
// categories resource).
func productTypeOf(category string) string {
	switch category {
	case "giftcards", "refills", "bills", "esims", "crypto-utils":
		return category
	}
	return ""
}

// pkg is an expanded package.
type pkg struct {
	Display  *string
	Value    string        // face value text
	Amount   money.Decimal // numeric face value
	EurValue money.Decimal
	EurPrice money.Decimal
	UsdPrice money.Decimal
}

// product is an expanded catalogue product.
type product struct {
	seed     seedProduct
	packages []pkg
	rng      *seedRange
}

func (p *product) countries() []string {
	if len(p.seed.Countries) > 0 {
		return p.seed.Countries
	}
	return []string{p.seed.CountryCode}
}

// priceFor computes the face-value → price conversion of an amount in the
// product currency.
func (p *product) priceFor(amount money.Decimal) (eurValue, eurPrice, usdPrice money.Decimal) {
	fxText, _ := eurPer(p.seed.Currency)
	eurValue = amount.Mul(dec(fxText)).Round(2, money.HalfUp)
	eurPrice = eurValue
	if p.seed.Type == "refills" {
		eurPrice = eurValue.Mul("1.02").Round(2, money.HalfUp)
	}
	usdPrice = quo(eurPrice, "0.92", 2)
	return eurValue, eurPrice, usdPrice
}

// quo is x ÷ y rounded half up to places; y is a positive constant.
func quo(x, y money.Decimal, places int) money.Decimal {
	q, err := x.Quo(y, places, money.HalfUp)
	if err != nil {
		panic(fmt.Sprintf("fakebitrefill: %s / %s: %v", x, y, err))
	}
	return q
}

// findValue returns the package matching a numeric value, or a synthetic
// package for a ranged product.
func (p *product) findValue(v money.Decimal) (pkg, bool) {
	for _, k := range p.packages {
		if k.Amount.Cmp(v) == 0 {
			return k, true
		}
	}
	if p.rng != nil {
		lo, hi, step := dec(p.rng.Min), dec(p.rng.Max), dec(p.rng.Step)
		if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
			return pkg{}, false
		}
		off := v.Sub(lo)
		if n, err := off.Quo(step, 0, money.Down); err != nil || n.Mul(step).Cmp(off) != 0 {
			return pkg{}, false // not on a step
		}
		ev, ep, up := p.priceFor(v)
		return pkg{Value: v.Reduce().String(), Amount: v, EurValue: ev, EurPrice: ep, UsdPrice: up}, true
	}
	return pkg{}, false
}

// findPackageID resolves "<slug><&><value>".
func (p *product) findPackageID(id string) (pkg, bool) {
	slug, val, ok := strings.Cut(id, "<&>")
	if !ok || slug != p.seed.Slug {
		return pkg{}, false
	}
	for _, k := range p.packages {
		if k.Value == val || k.Amount.Reduce().String() == val {
			return k, true
		}
	}
	if v, err := money.Parse(val); err == nil && len(val) < 20 {
		return p.findValue(v)
	}
	return pkg{}, false
}

// catalog is the immutable expanded catalogue of one Fake.
type catalog struct {
	products []*product // sorted by popularity desc, slug
	bySlug   map[string]*product
}

func loadCatalog() (*catalog, error) {
	var doc struct {
		Products []seedProduct `json:"products"`
	}
	if err := json.Unmarshal(catalogJSON, &doc); err != nil {
		return nil, fmt.Errorf("fakebitrefill: catalog: %w", err)
	}
	c := &catalog{bySlug: make(map[string]*product, len(doc.Products))}
	for _, s := range doc.Products {
		if _, ok := eurPer(s.Currency); !ok {
			return nil, fmt.Errorf("fakebitrefill: catalog: %s: unknown currency %s", s.Slug, s.Currency)
		}
		p := &product{seed: s, rng: s.Range}
		for _, v := range s.Values {
			a := dec(v)
			ev, ep, up := p.priceFor(a)
			p.packages = append(p.packages, pkg{Value: v, Amount: a, EurValue: ev, EurPrice: ep, UsdPrice: up})
		}
		for _, pl := range s.Plans {
			a := dec(pl.Amount)
			ev, ep, up := p.priceFor(a)
			disp := pl.Value
			p.packages = append(p.packages, pkg{Display: &disp, Value: pl.Value, Amount: a, EurValue: ev, EurPrice: ep, UsdPrice: up})
		}
		c.products = append(c.products, p)
		c.bySlug[s.Slug] = p
	}
	sort.SliceStable(c.products, func(i, j int) bool {
		a, b := c.products[i].seed, c.products[j].seed
		if a.Popularity != b.Popularity {
			return a.Popularity > b.Popularity
		}
		return a.Slug < b.Slug
	})
	return c, nil
}

// num renders d with dp decimals (half up) as a JSON number.
func num(d money.Decimal, dp int) json.Number {
	return json.Number(d.Round(dp, money.HalfUp).String())
}

// cryptoPrices maps payment currencies to the price of usd.
func cryptoPrices(usd money.Decimal) map[string]json.Number {
	out := make(map[string]json.Number)
	for _, cr := range cryptoRates() {
		out[cr.code] = json.Number(quo(usd, dec(cr.usdPrice), cr.decimals).String())
	}
	return out
}

// searchQuery holds parsed /omni parameters.
type searchQuery struct {
	q, country, category, lang string
}

func (c *catalog) search(sq searchQuery) []*product {
	terms := strings.Fields(strings.ToLower(sq.q))
	if len(terms) == 1 && terms[0] == "*" {
		terms = nil
	}
	var out []*product
	for _, p := range c.products {
		s := p.seed
		if sq.country != "" && !slices.Contains(p.countries(), sq.country) {
			continue
		}
		if sq.category != "" {
			if t := productTypeOf(sq.category); t != "" {
				if s.Type != t {
					continue
				}
			} else if !slices.Contains(s.Categories, sq.category) {
				continue
			}
		}
		if sq.lang != "" {
			base, _, _ := strings.Cut(sq.lang, "-")
			if !slices.Contains(s.Languages, base) {
				continue
			}
		}
		hay := strings.ToLower(strings.Join(append([]string{s.Name, s.BaseName, s.Slug, s.Type}, s.Categories...), " "))
		match := true
		for _, t := range terms {
			if !strings.Contains(hay, t) {
				match = false
				break
			}
		}
		if match {
			out = append(out, p)
		}
	}
	return out
}

// priceRangeText renders "_priceRange", e.g. "10 - 200 USD".
func (p *product) priceRangeText() string {
	if p.rng != nil {
		return p.rng.Min + " - " + p.rng.Max + " " + p.seed.Currency
	}
	if len(p.packages) == 0 {
		return ""
	}
	lo, hi := p.packages[0].Amount, p.packages[0].Amount
	for _, k := range p.packages {
		if k.Amount.Cmp(lo) < 0 {
			lo = k.Amount
		}
		if k.Amount.Cmp(hi) > 0 {
			hi = k.Amount
		}
	}
	return lo.Reduce().String() + " - " + hi.Reduce().String() + " " + p.seed.Currency
}

func (p *product) description(lang string) string {
	s := p.seed
	primary := ""
	if len(s.Languages) > 0 {
		primary = s.Languages[0]
	}
	if lang == "en" && s.DescriptionEn != "" {
		return s.DescriptionEn
	}
	if lang == "" || lang == primary || s.DescriptionEn == "" {
		return s.Description
	}
	return s.DescriptionEn
}
