package fakebitrefill

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
	languageRe = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})?$`)
)

// omniItem is one /api/omni product.
type omniItem struct {
	ID                      string      `json:"id"`
	Name                    string      `json:"name"`
	Category                string      `json:"category"`
	Categories              []string    `json:"categories"`
	Countries               []string    `json:"countries"`
	CountryCode             string      `json:"countryCode"`
	Currency                string      `json:"currency"`
	Type                    string      `json:"type"`
	RedemptionMethods       []string    `json:"redemptionMethods"`
	BaseName                string      `json:"baseName"`
	Slug                    string      `json:"slug"`
	Snippet                 string      `json:"snippet"`
	IconPreview             string      `json:"iconPreview"`
	PriceRange              string      `json:"_priceRange,omitempty"`
	RatingValue             float64     `json:"_ratingValue"`
	ReviewCount             int         `json:"_reviewCount"`
	BillCategories          []string    `json:"billCategories"`
	CashbackDisabled        bool        `json:"cashbackDisabled"`
	CashbackPercentage      json.Number `json:"cashbackPercentage"`
	CashbackPercentageFinal json.Number `json:"cashbackPercentageFinal"`
	IsRanged                bool        `json:"isRanged"`
	Range                   *rangeDoc   `json:"range,omitempty"`
	UsageMethods            []string    `json:"usageMethods"`
	USPs                    []string    `json:"usps"`
	OutOfStock              bool        `json:"outOfStock,omitempty"`
	Sandbox                 bool        `json:"sandbox"`
}

type rangeDoc struct {
	Min                  json.Number  `json:"min"`
	Max                  json.Number  `json:"max"`
	Step                 json.Number  `json:"step"`
	CustomerEurPriceRate json.Number  `json:"customerEurPriceRate"`
	CustomerUsdPriceRate json.Number  `json:"customerUsdPriceRate"`
	EurValueRate         json.Number  `json:"eurValueRate"`
	PurchaseFeeEur       *json.Number `json:"purchaseFeeEur"`
	PurchaseFeeUsd       *json.Number `json:"purchaseFeeUsd"`
}

func (p *product) rangeDoc() *rangeDoc {
	if p.rng == nil {
		return nil
	}
	fxText, _ := eurPer(p.seed.Currency)
	fx := dec(fxText)
	return &rangeDoc{
		Min: json.Number(p.rng.Min), Max: json.Number(p.rng.Max), Step: json.Number(p.rng.Step),
		CustomerEurPriceRate: num(fx, 4),
		CustomerUsdPriceRate: json.Number(quo(fx, "0.92", 4).String()),
		EurValueRate:         num(fx, 4),
	}
}

func (p *product) cashback() json.Number {
	switch p.seed.Type {
	case "giftcards":
		return "1.5"
	case "esims":
		return "2"
	}
	return "0"
}

func (p *product) omniItem(lang string) omniItem {
	s := p.seed
	return omniItem{
		ID: s.Slug, Name: s.Name, Category: s.Categories[0], Categories: s.Categories,
		Countries: p.countries(), CountryCode: s.CountryCode, Currency: s.Currency, Type: s.Type,
		RedemptionMethods: s.RedemptionMethods, BaseName: s.BaseName, Slug: s.Slug,
		Snippet:     truncateText(p.description(lang), 160),
		IconPreview: "https://sandbox.invalid/content/product-icons/" + s.Slug + ".png",
		PriceRange:  p.priceRangeText(), RatingValue: s.Rating, ReviewCount: s.ReviewCount,
		BillCategories: []string{}, CashbackPercentage: p.cashback(), CashbackPercentageFinal: p.cashback(),
		IsRanged: p.rng != nil, Range: p.rangeDoc(), UsageMethods: s.RedemptionMethods,
		USPs: []string{"Instant delivery", "Pay with crypto"}, OutOfStock: s.OutOfStock, Sandbox: true,
	}
}

func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// intParam parses an optional numeric query parameter; non-integers are
// floored as the website does with "2.5".
func intParam(v string, def, lo, hi int) (int, bool) {
	if v == "" {
		return def, true
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	n := int(math.Floor(x))
	if x < float64(lo) || x > float64(hi) {
		return 0, false
	}
	return n, true
}

func (f *Fake) handleOmni(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(q.Get("limit"), 25, 0, 1000)
	if !ok {
		http.Error(w, "invalid limit", http.StatusBadRequest)
		return
	}
	if limit == 0 {
		limit = 25
	}
	skip, ok := intParam(q.Get("skip"), 0, 0, 1_000_000)
	if !ok {
		http.Error(w, "invalid skip", http.StatusBadRequest)
		return
	}
	sq := searchQuery{
		q:        strings.TrimSpace(q.Get("q")),
		country:  strings.ToUpper(strings.TrimSpace(q.Get("country"))),
		category: strings.ToLower(strings.TrimSpace(q.Get("category"))),
		lang:     strings.ToLower(strings.TrimSpace(q.Get("hl"))),
	}
	if sq.country != "" && !countryRe.MatchString(sq.country) {
		http.Error(w, "invalid country", http.StatusBadRequest)
		return
	}
	if sq.lang != "" && !languageRe.MatchString(sq.lang) {
		http.Error(w, "invalid language", http.StatusBadRequest)
		return
	}
	matches := f.cat.search(sq)
	cats := map[string][]string{}
	for _, p := range matches {
		for _, c := range p.seed.Categories {
			if !slices.Contains(cats[p.seed.Type], c) {
				cats[p.seed.Type] = append(cats[p.seed.Type], c)
			}
		}
	}
	page := matches[min(skip, len(matches)):]
	page = page[:min(limit, len(page))]
	items := make([]omniItem, 0, len(page))
	for _, p := range page {
		items = append(items, p.omniItem(sq.lang))
	}
	f.mu.Lock()
	omit := f.omitProducts
	f.mu.Unlock()
	body := map[string]any{"totalCount": len(matches), "categories": cats}
	if !omit {
		body["products"] = items
	}
	writeJSON(w, http.StatusOK, body)
}

// productDoc is the /api/product/{id} document (ProductDetailResponse).
type productDoc struct {
	ID                 string             `json:"_id"`
	Slug               string             `json:"slug"`
	Name               string             `json:"name"`
	BaseName           string             `json:"baseName"`
	NoIndex            bool               `json:"noIndex"`
	LogoBackground     string             `json:"logoBackground"`
	LogoForeground     string             `json:"logoForeground"`
	IsLogoSvgPreferred bool               `json:"isLogoSvgPreferred"`
	LogoVersion        int                `json:"logoVersion"`
	LogoImage          string             `json:"logoImage"`
	LogoPreview        string             `json:"logoPreview"`
	IconPreview        string             `json:"iconPreview"`
	IconVersion        int                `json:"iconVersion"`
	IconImage          string             `json:"iconImage"`
	Type               string             `json:"type"`
	Categories         []string           `json:"categories"`
	Stats              map[string]float64 `json:"stats"`
	CountryStat        map[string]float64 `json:"countryStat"`
	CountryCode        string             `json:"countryCode"`
	Countries          []string           `json:"countries"`
	RecipientType      string             `json:"recipientType,omitempty"`
	IsPinBased         bool               `json:"isPinBased"`
	OutOfStock         bool               `json:"outOfStock"`
	Ratings            ratingsDoc         `json:"ratings"`
	Packages           []packageDoc       `json:"packages"`
	Currency           string             `json:"currency"`
	Terms              string             `json:"terms"`
	TermsLink          string             `json:"termsLink"`
	Languages          map[string]bool    `json:"languages"`
	Descriptions       map[string]string  `json:"descriptions"`
	Subtitles          map[string]string  `json:"subtitles"`
	Instructions       map[string]string  `json:"instructions"`
	RedemptionMethods  []string           `json:"redemptionMethods"`
	RelatedX           []relatedDoc       `json:"relatedX"`
	CashbackDisabled   bool               `json:"cashbackDisabled"`
	RatingValue        float64            `json:"_ratingValue"`
	ReviewCount        int                `json:"_reviewCount"`
	PriceRange         string             `json:"_priceRange,omitempty"`
	ExpandedCC         map[string]float64 `json:"_expandedCC"`
	IsRanged           bool               `json:"isRanged"`
	Range              *rangeDoc          `json:"range,omitempty"`
	Sandbox            bool               `json:"sandbox"`
}

type packageDoc struct {
	Display  *string                `json:"display"`
	Value    string                 `json:"value"`
	EurValue json.Number            `json:"eurValue"`
	Amount   json.Number            `json:"amount"`
	EurPrice json.Number            `json:"eurPrice"`
	UsdPrice json.Number            `json:"usdPrice"`
	Prices   map[string]json.Number `json:"prices"`
}

type ratingsDoc struct {
	ReviewCount       int         `json:"reviewCount"`
	RatingValue       float64     `json:"ratingValue"`
	RatingCount       int         `json:"ratingCount"`
	ScoreDistribution []int       `json:"scoreDistribution"`
	Reviews           []reviewDoc `json:"reviews"`
}

type reviewDoc struct {
	ID          string  `json:"id"`
	Content     string  `json:"content"`
	Score       float64 `json:"score"`
	ScoreMax    float64 `json:"scoreMax"`
	AuthorName  string  `json:"authorName"`
	CreatedTime string  `json:"createdTime"`
	Source      string  `json:"source"`
	Author      string  `json:"author"`
}

type relatedDoc struct {
	ID          string    `json:"_id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	LogoImage   string    `json:"logoImage"`
	IconPreview string    `json:"iconPreview"`
	Countries   []string  `json:"countries"`
	Type        string    `json:"type"`
	CountryCode string    `json:"countryCode"`
	Categories  []string  `json:"categories"`
	Currency    string    `json:"currency"`
	PriceRange  string    `json:"_priceRange,omitempty"`
	IsRanged    bool      `json:"isRanged"`
	Range       *rangeDoc `json:"range,omitempty"`
}

