package payments

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// OnchainInput are the arguments of create_payment_onchain.
type OnchainInput struct {
	AmountEUR      float64
	InputCurrency  string
	Fiat           string
	Notes          string
	IncludeQR      bool
	IdempotencyKey string
}

// OnchainResult is the output of create_payment_onchain.
type OnchainResult struct {
	Identifier           string  `json:"identifier"`
	Address              string  `json:"address,omitempty"`
	PaymentURI           string  `json:"payment_uri,omitempty"`
	ExpectedOutputAmount string  `json:"expected_output_amount,omitempty" jsonschema:"crypto amount the customer must send (same as expected_input_amount)"`
	ExpectedInputAmount  string  `json:"expected_input_amount,omitempty" jsonschema:"crypto amount the customer must send, exact decimal text"`
	CurrencyID           string  `json:"currency_id"`
	InputCurrency        string  `json:"input_currency"`
	FiatAmount           string  `json:"fiat_amount"`
	FiatCurrency         string  `json:"fiat_currency"`
	TagMemo              string  `json:"tag_memo,omitempty" jsonschema:"memo/destination tag the customer must include (XRP, XLM, ALGO)"`
	ExpiresAt            string  `json:"expires_at,omitempty" jsonschema:"when the payment expires; the timer starts at creation, tell the customer"`
	Status               string  `json:"status,omitempty"`
	QRAddress            string  `json:"qr_address,omitempty" jsonschema:"PNG data URL of a QR code of the address"`
	QRPaymentURI         string  `json:"qr_payment_uri,omitempty" jsonschema:"PNG data URL of a QR code of the payment URI (address and amount)"`
	IdempotentReplay     bool    `json:"idempotent_replay,omitempty" jsonschema:"true when an earlier call with the same idempotency_key created this payment"`
	NotRecorded          string  `json:"not_recorded,omitempty" jsonschema:"set when Bitnovo created the payment but this server could not record it (its store failed): the payment is real and can be paid, but a retry with the same idempotency_key will not find it and the server's QR and resource views lack it"`
	Sandbox              bool    `json:"sandbox,omitempty" jsonschema:"true in sandbox mode: a test payment; real wallets refuse its testnet or deliberately invalid address"`
	Images               []Image `json:"-"`
}

// LinkInput are the arguments of create_payment_link.
type LinkInput struct {
	AmountEUR      float64
	Fiat           string
	URLOK, URLKO   string
	Notes          string
	IncludeQR      bool
	IdempotencyKey string
}

// LinkResult is the output of create_payment_link.
type LinkResult struct {
	Identifier       string  `json:"identifier"`
	WebURL           string  `json:"web_url"`
	FiatAmount       string  `json:"fiat_amount"`
	FiatCurrency     string  `json:"fiat_currency"`
	ExpiresAt        string  `json:"expires_at,omitempty"`
	Status           string  `json:"status,omitempty"`
	QRWebURL         string  `json:"qr_web_url,omitempty" jsonschema:"PNG data URL of a QR code of web_url"`
	IdempotentReplay bool    `json:"idempotent_replay,omitempty" jsonschema:"true when an earlier call with the same idempotency_key created this payment"`
	NotRecorded      string  `json:"not_recorded,omitempty" jsonschema:"set when Bitnovo created the payment but this server could not record it (its store failed): the payment is real and can be paid, but a retry with the same idempotency_key will not find it and the server's QR and resource views lack it"`
	Sandbox          bool    `json:"sandbox,omitempty" jsonschema:"true in sandbox mode: a test payment; its page says so and real wallets refuse its addresses"`
	Images           []Image `json:"-"`
}

const (
	kindOnchain = "onchain"
	kindLink    = "link"
	createQR    = qr.DefaultSize
)

