// Package store keeps the server's state behind small interfaces: the
// payments it created, the idempotency records of its create tools, the
// shop's spending records, the webhook deliveries with their replay keys
// and the tasks of the MCP Tasks extension.
// SQLite (pure Go) is the default backend; Memory serves tests and
// throw-away runs; PostgreSQL (OpenPostgres) lets several replicas share
// one database.
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
	Caller    string // who claimed it (access.Caller.String())
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
	// ClaimIdempotency atomically creates a pending record for key (made
	// by caller), or returns the existing one. claimed is true only for the
	// call that created it. Keys are global: callers that must not share
	// records put their namespace into the key (internal/payments does).
	ClaimIdempotency(ctx context.Context, key, caller, tool, argsHash string, now time.Time) (rec IdemRecord, claimed bool, err error)
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
	Events
	Tasks
	// Ping reports whether the store can keep what it is given now: the
	// database answers and, for SQLite, its file is still the one opened
	// and not corrupt (ErrUnavailable). /readyz and a create without an
	// idempotency key ask it first.
	Ping(ctx context.Context) error
	Close() error
}

// Event is one webhook delivery as it was received and verified.
type Event struct {
	EventID    string    // "<identifier>:<nonce>" (a "#n" suffix is added if that is taken by another body); always starts with Identifier + ":"
	Identifier string    // payment identifier from the payload
	Status     string    // status from the payload, kept even when unknown
	Nonce      string    // X-NONCE as received ("" for unsigned deliveries without one)
	Validated  bool      // the HMAC signature was verified
	Payload    []byte    // the raw request body, byte for byte
	BodyHash   string    // hex SHA-256 of Payload: the same body is one event
	ReceivedAt time.Time // when the receiver committed it (millisecond precision)
}

// SaveResult says what SaveEvent did.
type SaveResult struct {
	Event     Event // the stored event (the earlier one when Duplicate)
	Duplicate bool  // the same body was already stored; nothing new was written
}

// ErrReplay: the replay key was already recorded and has not expired.
var ErrReplay = errors.New("store: replayed webhook")

// ErrClosed: the store was closed; nothing was written.
var ErrClosed = errors.New("store: closed")

// EventQuery selects events, newest first. All fields are honoured together.
type EventQuery struct {
	Identifier    string // "" = any payment
	ValidatedOnly bool
	Limit         int // <= 0 means 50
}

// EventStats summarises the event store for /stats.
type EventStats struct {
	TotalEvents       int64
	UniqueIdentifiers int64
	ValidatedCount    int64
	UnvalidatedCount  int64
	ReplayKeys        int64      // replay keys held (expired ones go at the next PruneEvents)
	Oldest, Newest    *time.Time // nil when empty
}

// Events persists webhook deliveries and the replay keys that guard them.
type Events interface {
	// SaveEvent records replayKey (valid until replayUntil) and stores e in
	// one transaction, and returns only after it is durably committed.
	// A replay key already present and unexpired gives ErrReplay and writes
	// nothing. A body (BodyHash) already stored gives Duplicate and records
	// only the replay key. Empty replayKey skips the replay check.
	//
	// e.ReceivedAt (time.Now() when zero, truncated to the millisecond) is
	// the clock of the replay check: a key is expired when its replayUntil
	// is not after it, so a caller with an injected clock stays consistent.
	// BodyHash is computed from Payload when empty; a BodyHash that is not
	// the hex SHA-256 of Payload is refused. An empty EventID becomes
	// "<Identifier>:<Nonce>", and one that does not start with
	// Identifier + ":" is refused; if the id is held by another body the
	// stored id gets a "#2", "#3", … suffix. If ctx ends before the event is
	// committed SaveEvent returns ctx.Err() and the event may or may not be
	// stored (a later identical delivery is then a replay or a duplicate).
	SaveEvent(ctx context.Context, e Event, replayKey string, replayUntil time.Time) (SaveResult, error)
	// ListEvents returns up to q.Limit events, newest first, and the total
	// number matching q.
	ListEvents(ctx context.Context, q EventQuery) ([]Event, int, error)
	// LatestEvent returns the newest validated event of a payment or
	// ErrNotFound.
	LatestEvent(ctx context.Context, identifier string) (Event, error)
	// PruneEvents keeps at most maxEvents (0 = no cap) newest events, drops
	// events received before olderThan (zero = no TTL) and replay keys that
	// expired before now. It returns how many events it removed.
	PruneEvents(ctx context.Context, maxEvents int, olderThan, now time.Time) (int64, error)
	// EventStats summarises the store.
	EventStats(ctx context.Context) (EventStats, error)
	// WatchEvents registers fn and returns at once; fn is then called, in
	// commit order, for every event committed (by this process or, for
	// shared backends, by any replica) until ctx ends or the store is
	// closed. Duplicates and replays are not reported. Each watcher has its
	// own goroutine and a bounded queue (WatchQueueSize): a watcher that
	// falls that far behind loses its oldest undelivered events rather than
	// stalling the writer, so fn must not block for long.
	WatchEvents(ctx context.Context, fn func(Event)) error
}