func (f *Fake) productDoc(p *product) productDoc {
	s := p.seed
	langs := map[string]bool{}
	for _, l := range s.Languages {
		langs[l] = true
	}
	primary := "en"
	if len(s.Languages) > 0 {
		primary = s.Languages[0]
	}
	descs := map[string]string{primary: s.Description}
	instr := map[string]string{primary: s.Instructions}
	if s.DescriptionEn != "" {
		descs["en"] = s.DescriptionEn
	}
	pkgs := make([]packageDoc, 0, len(p.packages))
	for _, k := range p.packages {
		pkgs = append(pkgs, packageDoc{
			Display: k.Display, Value: k.Value, EurValue: num(k.EurValue, 2), Amount: json.Number(k.Amount.Reduce().String()),
			EurPrice: num(k.EurPrice, 2), UsdPrice: num(k.UsdPrice, 2), Prices: cryptoPrices(k.UsdPrice),
		})
	}
	reviews := make([]reviewDoc, 0, len(s.Reviews)+1)
	seeds := s.Reviews
	if len(seeds) == 0 {
		seeds = []seedReview{{Author: "Sandbox Shopper", Score: 5, Content: "Fast delivery, code worked."}}
	}
	for i, rv := range seeds {
		reviews = append(reviews, reviewDoc{
			ID: s.Slug + "-review-" + strconv.Itoa(i+1), Content: rv.Content, Score: rv.Score, ScoreMax: 5,
			AuthorName: rv.Author, Author: rv.Author, CreatedTime: "2025-03-0" + strconv.Itoa(i%9+1) + "T12:00:00.000Z",
			Source: "sandbox",
		})
	}
	var related []relatedDoc
	for _, o := range f.cat.products {
		if o != p && o.seed.BaseName == s.BaseName && len(related) < 4 {
			related = append(related, relatedDoc{
				ID: o.seed.Slug, Name: o.seed.Name, Slug: o.seed.Slug,
				LogoImage: "sandbox/" + o.seed.Slug, IconPreview: "https://sandbox.invalid/content/product-icons/" + o.seed.Slug + ".png",
				Countries: o.countries(), Type: o.seed.Type, CountryCode: o.seed.CountryCode,
				Categories: o.seed.Categories, Currency: o.seed.Currency, PriceRange: o.priceRangeText(),
				IsRanged: o.rng != nil, Range: o.rangeDoc(),
			})
		}
	}
	if related == nil {
		related = []relatedDoc{}
	}
	countryStat := map[string]float64{}
	for _, c := range p.countries() {
		countryStat[c] = s.Popularity
	}
	return productDoc{
		ID: s.Slug, Slug: s.Slug, Name: s.Name, BaseName: s.BaseName,
		LogoBackground: "#ffffff", LogoForeground: "#000000", LogoVersion: 1,
		LogoImage: "sandbox/" + s.Slug, LogoPreview: "https://sandbox.invalid/content/product-logos/" + s.Slug + ".png",
		IconPreview: "https://sandbox.invalid/content/product-icons/" + s.Slug + ".png", IconVersion: 1,
		IconImage: "sandbox/" + s.Slug + "-icon", Type: s.Type, Categories: s.Categories,
		Stats:       map[string]float64{"popularity": s.Popularity, "packageSize": float64(len(p.packages))},
		CountryStat: countryStat, CountryCode: s.CountryCode, Countries: p.countries(),
		RecipientType: s.RecipientType, IsPinBased: s.IsPinBased, OutOfStock: s.OutOfStock,
		Ratings: ratingsDoc{
			ReviewCount: s.ReviewCount, RatingValue: s.Rating, RatingCount: s.ReviewCount,
			ScoreDistribution: []int{s.ReviewCount / 50, s.ReviewCount / 50, s.ReviewCount / 20, s.ReviewCount / 5, s.ReviewCount * 7 / 10},
			Reviews:           reviews,
		},
		Packages: pkgs, Currency: s.Currency,
		Terms:     "Sandbox product: nothing is delivered and nothing can be redeemed.",
		TermsLink: "https://sandbox.invalid/terms/" + s.Slug,
		Languages: langs, Descriptions: descs, Subtitles: map[string]string{"en": s.Name + " gift card"},
		Instructions: instr, RedemptionMethods: s.RedemptionMethods, RelatedX: related,
		RatingValue: s.Rating, ReviewCount: s.ReviewCount, PriceRange: p.priceRangeText(),
		ExpandedCC: countryStat, IsRanged: p.rng != nil, Range: p.rangeDoc(), Sandbox: true,
	}
}

func (f *Fake) handleProduct(w http.ResponseWriter, r *http.Request) {
	p, ok := f.cat.bySlug[r.PathValue("id")]
	if !ok {
		http.Error(w, "Product not found", http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, f.productDoc(p))
}