// CreateOnchain creates a payment for a specific cryptocurrency.
func (s *Service) CreateOnchain(ctx context.Context, in OnchainInput) (*OnchainResult, error) {
	amount, err := fiatAmount("amount_eur", in.AmountEUR)
	if err != nil {
		return nil, err
	}
	fiat, err := checkFiat(in.Fiat)
	if err != nil {
		return nil, err
	}
	// "btc", "Bitcoin": the symbol meant, before the idempotency record
	// compares arguments, so a retry written either way is the same call.
	if in.InputCurrency, err = s.catalog.resolve(ctx, in.InputCurrency); err != nil {
		return nil, err
	}
	if !currencyRE.MatchString(in.InputCurrency) {
		return nil, invalidArg("input_currency", "must be an uppercase symbol such as BTC or USDC_ERC20 (see list_currencies_catalog)")
	}
	if err := checkNotes(in.Notes); err != nil {
		return nil, err
	}
	args := map[string]string{"amount": amount, "fiat": fiat, "input_currency": in.InputCurrency, "notes": in.Notes}

	qrJobs := func(p store.Payment) []qrJob {
		if !in.IncludeQR {
			return nil
		}
		var jobs []qrJob
		for _, q := range []struct{ field, data string }{{"qr_address", p.Address}, {"qr_payment_uri", p.PaymentURI}} {
			if q.data != "" {
				jobs = append(jobs, qrJob{field: q.field, data: q.data, logo: cmp.Or(p.InputCurrency, in.InputCurrency), size: createQR, style: qr.StyleBranded, branding: true})
			}
		}
		return jobs
	}
	var early qrPrefetch
	p, replay, err := s.idempotent(ctx, "create_payment_onchain", in.IdempotencyKey, args, func(ctx context.Context) (*bitnovo.CreateOrderRequest, error) {
		cur, list, err := s.catalog.find(ctx, in.InputCurrency)
		if err != nil {
			return nil, mapAPIError(err, "catalog")
		}
		if cur.Symbol == "" {
			symbols := make([]string, len(list))
			for i, c := range list {
				symbols[i] = c.Symbol
			}
			return nil, newError(CodeCurrencyNotSupported, fmt.Sprintf("%s is not a supported currency; use one of supported_currencies (see list_currencies_catalog)", in.InputCurrency),
				map[string]any{"input_currency": in.InputCurrency, "supported_currencies": symbols})
		}
		// The catalog's limits are in EUR; other fiats are checked by Bitnovo.
		if fiat == "EUR" {
			low, high := cur.accepts(amount)
			limits := map[string]any{"input_currency": cur.Symbol, "amount": amount, "fiat": fiat, "min_amount": cur.MinAmount, "max_amount": cur.MaxAmount}
			if low {
				return nil, newError(CodeAmountTooLow, fmt.Sprintf("%s EUR is below the minimum of %s EUR for %s", amount, cur.MinAmount, cur.Symbol), limits)
			}
			if high {
				return nil, newError(CodeAmountTooHigh, fmt.Sprintf("%s EUR is above the maximum of %s EUR for %s", amount, *cur.MaxAmount, cur.Symbol), limits)
			}
		}
		return &bitnovo.CreateOrderRequest{ExpectedOutputAmount: bitnovo.Decimal(amount), InputCurrency: in.InputCurrency, Fiat: fiat, Notes: in.Notes}, nil
	}, early.start(s, qrJobs), kindOnchain, amount, fiat, in.Notes)
	if err != nil {
		return nil, err
	}

	res := &OnchainResult{
		Identifier:           p.Identifier,
		Address:              p.Address,
		PaymentURI:           p.PaymentURI,
		ExpectedOutputAmount: p.ExpectedInputAmount,
		ExpectedInputAmount:  p.ExpectedInputAmount,
		CurrencyID:           cmp.Or(p.InputCurrency, in.InputCurrency),
		InputCurrency:        cmp.Or(p.InputCurrency, in.InputCurrency),
		FiatAmount:           p.FiatAmount,
		FiatCurrency:         p.Fiat,
		TagMemo:              p.TagMemo,
		ExpiresAt:            providerTime(p.ExpiresAt),
		Status:               s.outcomeStatus(ctx, p.Identifier, replay),
		IdempotentReplay:     replay.replayed,
		NotRecorded:          replay.notRecorded,
		Sandbox:              s.sandbox,
	}
	jobs, done := early.result(s, p, qrJobs)
	dst := map[string]*string{"qr_address": &res.QRAddress, "qr_payment_uri": &res.QRPaymentURI}
	for i, d := range done {
		if d.err != nil {
			return nil, d.err
		}
		*dst[jobs[i].field] = d.img.DataURL
		res.Images = append(res.Images, Image{Field: jobs[i].field, PNG: d.img.PNG})
	}
	return res, nil
}

