package fakebitnovo

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

const (
	maxNotes     = 256
	maxReference = 256
	maxTagMemo   = 64
	maxLanguage  = 10
	maxURL       = 2048
	maxFormParts = 100
)

// maxFiatAmount bounds expected_output_amount (12 digits, like a Django
// DecimalField(max_digits=12, decimal_places=2)).
const maxFiatAmount money.Decimal = "1000000000000"

// createFields are the raw text fields of an E1 request, first value wins.
type createFields map[string]string

func badRequest(code, msg string) *apiError {
	return &apiError{http.StatusBadRequest, code, msg}
}

// parseCreateBody decodes an E1 body: multipart/form-data,
// application/x-www-form-urlencoded or application/json. An empty body
// with no content type is an empty form.
func parseCreateBody(contentType string, body []byte) (createFields, *apiError) {
	mediaType := ""
	var params map[string]string
	if contentType != "" {
		var err error
		mediaType, params, err = mime.ParseMediaType(contentType)
		if err != nil {
			return nil, badRequest("BAD_REQUEST", "Malformed Content-Type header.")
		}
	}
	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return parseJSONFields(body)
	case mediaType == "multipart/form-data":
		return parseMultipartFields(body, params["boundary"])
	case mediaType == "application/x-www-form-urlencoded":
		return parseURLEncodedFields(body)
	case mediaType == "" && len(bytes.TrimSpace(body)) == 0:
		return createFields{}, nil
	case mediaType == "":
		// No content type: guess like a lenient server would.
		if t := bytes.TrimSpace(body); t[0] == '{' {
			return parseJSONFields(body)
		}
		return parseURLEncodedFields(body)
	}
	return nil, &apiError{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
		fmt.Sprintf("Unsupported media type %q in request.", mediaType)}
}

func parseJSONFields(body []byte) (createFields, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, badRequest("PARSE_ERROR", "JSON parse error.")
	}
	if raw == nil {
		return nil, badRequest("PARSE_ERROR", "Expected a JSON object.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("PARSE_ERROR", "JSON parse error: trailing data.")
	}
	f := make(createFields, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case nil:
			// null: treated as absent
		case string:
			f[k] = v
		case json.Number:
			f[k] = v.String()
		default:
			if knownCreateField(k) {
				return nil, badRequest("INVALID_FIELD", k+": Not a valid string.")
			}
			// unknown keys are ignored whatever their type
		}
	}
	return f, nil
}

func knownCreateField(k string) bool {
	switch k {
	case "expected_output_amount", "input_currency", "fiat", "notes", "reference", "language", "tag_memo",
		"merchant_urlok", "merchant_urlko", "merchant_url_standby", "url_ok", "url_ko", "url_standby":
		return true
	}
	return false
}

func parseURLEncodedFields(body []byte) (createFields, *apiError) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("PARSE_ERROR", "Malformed form body.")
	}
	f := make(createFields, len(vals))
	for k, v := range vals {
		if len(v) > 0 {
			f[k] = v[0]
		}
	}
	return f, nil
}

func parseMultipartFields(body []byte, boundary string) (createFields, *apiError) {
	if boundary == "" {
		return nil, badRequest("PARSE_ERROR", "Multipart form parse error: missing boundary.")
	}
	if !bytes.Contains(body, []byte("--"+boundary)) {
		return nil, badRequest("PARSE_ERROR", "Multipart form parse error: boundary not found.")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	f := make(createFields)
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil || n >= maxFormParts {
			return nil, badRequest("PARSE_ERROR", "Multipart form parse error.")
		}
		name := part.FormName()
		v, err := io.ReadAll(part)
		_ = part.Close()
		if err != nil {
			return nil, badRequest("PARSE_ERROR", "Multipart form parse error.")
		}
		if _, seen := f[name]; name != "" && !seen && part.FileName() == "" {
			f[name] = string(v)
		}
	}
}

// createParams is a validated E1 request.
type createParams struct {
	amount                   money.Decimal
	entry                    *catalogEntry // nil: gateway order
	fiat, notes, reference   string
	language, tagMemo        string
	urlOK, urlKO, urlStandby string
}

// first returns the first non-empty value among the given field names.
func (f createFields) first(names ...string) string {
	for _, n := range names {
		if v := f[n]; v != "" {
			return v
		}
	}
	return ""
}

