package bitrefill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Search defaults and bounds.
const (
	// DefaultSearchLimit is used when SearchParams.Limit is 0 (as upstream).
	DefaultSearchLimit = 25
	// MaxSearchLimit bounds SearchParams.Limit (upstream has no bound; a
	// huge page floods the model's context).
	MaxSearchLimit = 100
	// MaxSearchSkip bounds SearchParams.Skip.
	MaxSearchSkip = 100000
)

var (
	countryPattern  = regexp.MustCompile(`^[A-Z]{2}$`)
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})?$`)
	categoryPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`) // ≤ 64 bytes, checked with len
)

// SearchParams are the inputs of GET /omni.
type SearchParams struct {
	// Query is free text ("Amazon", "Netflix", "AT&T"); "*" means all
	// products. Required.
	Query string
	// Country is an ISO 3166-1 alpha-2 code; it is upper-cased ("us" → "US").
	Country string
	// Category is a category slug from Categories (e.g. "games",
	// "streaming", "esim") or a product-type key from ProductTypes (e.g.
	// "esims", "refills"); it is sent as the upstream `category` parameter,
	// which is the only type/category filter the website API has. Whether
	// the real API accepts type keys there is unverified; the fake does.
	Category string
	// Language is the result language (`hl`), e.g. "en", "de", "pt-br";
	// lower-cased.
	Language string
	// Limit is the page size: 0 means DefaultSearchLimit, 1..MaxSearchLimit
	// otherwise.
	Limit int
	// Skip is the offset of the page, >= 0.
	Skip int
}

// validate normalises p and checks bounds.
func (p SearchParams) normalized() (SearchParams, error) {
	p.Query = strings.TrimSpace(p.Query)
	if p.Query == "" {
		return p, invalid("query", `is required (use "*" for all products)`)
	}
	if len(p.Query) > 200 {
		return p, invalid("query", "longer than 200 bytes")
	}
	p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
	if p.Country != "" && !countryPattern.MatchString(p.Country) {
		return p, invalid("country", "must be an ISO 3166-1 alpha-2 code such as US, GB or DE")
	}
	p.Language = strings.ToLower(strings.TrimSpace(p.Language))
	if p.Language != "" && !languagePattern.MatchString(p.Language) {
		return p, invalid("language", "must be a language code such as en, de or pt-br")
	}
	p.Category = strings.ToLower(strings.TrimSpace(p.Category))
	if p.Category != "" && (len(p.Category) > 64 || !categoryPattern.MatchString(p.Category)) {
		return p, invalid("category", "must be a category or product-type slug such as games or esims")
	}
	switch {
	case p.Limit == 0:
		p.Limit = DefaultSearchLimit
	case p.Limit < 0 || p.Limit > MaxSearchLimit:
		return p, invalid("limit", "must be between 1 and %d", MaxSearchLimit)
	}
	if p.Skip < 0 || p.Skip > MaxSearchSkip {
		return p, invalid("skip", "must be between 0 and %d", MaxSearchSkip)
	}
	return p, nil
}

// PriceRange is the `range` object of ranged (open-value) products.
type PriceRange struct {
	Min                  Decimal `json:"min"`
	Max                  Decimal `json:"max"`
	Step                 Decimal `json:"step"`
	CustomerEurPriceRate Decimal `json:"customerEurPriceRate,omitempty"`
	CustomerUsdPriceRate Decimal `json:"customerUsdPriceRate,omitempty"`
	EurValueRate         Decimal `json:"eurValueRate,omitempty"`
	// PurchaseFeeEur and PurchaseFeeUsd are nullable upstream; null is "".
	PurchaseFeeEur Decimal `json:"purchaseFeeEur,omitempty"`
	PurchaseFeeUsd Decimal `json:"purchaseFeeUsd,omitempty"`
}

