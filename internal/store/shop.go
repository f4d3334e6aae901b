package store

import (
	"context"
	"errors"
	"time"
)

// Spend statuses. Reserved, paid and unknown count against the daily cap;
// released does not.
const (
	SpendReserved = "reserved"
	SpendPaid     = "paid"
	SpendUnknown  = "unknown"
	SpendReleased = "released"
)

// Errors of the Shop interface.
var (
	// ErrDailyLimit: the reservation would take the day's total over the cap.
	ErrDailyLimit = errors.New("store: daily spending limit reached")
	// ErrSpendExists: the invoice already has an active (reserved, paid or
	// unknown) spend record; a purchase is never attempted twice.
	ErrSpendExists = errors.New("store: a payment of this invoice was already attempted")
	// ErrConfirmationInvalid: the token is unknown, used, expired, or bound
	// to another invoice or amount. ConfirmationError says which.
	ErrConfirmationInvalid = errors.New("store: confirmation token invalid")
)

// ConfirmationError tells why a confirmation token was refused. It matches
// ErrConfirmationInvalid.
type ConfirmationError struct {
	Reason string // unknown | used | expired | other_invoice | other_amount
}

func (e *ConfirmationError) Error() string { return "store: confirmation token invalid: " + e.Reason }

// Is makes errors.Is(err, ErrConfirmationInvalid) match.
func (e *ConfirmationError) Is(target error) bool { return target == ErrConfirmationInvalid }

// Spend is one payment attempt against the daily cap. Amounts are EUR cents.
type Spend struct {
	InvoiceID   string
	Day         string // UTC day, YYYY-MM-DD
	AmountCents int64
	Status      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Confirmation is a single-use confirmation token, stored by hash.
type Confirmation struct {
	TokenHash   string
	InvoiceID   string
	AmountCents int64
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// AuditEntry is one line of the append-only audit log. It never holds
// redemption codes, PINs or credentials.
type AuditEntry struct {
	Seq         int64
	At          time.Time
	Tool        string
	InvoiceID   string
	OrderID     string
	AmountCents int64
	Outcome     string // e.g. created, quoted, paid, refused, declined, failed, outcome_unknown, unsealed
	Code        string // error code for refusals and failures
	Detail      string
	Caller      string // who made the call (access.Caller.String())
}

// Shop persists what the purchase limits and confirmations need, so a
// restart resets nothing. Every method is safe for concurrent use; a
// PostgreSQL backend implements ReserveSpend with a transaction that locks
// the day (SELECT ... FOR UPDATE on a per-day row, or SERIALIZABLE).
type Shop interface {
	// ReserveSpend atomically checks that the day's counted total plus
	// s.AmountCents stays within capCents and records s as reserved. It
	// returns ErrDailyLimit (nothing recorded) when it would not, and
	// ErrSpendExists when the invoice already has an active record. used is
	// the day's counted total before the reservation.
	ReserveSpend(ctx context.Context, s Spend, capCents int64) (used int64, err error)
	// FinishSpend moves a reserved record to paid, unknown or released.
	FinishSpend(ctx context.Context, invoiceID, status string, now time.Time) error
	// SpentOn returns the counted total (reserved + paid + unknown) of a day.
	SpentOn(ctx context.Context, day string) (int64, error)
	// GetSpend returns ErrNotFound when the invoice has no record.
	GetSpend(ctx context.Context, invoiceID string) (Spend, error)

	// SaveConfirmation stores a new token.
	SaveConfirmation(ctx context.Context, c Confirmation) error
	// ConsumeConfirmation marks the token used if it is unused, unexpired
	// and bound to exactly invoiceID and amountCents; otherwise it returns
	// a *ConfirmationError and leaves the token as it was.
	ConsumeConfirmation(ctx context.Context, tokenHash, invoiceID string, amountCents int64, now time.Time) error

	// AppendAudit appends one entry (Seq and a zero At are filled in).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns every entry in order.
	ListAudit(ctx context.Context) ([]AuditEntry, error)
}