// CreateLink creates a payment link where the customer picks the currency.
func (s *Service) CreateLink(ctx context.Context, in LinkInput) (*LinkResult, error) {
	amount, err := fiatAmount("amount_eur", in.AmountEUR)
	if err != nil {
		return nil, err
	}
	fiat, err := checkFiat(in.Fiat)
	if err != nil {
		return nil, err
	}
	if err := checkNotes(in.Notes); err != nil {
		return nil, err
	}
	if e := checkRedirect("url_ok", in.URLOK); e != nil {
		return nil, e
	}
	if e := checkRedirect("url_ko", in.URLKO); e != nil {
		return nil, e
	}
	args := map[string]string{"amount": amount, "fiat": fiat, "notes": in.Notes, "url_ok": in.URLOK, "url_ko": in.URLKO}
	qrJobs := func(p store.Payment) []qrJob {
		if !in.IncludeQR || p.WebURL == "" {
			return nil
		}
		return []qrJob{{field: "qr_web_url", data: p.WebURL, logo: "bitnovo", size: createQR, style: qr.StyleBranded, branding: true}}
	}
	var early qrPrefetch
	p, replay, err := s.idempotent(ctx, "create_payment_link", in.IdempotencyKey, args, func(context.Context) (*bitnovo.CreateOrderRequest, error) {
		return &bitnovo.CreateOrderRequest{ExpectedOutputAmount: bitnovo.Decimal(amount), Fiat: fiat, Notes: in.Notes, URLOK: in.URLOK, URLKO: in.URLKO}, nil
	}, early.start(s, qrJobs), kindLink, amount, fiat, in.Notes)
	if err != nil {
		return nil, err
	}
	if p.WebURL == "" {
		return nil, newError(CodeUpstream, "Bitnovo created the payment but returned no web_url", map[string]any{"identifier": p.Identifier})
	}
	res := &LinkResult{
		Identifier:       p.Identifier,
		WebURL:           p.WebURL,
		FiatAmount:       p.FiatAmount,
		FiatCurrency:     p.Fiat,
		ExpiresAt:        providerTime(p.ExpiresAt),
		Status:           s.outcomeStatus(ctx, p.Identifier, replay),
		IdempotentReplay: replay.replayed,
		NotRecorded:      replay.notRecorded,
		Sandbox:          s.sandbox,
	}
	if _, done := early.result(s, p, qrJobs); len(done) == 1 {
		if done[0].err != nil {
			return nil, done[0].err
		}
		res.QRWebURL = done[0].img.DataURL
		res.Images = append(res.Images, Image{Field: "qr_web_url", PNG: done[0].img.PNG})
	}
	return res, nil
}

type createOutcome struct {
	replayed    bool
	status      string
	finished    bool   // the idempotency record was committed with the payment
	notRecorded string // the payment exists upstream but the store failed to keep it: why, for the result
}

// notRecordedMessage is what a create result says when the payment could
// not be stored after Bitnovo created it.
const notRecordedMessage = "Bitnovo created this payment but this server could not record it (its store failed); the payment is real: share it, do not create it again. Ask the operator to run cryptopay-mcp doctor"

// paymentDoneStore is implemented by stores that commit a payment and the
// done state of its idempotency key in one transaction (store.SQLite):
// one durable commit instead of two, on the path of every keyed create.
type paymentDoneStore interface {
	SavePaymentDone(ctx context.Context, p store.Payment, key string, now time.Time) error
}

// outcomeStatus is the status a create result shows: Bitnovo's answer to
// the create, or for an idempotent replay the payment's current status
// (asked from Bitnovo, else the latest verified webhook; empty only when
// neither is available).
func (s *Service) outcomeStatus(ctx context.Context, id string, o createOutcome) string {
	if !o.replayed || o.status != "" {
		return o.status
	}
	if info, err := s.api.OrderInfo(ctx, id); err == nil && info.Status != "" {
		return info.Status
	} else if err != nil {
		s.log.Warn("idempotent replay: could not read the payment's status", "error", err)
	}
	if wh := s.lastWebhook(ctx, id); wh != nil {
		return wh.Status
	}
	return ""
}

