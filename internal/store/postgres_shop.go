package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// spendLockKey namespaces the per-day advisory locks of ReserveSpend; the
// second key is hashtext(day). Two days that hash alike only share a lock.
const spendLockKey = 0x43_50_4d_02 // "CPM" 2

// ReserveSpend implements Shop. The transaction first takes an advisory
// lock on the day, so reservations of one day run one after the other on
// every replica; the sum it then reads (a new statement, so a new snapshot)
// includes every reservation committed before, and the cap holds.
func (s *Postgres) ReserveSpend(ctx context.Context, sp Spend, capCents int64) (int64, error) {
	if sp.CreatedAt.IsZero() {
		sp.CreatedAt = time.Now()
	}
	created := ms(sp.CreatedAt)
	var used int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, spendLockKey, sp.Day); err != nil {
			return err
		}
		var status *string
		if err := tx.QueryRow(ctx, `SELECT
				(SELECT status FROM shop_spend WHERE invoice_id = $1),
				(SELECT COALESCE(SUM(amount_cents), 0)::bigint FROM shop_spend WHERE day = $2 AND status <> $3)`,
			sp.InvoiceID, sp.Day, SpendReleased).Scan(&status, &used); err != nil {
			return err
		}
		if status != nil && counted(*status) {
			used = 0
			return ErrSpendExists
		}
		if used+sp.AmountCents > capCents {
			return ErrDailyLimit
		}
		// The WHERE guards an active record of this invoice made under
		// another day's lock in the meantime: it is never replaced.
		tag, err := tx.Exec(ctx, `INSERT INTO shop_spend (invoice_id, day, amount_cents, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)
			ON CONFLICT (invoice_id) DO UPDATE SET day = EXCLUDED.day, amount_cents = EXCLUDED.amount_cents,
				status = EXCLUDED.status, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
			WHERE shop_spend.status = $6`,
			sp.InvoiceID, sp.Day, sp.AmountCents, SpendReserved, created, SpendReleased)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			used = 0
			return ErrSpendExists
		}
		return nil
	})
	switch {
	case err == nil:
		return used, nil
	case errors.Is(err, ErrDailyLimit):
		return used, ErrDailyLimit
	case errors.Is(err, ErrSpendExists):
		return 0, ErrSpendExists
	}
	return 0, fmt.Errorf("reserve spend: %w", err)
}

// FinishSpend implements Shop.
func (s *Postgres) FinishSpend(ctx context.Context, invoiceID, status string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE shop_spend SET status = $1, updated_at = $2 WHERE invoice_id = $3`,
		status, ms(now), invoiceID)
	if err != nil {
		return fmt.Errorf("finish spend: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SpentOn implements Shop.
func (s *Postgres) SpentOn(ctx context.Context, day string) (int64, error) {
	var used int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(amount_cents), 0)::bigint FROM shop_spend WHERE day = $1 AND status <> $2`,
		day, SpendReleased).Scan(&used); err != nil {
		return 0, fmt.Errorf("spent on: %w", err)
	}
	return used, nil
}

// GetSpend implements Shop.
func (s *Postgres) GetSpend(ctx context.Context, invoiceID string) (Spend, error) {
	var sp Spend
	err := s.pool.QueryRow(ctx, `SELECT invoice_id, day, amount_cents, status, created_at, updated_at
		FROM shop_spend WHERE invoice_id = $1`, invoiceID).Scan(&sp.InvoiceID, &sp.Day, &sp.AmountCents, &sp.Status, &sp.CreatedAt, &sp.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Spend{}, ErrNotFound
	}
	if err != nil {
		return Spend{}, fmt.Errorf("get spend: %w", err)
	}
	sp.CreatedAt, sp.UpdatedAt = ms(sp.CreatedAt), ms(sp.UpdatedAt)
	return sp, nil
}

// SaveConfirmation implements Shop.
func (s *Postgres) SaveConfirmation(ctx context.Context, c Confirmation) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO shop_confirmations (token_hash, invoice_id, amount_cents, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, c.TokenHash, c.InvoiceID, c.AmountCents, ms(c.CreatedAt), ms(c.ExpiresAt)); err != nil {
		return fmt.Errorf("save confirmation: %w", err)
	}
	// Expired tokens are of no use to anyone; keep the table small.
	_, _ = s.pool.Exec(ctx, `DELETE FROM shop_confirmations WHERE expires_at < $1`, ms(c.CreatedAt.Add(-24*time.Hour)))
	return nil
}

// ConsumeConfirmation implements Shop. The token is taken by one UPDATE
// whose WHERE holds every condition, used_at IS NULL included: of any
// number of concurrent consumers on any replica exactly one matches, and
// the others then read why they lost.
func (s *Postgres) ConsumeConfirmation(ctx context.Context, tokenHash, invoiceID string, amountCents int64, now time.Time) error {
	for range 3 {
		tag, err := s.pool.Exec(ctx, `UPDATE shop_confirmations SET used_at = $1
			WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3 AND invoice_id = $4 AND amount_cents = $5`,
			ms(now), tokenHash, now, invoiceID, amountCents)
		if err != nil {
			return fmt.Errorf("consume confirmation: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var c Confirmation
		var usedAt *time.Time
		err = s.pool.QueryRow(ctx, `SELECT invoice_id, amount_cents, expires_at, used_at FROM shop_confirmations
			WHERE token_hash = $1`, tokenHash).Scan(&c.InvoiceID, &c.AmountCents, &c.ExpiresAt, &usedAt)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("consume confirmation: %w", err)
		}
		c.ExpiresAt = ms(c.ExpiresAt)
		if err := checkConfirmation(found, usedAt != nil, c, invoiceID, amountCents, now); err != nil {
			return err
		}
		// The token looks valid now: it was saved after our UPDATE. Again.
	}
	return &ConfirmationError{Reason: "unknown"}
}

// AppendAudit implements Shop.
func (s *Postgres) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO shop_audit (at, tool, invoice_id, order_id, amount_cents, outcome, code, detail, caller)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, ms(e.At), e.Tool, e.InvoiceID, e.OrderID, e.AmountCents, e.Outcome, e.Code, e.Detail, e.Caller); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit implements Shop.
func (s *Postgres) ListAudit(ctx context.Context) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, at, tool, invoice_id, order_id, amount_cents, outcome, code, detail, caller
		FROM shop_audit ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := row.Scan(&e.Seq, &e.At, &e.Tool, &e.InvoiceID, &e.OrderID, &e.AmountCents, &e.Outcome, &e.Code, &e.Detail, &e.Caller)
		e.At = ms(e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