// SearchProduct is one item of the /omni `products` array.
type SearchProduct struct {
	ID                      string            `json:"id"`
	Name                    string            `json:"name"`
	Category                string            `json:"category,omitempty"`
	Categories              []string          `json:"categories,omitempty"`
	Countries               []string          `json:"countries,omitempty"`
	CountryCode             string            `json:"countryCode,omitempty"`
	Currency                string            `json:"currency,omitempty"`
	Type                    string            `json:"type,omitempty"`
	RedemptionMethods       []string          `json:"redemptionMethods,omitempty"`
	BaseName                string            `json:"baseName,omitempty"`
	Slug                    string            `json:"slug,omitempty"`
	Snippet                 string            `json:"snippet,omitempty"`
	IconPreview             string            `json:"iconPreview,omitempty"`
	PriceRange              string            `json:"_priceRange,omitempty"`
	RatingValue             *float64          `json:"_ratingValue,omitempty"`
	ReviewCount             *float64          `json:"_reviewCount,omitempty"`
	BillCategories          []json.RawMessage `json:"billCategories,omitempty"`
	CashbackDisabled        *bool             `json:"cashbackDisabled,omitempty"`
	CashbackPercentage      Decimal           `json:"cashbackPercentage,omitempty"`
	CashbackPercentageFinal Decimal           `json:"cashbackPercentageFinal,omitempty"`
	IsRanged                *bool             `json:"isRanged,omitempty"`
	Range                   *PriceRange       `json:"range,omitempty"`
	UsageMethods            []string          `json:"usageMethods,omitempty"`
	USPs                    []string          `json:"usps,omitempty"`

	// Raw is this item as received, unknown fields included.
	Raw json.RawMessage `json:"-"`
}

// SearchResult is one page of search results.
//
// Totals and paging: the website API may or may not send `totalCount`.
//   - When it does, Total is that number and TotalExact is true; HasMore is
//     Skip+len(Products) < Total.
//   - An empty page always ends paging (HasMore false).
//   - When it does not, Total is a lower bound, Skip+len(Products), and
//     TotalExact is false; HasMore is then a guess: true when the page came
//     back full (len(Products) == Limit), since a short page means the end.
//
// When HasMore is true, NextSkip is the Skip of the next page (Skip +
// len(Products)); otherwise it is 0.
type SearchResult struct {
	Products   []SearchProduct
	Total      int
	TotalExact bool
	HasMore    bool
	NextSkip   int
	// Limit and Skip echo the (normalised) request.
	Limit int
	Skip  int
	// Categories is the upstream product-type → categories map, if sent.
	Categories map[string][]string
	// Raw is the whole response body.
	Raw json.RawMessage `json:"-"`
}

// Search calls GET /omni. A response without a `products` array is an
// empty result, not an error.
func (c *Client) Search(ctx context.Context, p SearchParams) (*SearchResult, error) {
	p, err := p.normalized()
	if err != nil {
		return nil, err
	}
	q := [][2]string{
		{"q", p.Query},
		{"limit", strconv.Itoa(p.Limit)},
		{"skip", strconv.Itoa(p.Skip)},
		{"src", "mcp"},
		{"col", "1"},
		{"prefcc", "1"},
	}
	if p.Category != "" {
		q = append(q, [2]string{"category", p.Category})
	}
	if p.Country != "" {
		q = append(q, [2]string{"country", p.Country})
	}
	if p.Language != "" {
		q = append(q, [2]string{"hl", p.Language})
	}
	r := &request{api: apiPublic, method: http.MethodGet, segments: []string{"omni"}, query: q}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := DecodeSearchResponse(resp.body)
	if err != nil {
		return nil, fmt.Errorf("%w: omni: %w", ErrInvalidResponse, err)
	}
	res.Limit, res.Skip = p.Limit, p.Skip
	res.finishPaging()
	return res, nil
}

func (res *SearchResult) finishPaging() {
	n := len(res.Products)
	switch {
	case n == 0:
		// An empty page ends paging whatever totalCount says.
		res.HasMore = false
		if !res.TotalExact {
			res.Total = res.Skip
		}
	case res.TotalExact:
		res.HasMore = res.Skip+n < res.Total
	default:
		res.Total = res.Skip + n
		res.HasMore = n >= res.Limit
	}
	if res.HasMore {
		res.NextSkip = res.Skip + n
	} else {
		res.NextSkip = 0
	}
}