// validateCreate checks an E1 request like the real API: 404 for a missing
// amount, an unknown currency or an amount outside the limits; 400 for
// malformed values.
func (s *Server) validateCreate(f createFields) (createParams, *apiError) {
	var p createParams
	rawAmount := strings.TrimSpace(f["expected_output_amount"])
	if rawAmount == "" {
		return p, &apiError{http.StatusNotFound, "MISSING_REQUIRED_FIELD", "expected_output_amount: This field is required."}
	}
	amount, err := parseAmount(rawAmount)
	switch {
	case err != nil:
		return p, badRequest("INVALID_AMOUNT", "expected_output_amount: A valid number is required.")
	case amount.Sign() <= 0:
		return p, badRequest("INVALID_AMOUNT", "expected_output_amount: Ensure this value is greater than 0.")
	case !amount.FitsScale(2):
		return p, badRequest("INVALID_AMOUNT", "expected_output_amount: Ensure that there are no more than 2 decimal places.")
	case amount.Cmp(maxFiatAmount) >= 0:
		return p, badRequest("INVALID_AMOUNT", "expected_output_amount: Ensure that there are no more than 12 digits in total.")
	}
	p.amount = amount

	p.fiat = f.first("fiat")
	if p.fiat == "" {
		p.fiat = "EUR"
	}
	if !isFiatCode(p.fiat) {
		return p, badRequest("INVALID_FIAT", "fiat: must be a 3-letter upper-case currency code.")
	}

	text := []struct {
		name, value string
		max         int
		dst         *string
	}{
		{"notes", f["notes"], maxNotes, &p.notes},
		{"reference", f["reference"], maxReference, &p.reference},
		{"language", f["language"], maxLanguage, &p.language},
		{"tag_memo", f["tag_memo"], maxTagMemo, &p.tagMemo},
	}
	for _, t := range text {
		if !utf8.ValidString(t.value) || utf8.RuneCountInString(t.value) > t.max {
			return p, badRequest("INVALID_FIELD",
				fmt.Sprintf("%s: Ensure this field is valid text with no more than %d characters.", t.name, t.max))
		}
		*t.dst = t.value
	}
	if p.language == "" {
		p.language = "EN"
	}
	if !isPrintableASCII(p.tagMemo) {
		return p, badRequest("INVALID_FIELD", "tag_memo: must be printable ASCII.")
	}

	urls := []struct {
		names []string
		dst   *string
	}{
		{[]string{"merchant_urlok", "url_ok"}, &p.urlOK},
		{[]string{"merchant_urlko", "url_ko"}, &p.urlKO},
		{[]string{"merchant_url_standby", "url_standby"}, &p.urlStandby},
	}
	for _, u := range urls {
		v := f.first(u.names...)
		if v != "" && !validRedirectURL(v) {
			return p, badRequest("INVALID_URL", u.names[0]+": Enter a valid http(s) URL.")
		}
		*u.dst = v
	}

	if sym := f["input_currency"]; sym != "" {
		e, ok := s.bySymbol[sym]
		if !ok {
			return p, &apiError{http.StatusNotFound, "INVALID_CURRENCY", fmt.Sprintf("Currency %s is not supported", sym)}
		}
		if amount.Cmp(e.min) < 0 {
			return p, &apiError{http.StatusNotFound, "AMOUNT_BELOW_MINIMUM",
				fmt.Sprintf("Amount %s is below minimum %s for this currency", amount.Round(2, money.HalfUp), e.MinAmount)}
		}
		if e.max != "" && amount.Cmp(e.max) > 0 {
			return p, &apiError{http.StatusNotFound, "AMOUNT_ABOVE_MAXIMUM",
				fmt.Sprintf("Amount %s is above maximum %s for this currency", amount.Round(2, money.HalfUp), e.MaxAmount)}
		}
		p.entry = e
	}
	return p, nil
}

func isFiatCode(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func validRedirectURL(s string) bool {
	if len(s) > maxURL {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// random returns the source of ids: Options.Rand, else crypto/rand.
func (s *Server) random() io.Reader {
	if s.opts.Rand != nil {
		return s.opts.Rand
	}
	return rand.Reader
}

// newUUID returns a random version-4 UUID read from r.
func newUUID(r io.Reader) string {
	var b [16]byte
	_, _ = io.ReadFull(r, b[:]) // crypto/rand never fails; a test's seeded reader neither
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0x0f])
	}
	return string(out)
}

// newShortID returns n random alphanumerics read from r.
func newShortID(r io.Reader, n int) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = io.ReadFull(r, b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// createOrder stores a new order. base is the origin for web_url.
func (s *Server) createOrder(p createParams, deviceID, base string) OrderInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync() // ids taken by another process on the same state file
	now := s.now().UTC()
	o := &order{
		id:            newUUID(s.random()),
		reference:     p.reference,
		notes:         p.notes,
		language:      p.language,
		fiat:          p.fiat,
		fiatAmount:    p.amount,
		requestedMemo: p.tagMemo,
		urlOK:         p.urlOK,
		urlKO:         p.urlKO,
		urlStandby:    p.urlStandby,
		status:        StatusNotReady,
		createdAt:     now,
		editedAt:      now,
		expiresAt:     now.Add(s.ttl),
		deviceID:      deviceID,
	}
	for _, taken := s.orders[o.id]; taken; _, taken = s.orders[o.id] {
		o.id = newUUID(s.random())
	}
	o.shortID = newShortID(s.random(), 8)
	for _, taken := s.byShort[o.shortID]; taken; _, taken = s.byShort[o.shortID] {
		o.shortID = newShortID(s.random(), 8)
	}
	o.webURL = base + "/" + o.shortID + "/"
	if p.entry != nil {
		s.assignCurrency(o, p.entry, now)
		o.status = StatusPending
	}
	o.recordStatus(now)
	s.put(o)
	s.save(o)
	return o.info()
}

// handleCreate is E1: POST /api/v1/orders/.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, ro reqOpts, deviceID string) {
	body, aerr := readBody(r)
	if aerr != nil {
		aerr.write(w)
		return
	}
	fields, aerr := parseCreateBody(r.Header.Get("Content-Type"), body)
	if aerr != nil {
		aerr.write(w)
		return
	}
	p, aerr := s.validateCreate(fields)
	if aerr != nil {
		aerr.write(w)
		return
	}
	inf := s.createOrder(p, deviceID, s.baseURL(r))
	writeShaped(w, http.StatusCreated, ro.shape, ShapeBare, createObject(inf, amountsAs(ro.shape)))
}
