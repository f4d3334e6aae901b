// Package store keeps the server's state behind small interfaces: the
// payments it created and the idempotency records of its create tools.
// SQLite (pure Go) is the default backend; Memory serves tests and
// throw-away runs. Webhook events, nonces and a PostgreSQL backend join the
// same interfaces later.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("store: not found")

// Payment is what the server remembers about a payment it created.
type Payment struct {
	Identifier          string
	Kind                string // "onchain" or "link"
	FiatAmount          string // exact decimal text
	Fiat                string
	InputCurrency       string
	Address             string
	PaymentURI          string
	WebURL              string
	TagMemo             string
	ExpectedInputAmount string // crypto amount, exact decimal text
	Notes               string
	CreatedAt           string // RFC 3339 as the provider sent it
	ExpiresAt           string
	StoredAt            time.Time
}

// Idempotency states.
const (
	IdemPending = "pending" // a create is in flight (or the process died during one)
	IdemDone    = "done"    // the create succeeded; PaymentID is set
	IdemUnknown = "unknown" // the request may have reached the provider but no answer came back
)

// IdemRecord is the state of one idempotency key.
type IdemRecord struct {
	Key       string
	Tool      string
	ArgsHash  string
	State     string
	PaymentID string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Payments persists payment records.
type Payments interface {
	// SavePayment inserts or replaces a payment.
	SavePayment(ctx context.Context, p Payment) error
	// GetPayment returns ErrNotFound when the id is unknown.
	GetPayment(ctx context.Context, id string) (Payment, error)
}

// Idempotency persists idempotency keys.
type Idempotency interface {
	// ClaimIdempotency atomically creates a pending record for key, or returns
	// the existing one. claimed is true only for the caller that created it.
	ClaimIdempotency(ctx context.Context, key, tool, argsHash string, now time.Time) (rec IdemRecord, claimed bool, err error)
	// FinishIdempotency moves a record to done (with paymentID) or unknown.
	FinishIdempotency(ctx context.Context, key, state, paymentID string, now time.Time) error
	// ReleaseIdempotency deletes a pending record whose create definitely did
	// not happen (validation failed, or the provider refused it), so the key
	// can be used again.
	ReleaseIdempotency(ctx context.Context, key string) error
	// PruneIdempotency deletes records created before cutoff.
	PruneIdempotency(ctx context.Context, cutoff time.Time) (int64, error)
}

// Store is everything the server persists.
type Store interface {
	Payments
	Idempotency
	Shop
	Close() error
}