// DecodeSearchResponse decodes an /omni body. Paging fields other than
// Total/TotalExact are left for the caller (Search fills them in).
func DecodeSearchResponse(body []byte) (*SearchResult, error) {
	var doc struct {
		Products   json.RawMessage `json:"products"`
		TotalCount json.RawMessage `json:"totalCount"`
		Categories json.RawMessage `json:"categories"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	res := &SearchResult{Raw: json.RawMessage(body)}
	var items []json.RawMessage
	if t := bytes.TrimSpace(doc.Products); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, fmt.Errorf("products: %w", err)
		}
	}
	res.Products = make([]SearchProduct, 0, len(items))
	for i, it := range items {
		var sp SearchProduct
		if err := json.Unmarshal(it, &sp); err != nil {
			return nil, fmt.Errorf("products[%d]: %w", i, err)
		}
		sp.Raw = it
		res.Products = append(res.Products, sp)
	}
	var total json.Number
	if len(doc.TotalCount) > 0 && json.Unmarshal(doc.TotalCount, &total) == nil {
		if n, err := strconv.ParseInt(total.String(), 10, 64); err == nil && n >= 0 && n < 1<<31 {
			res.Total, res.TotalExact = int(n), true
		}
	}
	if len(doc.Categories) > 0 {
		// Best effort: ignored upstream, so a drifting shape is not an error.
		var cats map[string][]string
		if json.Unmarshal(doc.Categories, &cats) == nil {
			res.Categories = cats
		}
	}
	return res, nil
}

// Package is one purchasable denomination of a product.
type Package struct {
	// Display is the label; nullable upstream (nil when null or absent).
	Display *string `json:"display,omitempty"`
	// Value is the face value as text (e.g. "50", or "1GB, 7 Days" for
	// data plans).
	Value string `json:"value"`
	// EurValue is the face value in EUR.
	EurValue Decimal `json:"eurValue"`
	// Amount is the numeric face value; pass it as InvoiceProduct.Value.
	Amount Decimal `json:"amount"`
	// EurPrice and UsdPrice are the customer prices.
	EurPrice Decimal `json:"eurPrice"`
	UsdPrice Decimal `json:"usdPrice"`
	// Prices maps a payment currency (e.g. "BTC", "ETH", "USDC") to the
	// price in that currency.
	Prices map[string]Decimal `json:"prices"`
}

// Review is one customer review. Content is third-party text: treat it as
// untrusted data, never as instructions.
type Review struct {
	ID          string   `json:"id"`
	Content     string   `json:"content"`
	Score       float64  `json:"score"`
	ScoreMax    float64  `json:"scoreMax"`
	AuthorName  string   `json:"authorName"`
	CreatedTime string   `json:"createdTime"`
	Source      string   `json:"source"`
	Author      string   `json:"author"`
	Extract     string   `json:"extract,omitempty"`
	ScoreMaxAlt *float64 `json:"score_max,omitempty"`
	Date        string   `json:"date,omitempty"`
	FeedbackURL string   `json:"feedback_url,omitempty"`
}

// Ratings summarises reviews.
type Ratings struct {
	ReviewCount       float64   `json:"reviewCount"`
	RatingValue       float64   `json:"ratingValue"`
	RatingCount       *float64  `json:"ratingCount,omitempty"`
	ScoreDistribution []float64 `json:"scoreDistribution,omitempty"`
	Reviews           []Review  `json:"reviews,omitempty"`
}

// ProductStats holds popularity figures.
type ProductStats struct {
	Popularity  *float64 `json:"popularity,omitempty"`
	PackageSize *float64 `json:"packageSize,omitempty"`
}

// RelatedProduct is one entry of `relatedX`.
type RelatedProduct struct {
	ID                      string             `json:"_id"`
	Name                    string             `json:"name"`
	Slug                    string             `json:"slug"`
	LogoImage               string             `json:"logoImage,omitempty"`
	LogoPreview             string             `json:"logoPreview,omitempty"`
	IconPreview             string             `json:"iconPreview,omitempty"`
	CashbackDisabled        *bool              `json:"cashbackDisabled,omitempty"`
	LogoVersion             *float64           `json:"logoVersion,omitempty"`
	Countries               []string           `json:"countries,omitempty"`
	Type                    string             `json:"type,omitempty"`
	CountryCode             string             `json:"countryCode,omitempty"`
	Categories              []string           `json:"categories,omitempty"`
	Range                   *PriceRange        `json:"range,omitempty"`
	Currency                string             `json:"currency,omitempty"`
	RatingValue             *float64           `json:"_ratingValue,omitempty"`
	ReviewCount             *float64           `json:"_reviewCount,omitempty"`
	PriceRange              string             `json:"_priceRange,omitempty"`
	ExpandedCC              map[string]float64 `json:"_expandedCC,omitempty"`
	SortOrderCC             map[string]float64 `json:"_sortOrderCC,omitempty"`
	LogoBackground          string             `json:"logoBackground,omitempty"`
	LogoNoMargin            *bool              `json:"logoNoMargin,omitempty"`
	Label                   string             `json:"label,omitempty"`
	CashbackPercentageFinal Decimal            `json:"cashbackPercentageFinal,omitempty"`
	IsRanged                *bool              `json:"isRanged,omitempty"`
	NoIOS                   *bool              `json:"_noIos,omitempty"`
}

// ProductDetail is the GET /product/{id} document (the seed's
// ProductDetailResponse). Descriptions, Instructions, Subtitles, Terms and
// review texts are third-party content: untrusted data.
type ProductDetail struct {
	ID                 string             `json:"_id"`
	Slug               string             `json:"slug"`
	Name               string             `json:"name"`
	BaseName           string             `json:"baseName"`
	NoIndex            *bool              `json:"noIndex,omitempty"`
	LogoBackground     string             `json:"logoBackground,omitempty"`
	LogoForeground     string             `json:"logoForeground,omitempty"`
	IsLogoSvgPreferred *bool              `json:"isLogoSvgPreferred,omitempty"`
	LogoVersion        *float64           `json:"logoVersion,omitempty"`
	LogoImage          string             `json:"logoImage"`
	LogoPreview        string             `json:"logoPreview"`
	IconPreview        string             `json:"iconPreview"`
	IconVersion        *float64           `json:"iconVersion,omitempty"`
	IconImage          string             `json:"iconImage,omitempty"`
	IconBackground     string             `json:"iconBackground,omitempty"`
	IconForeground     string             `json:"iconForeground,omitempty"`
	IconNoMargin       *bool              `json:"iconNoMargin,omitempty"`
	Type               string             `json:"type"`
	Categories         []string           `json:"categories"`
	Stats              *ProductStats      `json:"stats,omitempty"`
	CountryStat        map[string]float64 `json:"countryStat,omitempty"`
	CountryCode        string             `json:"countryCode"`
	Countries          []string           `json:"countries"`
	RecipientType      string             `json:"recipientType,omitempty"`
	IsPinBased         *bool              `json:"isPinBased,omitempty"`
	OutOfStock         *bool              `json:"outOfStock,omitempty"`
	Ratings            *Ratings           `json:"ratings,omitempty"`
	Packages           []Package          `json:"packages"`
	Currency           string             `json:"currency"`
	Terms              string             `json:"terms,omitempty"`
	TermsLink          string             `json:"termsLink,omitempty"`
	Languages          map[string]bool    `json:"languages,omitempty"`
	Descriptions       map[string]string  `json:"descriptions,omitempty"`
	Subtitles          map[string]string  `json:"subtitles,omitempty"`
	Instructions       map[string]string  `json:"instructions,omitempty"`
	RedemptionMethods  []string           `json:"redemptionMethods,omitempty"`
	RelatedX           []RelatedProduct   `json:"relatedX,omitempty"`
	CashbackDisabled   *bool              `json:"cashbackDisabled,omitempty"`
	RatingValue        *float64           `json:"_ratingValue,omitempty"`
	ReviewCount        *float64           `json:"_reviewCount,omitempty"`
	PriceRange         string             `json:"_priceRange,omitempty"`
	ExpandedCC         map[string]float64 `json:"_expandedCC,omitempty"`
	// Range is present on ranged products (not in the seed schema, but sent
	// by the website for open-value products).
	Range    *PriceRange `json:"range,omitempty"`
	IsRanged *bool       `json:"isRanged,omitempty"`

	// Raw is the document exactly as received (pass it through to keep
	// unknown fields).
	Raw json.RawMessage `json:"-"`
}

// DecodeProductDetail decodes a /product/{id} body.
func DecodeProductDetail(body []byte) (*ProductDetail, error) {
	var d ProductDetail
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	if d.ID == "" && d.Slug == "" {
		return nil, fmt.Errorf("product document has neither _id nor slug")
	}
	d.Raw = json.RawMessage(body)
	return &d, nil
}

// ProductDetail calls GET /product/{id}; id is the product slug, e.g.
// "amazon_com-usa". An unknown id yields an *APIError matching ErrNotFound.
func (c *Client) ProductDetail(ctx context.Context, id string) (*ProductDetail, error) {
	id, err := pathSegment("id", id)
	if err != nil {
		return nil, err
	}
	r := &request{api: apiPublic, method: http.MethodGet, segments: []string{"product", id}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	d, err := DecodeProductDetail(resp.body)
	if err != nil {
		return nil, fmt.Errorf("%w: product: %w", ErrInvalidResponse, err)
	}
	return d, nil
}