// prepareFunc validates against the provider's catalog and builds the
// create request; it runs only for a fresh (or key-less) create.
type prepareFunc func(ctx context.Context) (*bitnovo.CreateOrderRequest, error)

// qrPrefetch starts a create's QR codes as soon as the provider has answered,
// so that they are drawn while the payment is being committed (an fsync)
// rather than after it.
type qrPrefetch struct {
	id   string
	jobs []qrJob
	wait func() []qrDone
}

// start returns the hook idempotent calls with the new payment, before
// saving it.
func (q *qrPrefetch) start(s *Service, jobsFor func(store.Payment) []qrJob) func(store.Payment) {
	return func(p store.Payment) {
		q.id, q.jobs = p.Identifier, jobsFor(p)
		q.wait = s.startRenders(q.jobs)
	}
}

// result returns the jobs for p and their outcomes: those started early, or,
// for a replay (nothing was started), drawn now.
func (q *qrPrefetch) result(s *Service, p store.Payment, jobsFor func(store.Payment) []qrJob) ([]qrJob, []qrDone) {
	if q.wait != nil && q.id == p.Identifier {
		return q.jobs, q.wait()
	}
	jobs := jobsFor(p)
	return jobs, s.renderAll(jobs)
}

// idempotent runs a create at most once per idempotency key. Without a key
// it simply creates. With a key it claims the key in the store first, so a
// second call with the same key and arguments returns the stored payment,
// a call with other arguments gets IDEMPOTENCY_CONFLICT, and a call while
// the first is still running waits for it.
//
// onOrder, if not nil, is called with the new payment as soon as the
// provider has created it, before it is saved.
func (s *Service) idempotent(ctx context.Context, tool, key string, args map[string]string, prepare prepareFunc,
	onOrder func(store.Payment), kind, amount, fiat, notes string) (store.Payment, createOutcome, error) {
	create := func() (store.Payment, createOutcome, error) {
		req, err := prepare(ctx)
		if err != nil {
			return store.Payment{}, createOutcome{}, err
		}
		order, err := s.api.CreateOrder(ctx, *req)
		if err != nil {
			return store.Payment{}, createOutcome{}, mapAPIError(err, "create")
		}
		if order.Identifier == "" {
			return store.Payment{}, createOutcome{}, newError(CodeOutcomeUnknown, "Bitnovo answered without a payment identifier", nil)
		}
		p := s.paymentRecord(kind, amount, fiat, notes, order)
		if onOrder != nil {
			onOrder(p)
		}
		if ds, ok := s.store.(paymentDoneStore); ok && key != "" {
			// The order exists upstream whatever happens next: commit with
			// the caller gone too. On failure, the two separate writes below
			// get their chance.
			err := ds.SavePaymentDone(context.WithoutCancel(ctx), p, key, s.now())
			if err == nil {
				return p, createOutcome{status: order.Status, finished: true}, nil
			}
			s.log.Warn("saving the payment with its idempotency record failed; trying separately", "identifier", p.Identifier, "error", err)
		}
		if perr := s.savePayment(ctx, p); perr != nil {
			// The payment is real and is returned, but the result says
			// plainly that nothing was kept (a keyed create's record then
			// cannot point at it either).
			return p, createOutcome{status: order.Status, notRecorded: notRecordedMessage}, nil
		}
		return p, createOutcome{status: order.Status}, nil
	}
	if key == "" {
		// Fail closed: a create that could not be recorded is not sent.
		// (A keyed create proves the store by claiming its key.)
		if err := s.store.Ping(ctx); err != nil {
			return store.Payment{}, createOutcome{}, storeUnavailable(err)
		}
		return create()
	}
	if len(key) > 200 {
		return store.Payment{}, createOutcome{}, invalidArg("idempotency_key", "must be at most 200 characters")
	}
	hash := argsHash(tool, args)
	// The user's key is scoped to its caller: another OAuth caller reusing
	// it gets its own payment, never this one's result.
	caller, userKey := access.CallerFrom(ctx), key
	key = scopedKey(caller, key)
	for {
		rec, claimed, err := s.store.ClaimIdempotency(ctx, key, caller.String(), tool, hash, s.now())
		if err != nil {
			if ctx.Err() != nil {
				return store.Payment{}, createOutcome{}, fmt.Errorf("idempotency store: %w", err)
			}
			return store.Payment{}, createOutcome{}, storeUnavailable(err)
		}
		if claimed {
			p, out, err := create()
			// Record the outcome even if the caller has gone away.
			bg := context.WithoutCancel(ctx)
			var pe *Error
			switch {
			case err == nil && out.finished:
			case err == nil:
				if ferr := s.store.FinishIdempotency(bg, key, store.IdemDone, p.Identifier, s.now()); ferr != nil {
					s.log.Error("could not record idempotency outcome", "error", ferr)
				}
			case errors.As(err, &pe) && pe.Code == CodeOutcomeUnknown:
				if ferr := s.store.FinishIdempotency(bg, key, store.IdemUnknown, "", s.now()); ferr != nil {
					s.log.Error("could not record idempotency outcome", "error", ferr)
				}
			default:
				// Nothing was created: free the key so a corrected call can use it.
				if rerr := s.store.ReleaseIdempotency(bg, key); rerr != nil {
					s.log.Error("could not release idempotency key", "error", rerr)
				}
			}
			return p, out, err
		}
		if rec.Tool != tool || rec.ArgsHash != hash {
			return store.Payment{}, createOutcome{}, newError(CodeIdempotencyConflict,
				"this idempotency_key was already used with different arguments; use a new key for a different payment",
				map[string]any{"idempotency_key": userKey, "first_used_by": rec.Tool, "first_used_at": rec.CreatedAt.UTC().Format(time.RFC3339)})
		}
		switch rec.State {
		case store.IdemDone:
			p, err := s.store.GetPayment(ctx, rec.PaymentID)
			if err != nil {
				return store.Payment{}, createOutcome{}, fmt.Errorf("idempotent replay of %s: %w", rec.PaymentID, err)
			}
			return p, createOutcome{replayed: true}, nil
		case store.IdemUnknown:
			return store.Payment{}, createOutcome{}, newError(CodeOutcomeUnknown,
				"an earlier call with this idempotency_key may have created a payment but its answer was lost; it will not be re-sent. Ask the user before creating a new payment with a new key",
				map[string]any{"idempotency_key": userKey, "first_used_at": rec.CreatedAt.UTC().Format(time.RFC3339)})
		}
		// Pending: another call holds the key. If it has held it longer than
		// any call may run, the process that held it died mid-create.
		if s.now().Sub(rec.CreatedAt) > s.pending {
			if err := s.store.FinishIdempotency(ctx, key, store.IdemUnknown, "", s.now()); err != nil {
				return store.Payment{}, createOutcome{}, fmt.Errorf("idempotency store: %w", err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return store.Payment{}, createOutcome{}, newError(CodeIdempotencyInProgress,
				"another call with this idempotency_key is still running; call again shortly to get its result",
				map[string]any{"idempotency_key": userKey})
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// storeUnavailable is the error of a create refused because the store
// cannot record it; nothing was sent to Bitnovo.
func storeUnavailable(err error) *Error {
	return toolerr.Wrap(err, CodeStoreUnavailable,
		"the payment store is unavailable, so a payment created now could not be recorded; nothing was sent to Bitnovo. Try again later; the operator can run cryptopay-mcp doctor",
		nil)
}

// scopedKey is the stored form of an idempotency key: the key itself for
// the operator's own callers (stdio, the static token, loopback HTTP: the
// records they wrote before callers existed stay valid), prefixed with the
// caller's namespace for OAuth callers.
func scopedKey(c access.Caller, key string) string {
	if ns := c.Namespace(); ns != "" {
		return ns + "\x1e" + key
	}
	return key
}

func argsHash(tool string, args map[string]string) string {
	b, _ := json.Marshal(args) // map keys marshal sorted: stable
	h := sha256.Sum256(append([]byte(tool+"\x00"), b...))
	return hex.EncodeToString(h[:])
}
